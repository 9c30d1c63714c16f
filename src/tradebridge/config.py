"""Settings: a TOML file plus `TRADEBRIDGE_*` environment variables (API.md §1).

Precedence, highest first: command-line options, environment, config file, defaults.
Every section is frozen and rejects unknown keys, naming the key and the file.
"""

import os
import tomllib
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from tradebridge.domain.errors import ValidationFailed
from tradebridge.domain.symbols import parse_symbol

ENV_PREFIX = "TRADEBRIDGE_"


class ConfigError(Exception):
    """The configuration cannot be used; the message says which key of which file and why."""


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ServerSettings(Section):
    host: str = "127.0.0.1"
    """Address the web process listens on."""
    port: int = Field(default=8000, ge=1, le=65535)
    workers: int = Field(default=1, ge=1, le=64)
    """Number of web worker processes."""


class DatabaseSettings(Section):
    url: str | None = None
    """SQLAlchemy URL; default `sqlite:///<data_dir>/tradebridge.db`."""
    sqlite_synchronous: Literal["normal", "full"] = "normal"
    """SQLite durability: `normal` survives a killed process, `full` also a power cut."""


class EngineSettings(Section):
    rpc_address: str = "tcp://127.0.0.1:7001"
    """ZeroMQ endpoint of the engine's request socket (ROUTER)."""
    events_address: str = "tcp://127.0.0.1:7002"
    """ZeroMQ endpoint of the engine's event socket (PUB)."""
    rpc_timeout_ms: int = Field(default=5000, ge=50)
    """How long the web waits for one engine call before answering 504 `timeout`."""
    heartbeat_ms: int = Field(default=1000, ge=50)


class AuthSettings(Section):
    jwt_secret: SecretStr | None = None
    """Signing secret; default: generated into `<data_dir>/jwt_secret` (mode 0600)."""
    jwt_algorithm: Literal["HS256", "HS384", "HS512"] = "HS256"
    token_ttl_seconds: int = Field(default=8 * 3600, ge=60)


class ContractRow(Section):
    """An instrument added to, or overriding one of, the paper broker's built-in universe."""

    symbol: str
    name: str | None = None
    currency: str | None = None
    lot_size: int | None = Field(default=None, ge=1)
    tick_size: Decimal | None = Field(default=None, gt=0)
    price_limit_pct: Decimal | Literal["none"] | None = None
    t_plus: Literal[0, 1] | None = None
    multiplier: Decimal | None = Field(default=None, gt=0)
    margin_rate: Decimal | None = Field(default=None, gt=0, le=1)
    pre_close: Decimal | None = Field(default=None, gt=0)

    @field_validator("symbol")
    @classmethod
    def _canonical_symbol(cls, value: str) -> str:
        try:
            return parse_symbol(value)
        except ValidationFailed as exc:  # pydantic reports ValueErrors with the key's path
            raise ValueError(exc.message) from None


def _default_cash() -> dict[str, Decimal]:
    return {"CNY": Decimal(1_000_000), "HKD": Decimal(1_000_000), "USD": Decimal(1_000_000)}


class PaperSettings(Section):
    cash: dict[str, Annotated[Decimal, Field(ge=0)]] = Field(default_factory=_default_cash)
    market: Literal["random_walk", "manual"] = "manual"
    """`manual`: prices move only through the paper API; `random_walk`: a seeded walk."""
    market_hours: Literal["always_open", "exchange"] = "always_open"
    seed: int = 42
    contracts: list[ContractRow] = Field(default_factory=list)


class RiskSettings(Section):
    max_order_qty: int | None = Field(default=None, ge=1)
    max_order_notional: Decimal | None = Field(default=None, gt=0)
    max_orders_per_second: int | None = Field(default=None, ge=1)
    price_band_pct: Decimal | None = Field(default=None, gt=0)
    """A limit price further than this percentage from the last price is refused."""


AccountId = Annotated[str, Field(pattern=r"^[a-z0-9_-]{1,32}$")]


class AccountSettings(Section):
    id: AccountId
    broker: Literal["paper"] = "paper"
    base_currency: str = "CNY"
    httptrading_instance_id: Annotated[str, Field(pattern=r"^\w{16,32}$")] | None = None
    httptrading_tokens: list[Annotated[str, Field(min_length=16, max_length=64)]] = Field(
        default_factory=list
    )
    paper: PaperSettings = Field(default_factory=PaperSettings)
    risk: RiskSettings = Field(default_factory=RiskSettings)


class VnpyCompatSettings(Section):
    enabled: bool = False
    account: str = "paper"
    envelope: bool = True
    language: Literal["zh", "en"] = "zh"


class CompatSettings(Section):
    vnpy: VnpyCompatSettings = Field(default_factory=VnpyCompatSettings)


def _default_accounts() -> list[AccountSettings]:
    return [AccountSettings(id="paper")]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
    )

    data_dir: Path = Path(".tradebridge")
    admin_password: SecretStr | None = None
    """Password of the `admin` user created on first run; random (printed once) if unset."""
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    server: ServerSettings = Field(default_factory=ServerSettings)
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    engine: EngineSettings = Field(default_factory=EngineSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    accounts: list[AccountSettings] = Field(default_factory=_default_accounts)
    compat: CompatSettings = Field(default_factory=CompatSettings)

    @field_validator("accounts")
    @classmethod
    def _unique_account_ids(cls, accounts: list[AccountSettings]) -> list[AccountSettings]:
        seen: set[str] = set()
        for account in accounts:
            if account.id in seen:
                raise ValueError(f"account id {account.id!r} appears twice")
            seen.add(account.id)
        return accounts

    @property
    def database_url(self) -> str:
        return self.database.url or f"sqlite:///{self.data_dir / 'tradebridge.db'}"

    def account(self, account_id: str) -> AccountSettings | None:
        return next((a for a in self.accounts if a.id == account_id), None)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, _ShortEnvSource(settings_cls), env_settings)


_SHORT_ENV_NAMES: dict[str, tuple[str, str]] = {
    "HOST": ("server", "host"),
    "PORT": ("server", "port"),
    "WORKERS": ("server", "workers"),
    "DATABASE_URL": ("database", "url"),
    "JWT_SECRET": ("auth", "jwt_secret"),
    "RPC_ADDRESS": ("engine", "rpc_address"),
    "EVENTS_ADDRESS": ("engine", "events_address"),
}
"""Short environment names for the settings people set most (`TRADEBRIDGE_PORT=9000`)."""


class _ShortEnvSource(PydanticBaseSettingsSource):
    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        raise NotImplementedError  # pragma: no cover - __call__ is overridden

    def __call__(self) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for short, (section, key) in _SHORT_ENV_NAMES.items():
            value = os.environ.get(ENV_PREFIX + short)
            if value is not None:
                found.setdefault(section, {})[key] = value
        return found


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except OSError as exc:
        raise ConfigError(f"config file {path} cannot be read: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None


def _describe(exc: ValidationError, source: str) -> str:
    lines = []
    for error in exc.errors():
        key = ".".join(str(part) for part in error["loc"])
        if error["type"] == "extra_forbidden":
            lines.append(f"{source}: unknown key {key!r}")
        else:
            lines.append(f"{source}: {key}: {error['msg']}")
    return "\n".join(lines)


class _FileSource(PydanticBaseSettingsSource):
    """Values read from the TOML file: the lowest-priority source."""

    def __init__(self, settings_cls: type[BaseSettings], values: dict[str, Any]) -> None:
        super().__init__(settings_cls)
        self._values = values

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        raise NotImplementedError  # pragma: no cover - __call__ is overridden

    def __call__(self) -> dict[str, Any]:
        return self._values


def load_settings(
    config_file: Path | None = None, overrides: dict[str, Any] | None = None
) -> Settings:
    """Build the settings from an optional TOML file, the environment and `overrides`.

    `overrides` holds command-line values as nested dicts (`{"server": {"port": 9000}}`);
    the file defaults to `$TRADEBRIDGE_CONFIG`.
    """
    env_path = os.environ.get(ENV_PREFIX + "CONFIG")
    path = config_file or (Path(env_path) if env_path else None)
    file_values = _read_toml(path) if path else {}

    class _FromFile(Settings):
        @classmethod
        def settings_customise_sources(
            cls,
            settings_cls: type[BaseSettings],
            init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource,
            dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            return (
                init_settings,
                _ShortEnvSource(settings_cls),
                env_settings,
                _FileSource(settings_cls, file_values),
            )

    try:
        return _FromFile(**(overrides or {}))
    except ValidationError as exc:
        source = f"config file {path}" if path else "configuration"
        raise ConfigError(_describe(exc, source)) from None
