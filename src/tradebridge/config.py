"""Settings: a TOML file plus `TRADEBRIDGE_*` environment variables (API.md §1).

Precedence, highest first: command-line options, environment, config file, defaults.
Every section is frozen and rejects unknown keys, naming the key and the file.
"""

import ipaddress
import os
import re
import tomllib
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal, Self

import limits
from pydantic import (
    AfterValidator,
    BeforeValidator,
    Discriminator,
    Field,
    SecretStr,
    Tag,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from tradebridge.brokers.futu.config import FutuSettings, default_base_currency
from tradebridge.brokers.ib.config import IbSettings
from tradebridge.brokers.longport.config import LongportSettings
from tradebridge.brokers.paper.config import PaperSettings
from tradebridge.brokers.qmt.config import QmtSettings
from tradebridge.brokers.tiger.config import TigerSettings
from tradebridge.brokers.vnpy.config import VnpySettings
from tradebridge.domain.enums import TradingState
from tradebridge.domain.money import plain_decimal_input
from tradebridge.sections import Section

ENV_PREFIX = "TRADEBRIDGE_"


class ConfigError(Exception):
    """The configuration cannot be used; the message says which key of which file and why."""


def _proxy_address(value: str) -> str:
    """An IP address or network, as the proxy-headers check compares them."""
    try:
        if "/" in value:
            return str(ipaddress.ip_network(value, strict=False))
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise ValueError(
            f"{value!r} is not an IP address or network (e.g. 127.0.0.1, 10.0.0.0/8, ::1)"
        ) from None


ProxyAddress = Annotated[str, AfterValidator(_proxy_address)]


def _web_workers() -> int:
    """One per CPU but the engine's, at least one."""
    return min(max((os.cpu_count() or 1) - 1, 1), 64)


class ServerSettings(Section):
    host: str = "127.0.0.1"
    """Address the web process listens on."""
    port: int = Field(default=8000, ge=1, le=65535)
    workers: int = Field(default_factory=_web_workers, ge=1, le=64)
    """Number of web worker processes; by default one per CPU but one, which the engine
    takes (the web is stateless; on a machine of 2 cores, 1 worker answered 8-40% more
    orders and reads than 2, at lower p99: bench/README.md)."""
    stream_heartbeat_ms: int = Field(default=15_000, ge=50)
    """WebSocket stream: the server sends `{"type":"ping"}` this often; a client that sends
    nothing for three intervals is closed with code 4408."""
    stream_auth_timeout_ms: int = Field(default=5_000, ge=50)
    """WebSocket stream: how long a new connection has to authenticate (then 4408)."""
    stream_backlog: int = Field(default=10_000, ge=1)
    """WebSocket stream: messages other than quotes waiting for one client (live events held
    back during a resume included) before it is closed with 4409 and must resume."""
    stream_max_symbols: int = Field(default=1_000, ge=1)
    """WebSocket stream: quote symbols one connection may subscribe to."""
    stream_max_connections: int = Field(default=10_000, ge=1)
    """WebSocket stream: authenticated connections per web worker; more are closed with
    1013."""
    stream_max_pending: int = Field(default=256, ge=1)
    """WebSocket stream: connections per web worker waiting for their `auth` message, counted
    apart from `stream_max_connections` (so unauthenticated sockets cannot take the places of
    authenticated ones); more are closed with 1013. Credentials in the upgrade request
    (`?token=`, a header) are checked at once and need no such place."""
    stream_send_buffer: int = Field(default=65_536, ge=4_096)
    """WebSocket stream: bytes the kernel may hold for one client (SO_SNDBUF). Beyond that,
    messages wait in the server's own queues, where quotes are conflated and the backlog
    bound applies (the kernel would otherwise hold megabytes of stale quotes)."""
    trusted_proxies: list[ProxyAddress] = Field(default_factory=list)
    """Reverse proxies whose `X-Forwarded-For` / `X-Forwarded-Proto` are believed: addresses
    or networks (`"127.0.0.1"`, `"10.0.0.0/8"`, `"::1"`). Empty (the default): the client
    address is always the peer's, and those headers are ignored."""
    max_header_bytes: int = Field(default=16_384, ge=1_024, le=1_048_576)
    """HTTP: request line and headers of one request, in bytes; a larger head is answered
    431 and the connection closed before the rest is read."""
    request_read_timeout_ms: int = Field(default=10_000, ge=100)
    """HTTP: a request must arrive whole (request line, headers and body) within this time of
    its first byte (of the connection, for its first request); a slower one is answered 408
    and its connection closed."""
    login_concurrency: int = Field(default=1, ge=1, le=64)
    """Password checks (argon2, 64 MiB and most of the CPU each) run at once per web worker;
    further logins wait in a queue."""
    login_queue: int = Field(default=16, ge=0, le=10_000)
    """Logins that may wait for a password check per web worker; beyond it a login is
    answered 429 `rate_limited` with `Retry-After` at once."""


class DatabaseSettings(Section):
    url: str | None = None
    """SQLAlchemy URL; default `sqlite:///<data_dir>/tradebridge.db`."""
    sqlite_synchronous: Literal["normal", "full"] = "normal"
    """SQLite durability: `normal` survives a killed process, `full` also a power cut."""
    busy_timeout_ms: int = Field(default=2_000, ge=0)
    """SQLite: how long a write waits for another connection's lock before it fails. Keep it
    below `engine.rpc_timeout_ms` and three `engine.heartbeat_ms`, so that a caller whose
    order could not be journaled gets the clear 503 rather than a timeout."""


class EngineSettings(Section):
    rpc_address: str | None = None
    """ZeroMQ endpoint of the engine's request socket (ROUTER): the engine binds it, the web
    connects to it. Unset: `ipc://<data_dir>/link/rpc`, private to the instance (where there
    are no ipc sockets, `tradebridge serve` picks a free loopback port). Other than loopback
    (127.0.0.1, ::1, localhost, ipc://, inproc://), the `curve_*` keys must be set."""
    events_address: str | None = None
    """ZeroMQ endpoint of the engine's event socket (PUB); unset: `ipc://<data_dir>/link/events`
    (as `rpc_address`). Loopback unless the `curve_*` keys are set."""
    rpc_timeout_ms: int = Field(default=5000, ge=50)
    """How long the web waits for one engine call before answering 504 `timeout`; it is also
    the call's deadline: the engine never starts a call later than this."""
    heartbeat_ms: int = Field(default=1000, ge=50)
    event_retention_days: int = Field(default=7, ge=0)
    """Account events older than this are deleted (hourly), except each account's last one;
    a WebSocket client can resume only from within this window. 0 keeps them forever."""
    curve_secret_key: Path | None = None
    """Engine side of CURVE: the engine's key pair, a secret certificate file
    (`engine.key_secret`, from `tradebridge rpc-keys`); only web processes whose public key is
    in `curve_authorized_keys` get answers or events. Unset (all four `curve_*` unset): the
    keys of `<data_dir>/curve/`, generated on first use."""
    curve_authorized_keys: Path | None = None
    """Engine side of CURVE: a directory of the public certificate files (`*.key`) of the web
    processes allowed to connect; it is read when the engine starts."""
    curve_server_key: Path | None = None
    """Web side of CURVE: the engine's public certificate file (`engine.key`)."""
    curve_client_secret_key: Path | None = None
    """Web side of CURVE: the web's own key pair, a secret certificate file (`web.key_secret`)
    whose public key is in the engine's `curve_authorized_keys`."""

    @property
    def curve_configured(self) -> bool:
        """Whether any CURVE key is set: then each end of the link needs its own."""
        keys = (
            self.curve_secret_key,
            self.curve_authorized_keys,
            self.curve_server_key,
            self.curve_client_secret_key,
        )
        return any(key is not None for key in keys)

    @property
    def loopback_only(self) -> bool:
        """Whether both addresses stay on this host (unset ones are the private defaults)."""
        return all(
            address is None or _is_loopback(address)
            for address in (self.rpc_address, self.events_address)
        )

    @model_validator(mode="after")
    def _curve_beyond_loopback(self) -> Self:
        for first, second in (
            ("curve_secret_key", "curve_authorized_keys"),
            ("curve_server_key", "curve_client_secret_key"),
        ):
            if (getattr(self, first) is None) != (getattr(self, second) is None):
                raise PydanticCustomError(
                    "curve_keys_incomplete",
                    "{first} and {second} are set together or not at all",
                    {"first": first, "second": second},
                )
        if not self.curve_configured:
            for name in ("rpc_address", "events_address"):
                address = getattr(self, name)
                if address is not None and not _is_loopback(address):
                    raise PydanticCustomError(
                        "engine_link_not_secured",
                        "{name} '{address}' is not a loopback address, so the engine link "
                        "needs CURVE: set curve_secret_key and curve_authorized_keys for the "
                        "engine, curve_server_key and curve_client_secret_key for the web "
                        "(`tradebridge rpc-keys` makes the keys)",
                        {"name": name, "address": address},
                    )
        return self


def _is_loopback(address: str) -> bool:
    """Whether a ZeroMQ endpoint stays on this host: `ipc://`, `inproc://`, or TCP on a
    loopback address (`tcp://127.0.0.1:7001`, `tcp://[::1]:7001`, `tcp://localhost:7001`).
    A wildcard (`*`, `0.0.0.0`), an interface name or another host is not."""
    transport, _, rest = address.partition("://")
    if transport in ("ipc", "inproc"):
        return True
    if transport != "tcp":
        return False
    host = rest.rpartition(":")[0].rpartition(";")[2]  # "[source;]host:port" on connect
    host = host.removeprefix("[").removesuffix("]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


MIN_JWT_SECRET_LENGTH = 32


class AuthSettings(Section):
    jwt_secret: SecretStr | None = None
    """Signing secret, 32 characters or more; default: generated into `<data_dir>/jwt_secret`
    (mode 0600), which `tradebridge secret rotate` replaces. A configured one wins over the
    file; rotating it means changing it here and restarting the web processes."""
    jwt_algorithm: Literal["HS256", "HS384", "HS512"] = "HS256"
    """The only algorithm tokens may be signed with; any other (`none` included) is refused."""
    token_ttl_seconds: int = Field(default=8 * 3600, ge=60)
    """How long a login token is valid."""

    @field_validator("jwt_secret")
    @classmethod
    def _long_enough(cls, secret: SecretStr | None) -> SecretStr | None:
        if secret is not None and len(secret.get_secret_value()) < MIN_JWT_SECRET_LENGTH:
            raise ValueError(
                f"must be at least {MIN_JWT_SECRET_LENGTH} characters (a guessable secret lets "
                "anyone sign tokens); leave it unset to have one generated"
            )
        return secret


Count = Annotated[int, Field(strict=True, ge=1, le=10**12)]
Notional = Annotated[
    Decimal,
    BeforeValidator(plain_decimal_input),
    Field(gt=0, le=10**18, decimal_places=8, allow_inf_nan=False),
]
Percentage = Annotated[
    Decimal,
    BeforeValidator(plain_decimal_input),
    Field(gt=0, le=10_000, decimal_places=8, allow_inf_nan=False),
]


class RiskSettings(Section):
    """Pre-trade limits of one account (`[accounts.risk]`; unset: no limit) and its trading
    state. `PUT /accounts/{id}/risk` changes them at run time; changes are stored and win over
    these values. Notionals are price x qty x multiplier in the instrument's currency, at the
    order's limit price (a market order: the last price)."""

    max_order_qty: Count | None = None
    """Largest quantity of one order."""
    max_order_notional: Notional | None = None
    """Largest notional of one order."""
    max_orders_per_second: Count | None = None
    """Orders accepted on the account within any one second."""
    max_open_orders: Count | None = None
    """Orders open on the account at once (a new one is refused at this count)."""
    price_band_pct: Percentage | None = None
    """A limit price further than this percentage from the last price is refused."""
    max_position_notional: Notional | None = None
    """Largest value of one symbol's position (per side for futures) if the order and the
    account's other working orders that add to it all filled."""
    trading_state: TradingState = TradingState.ACTIVE
    """`active`; `reducing`: only orders that reduce a position; `halted`: no new orders
    (cancels still work)."""


AccountId = Annotated[str, Field(pattern=r"^[a-z0-9_-]{1,32}$")]


class AccountBase(Section):
    """What every `[[accounts]]` entry has, whatever its broker. The broker's own settings sit
    in the table named after it (`[accounts.paper]`, `[accounts.qmt]`, ...), defined in the
    broker's folder (`brokers/<name>/config.py`)."""

    id: AccountId
    broker: str
    base_currency: str = "CNY"
    httptrading_instance_id: Annotated[str, Field(pattern=r"^\w{16,32}$")] | None = None
    httptrading_tokens: list[Annotated[str, Field(min_length=16, max_length=64)]] = Field(
        default_factory=list
    )
    risk: RiskSettings = Field(default_factory=RiskSettings)
    resubmit_within_s: Annotated[float, Field(ge=0)] = 300.0
    """At start, an order a previous run journaled but the broker never received is sent if
    it is at most this old; older ones (and all with 0) expire instead."""


class PaperAccount(AccountBase):
    broker: Literal["paper"] = "paper"
    paper: PaperSettings = Field(default_factory=PaperSettings)


class IbAccount(AccountBase):
    broker: Literal["ib"] = "ib"
    ib: IbSettings = Field(default_factory=IbSettings)


class VnpyAccount(AccountBase):
    broker: Literal["vnpy"] = "vnpy"
    vnpy: VnpySettings


class FutuAccount(AccountBase):
    broker: Literal["futu"] = "futu"
    futu: FutuSettings = Field(default_factory=FutuSettings)

    _currency_of_market = model_validator(mode="before")(default_base_currency)


class TigerAccount(AccountBase):
    broker: Literal["tiger"] = "tiger"
    base_currency: str = "USD"
    tiger: TigerSettings


class LongportAccount(AccountBase):
    broker: Literal["longport"] = "longport"
    base_currency: str = "HKD"
    longport: LongportSettings


class QmtAccount(AccountBase):
    """MiniQMT through xtquant (`pip install 'tradebridge[qmt]'`; the engine runs on the
    Windows host beside MiniQMT)."""

    broker: Literal["qmt"] = "qmt"
    qmt: QmtSettings


BROKER_NAMES = ("paper", "ib", "vnpy", "futu", "tiger", "longport", "qmt")
"""The `broker` values an account may name (one folder each under `brokers/`)."""


def _broker_of(value: Any) -> str:
    """The `broker` of an account entry; an entry without one is a paper account."""
    if isinstance(value, dict):
        return str(value.get("broker", "paper"))
    return str(getattr(value, "broker", "paper"))


AccountSettings = Annotated[
    Annotated[PaperAccount, Tag("paper")]
    | Annotated[IbAccount, Tag("ib")]
    | Annotated[VnpyAccount, Tag("vnpy")]
    | Annotated[FutuAccount, Tag("futu")]
    | Annotated[TigerAccount, Tag("tiger")]
    | Annotated[LongportAccount, Tag("longport")]
    | Annotated[QmtAccount, Tag("qmt")],
    Discriminator(
        _broker_of,
        custom_error_type="unknown_broker",
        custom_error_message=f"unknown broker; known brokers: {', '.join(BROKER_NAMES)}",
    ),
]
"""One `[[accounts]]` entry: the settings class of its `broker` (a union discriminated on
`broker`, one member per broker folder)."""


class DialectSettings(Section):
    """What every dialect trading one account has."""

    enabled: bool = False
    account: str = "paper"
    """The account its orders, positions, balance (and pushes) are of; it must be
    configured."""


class VnpyCompatSettings(DialectSettings):
    """The vnpy WebTrader dialect (`[compat.vnpy]`): vnpy_webtrader's routes at the root."""

    envelope: bool = True
    """`{"data": ...}` around every result but `/token`, as the WebTrader docs show; false:
    bare results, exactly as vnpy_webtrader 1.1."""
    language: Literal["zh", "en"] = "zh"
    """Enum values in responses: vnpy's Chinese (多, 限价, 未成交) or its English locale
    (Long, Limit, Not Traded). Requests may use either."""


def _route_prefix(value: str) -> str:
    """A path prefix of plain segments: `/api/v1/trading`, `/xtquant/trade`."""
    if not re.fullmatch(r"(/[A-Za-z0-9._~-]+)+", value):
        raise ValueError(
            f"{value!r} is not a path prefix: write one or more /segments, e.g. /xtquant/trade "
            "(no trailing slash)"
        )
    return value


RoutePrefix = Annotated[str, AfterValidator(_route_prefix)]


class QmtServiceCompatSettings(DialectSettings):
    """The MiniQMT HTTP service dialect (`[compat.qmt_service]`): the routes of document 001's
    FastAPI QMT backend under `prefix`."""

    prefix: RoutePrefix = "/api/v1/trading"


class XtquantHttpCompatSettings(DialectSettings):
    """The xtquant HTTP wrapper dialect (`[compat.xtquant_http]`): the routes of document
    003's Sanic wrapper over XtQuantTrader under `prefix`."""

    prefix: RoutePrefix = "/xtquant/trade"


class CompatSettings(Section):
    vnpy: VnpyCompatSettings = Field(default_factory=VnpyCompatSettings)
    qmt_service: QmtServiceCompatSettings = Field(default_factory=QmtServiceCompatSettings)
    xtquant_http: XtquantHttpCompatSettings = Field(default_factory=XtquantHttpCompatSettings)

    @model_validator(mode="after")
    def _distinct_prefixes(self) -> Self:
        qmt, xt = self.qmt_service, self.xtquant_http
        if qmt.enabled and xt.enabled and qmt.prefix == xt.prefix:
            raise ValueError(
                f"qmt_service.prefix and xtquant_http.prefix are both {qmt.prefix!r}; "
                "give the two dialects different prefixes"
            )
        return self


def _rate_limit(value: str) -> str:
    """A rate in the notation of the `limits` library: "100/second", "600 per minute"."""
    try:
        limits.parse(value)
    except ValueError:
        raise ValueError(
            f'{value!r} is not a rate; write e.g. "100/second" or "600/minute"'
        ) from None
    return value


RateText = Annotated[str, AfterValidator(_rate_limit)]


class RateLimitSettings(Section):
    """Request rate limits of the web (`[rate_limits]`). Each web worker process counts for
    itself: with `server.workers = N` a caller may get up to N times these rates."""

    enabled: bool = True
    api: RateText = "2000/second"
    """Requests of one caller: per API key, else per logged-in user, else per client address.
    The health check, `/metrics`, the API docs and the browser page's files are not counted.
    The defaults are ceilings against runaway clients, above what a busy strategy sends."""
    orders: RateText = "1000/second"
    """Orders placed on one account (`POST /api/v1/accounts/{id}/orders`), whoever places
    them; counted on top of `api`."""


class MetricsSettings(Section):
    """Prometheus metrics at `GET /metrics` (`[metrics]`)."""

    enabled: bool = True
    token: Annotated[SecretStr, Field(min_length=16)] | None = None
    """A bearer token a scraper may send instead of an admin's token or API key."""


class HostedStrategySettings(Section):
    """A strategy the engine runs as a child process (`[[strategies]]`): `tradebridge
    strategy run FILE` on `account`, restarted when it dies, listed at `GET
    /api/v1/strategies` and started or stopped there by admins."""

    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,32}$")]
    """The strategy's name here, in the API and in its client_order_ids (it replaces the
    one of the class)."""
    file: Path
    """The strategy's Python file (relative: to the directory the engine runs in)."""
    account: AccountId
    class_name: str | None = None
    """The `Strategy` subclass to run, where the file defines several."""
    user: str = "admin"
    """Owner of the API key the strategy trades with (scopes read and trade, bound to
    `account`); the engine creates it and keeps it in `<data_dir>/strategies/`."""
    autostart: bool = True
    """Start it with the engine (until stopped through the API, which is remembered)."""
    url: str | None = None
    """Where the strategy reaches the API; default: this config's `[server]`."""


def _default_accounts() -> list[AccountSettings]:
    return [PaperAccount(id="paper")]


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
    access_log: bool = True
    """One log line per HTTP request: client, method, path (secrets in the query string
    redacted), status, duration, caller and request id."""
    server: ServerSettings = Field(default_factory=ServerSettings)
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    engine: EngineSettings = Field(default_factory=EngineSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    accounts: list[AccountSettings] = Field(default_factory=_default_accounts)
    compat: CompatSettings = Field(default_factory=CompatSettings)
    rate_limits: RateLimitSettings = Field(default_factory=RateLimitSettings)
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)
    strategies: list[HostedStrategySettings] = Field(default_factory=list)

    @field_validator("accounts", mode="before")
    @classmethod
    def _known_brokers(cls, accounts: Any) -> Any:
        """Name an unknown `broker` before the union reports it without its value."""
        for index, account in enumerate(accounts if isinstance(accounts, list) else []):
            broker = account.get("broker", "paper") if isinstance(account, dict) else None
            if isinstance(broker, str) and broker not in BROKER_NAMES:
                raise PydanticCustomError(
                    "unknown_broker",
                    "accounts.{index}.broker: unknown broker '{broker}'; known brokers: {known}",
                    {"index": index, "broker": broker, "known": ", ".join(BROKER_NAMES)},
                )
        return accounts

    @field_validator("accounts")
    @classmethod
    def _unique_account_ids(cls, accounts: list[AccountSettings]) -> list[AccountSettings]:
        if not accounts:
            raise ValueError("configure at least one account")
        seen: set[str] = set()
        instances: set[str] = set()
        for account in accounts:
            if account.id in seen:
                raise ValueError(f"account id {account.id!r} appears twice")
            seen.add(account.id)
            instance = account.httptrading_instance_id
            if instance in instances:
                raise ValueError(f"httptrading_instance_id {instance!r} appears twice")
            if instance is not None:
                instances.add(instance)
        return accounts

    @field_validator("accounts")
    @classmethod
    def _vnpy_gateways(
        cls, accounts: list[AccountSettings], info: ValidationInfo
    ) -> list[AccountSettings]:
        """Each vnpy account's gateway name (unique: vnpy's ids and flow folders carry it) and
        trader dir (one per engine: vnpy keeps it in a module global), with their defaults."""
        data_dir: Path = info.data.get("data_dir", Path(".tradebridge"))
        resolved: list[AccountSettings] = []
        names: dict[str, str] = {}
        trader_dirs: set[Path] = set()
        for account in accounts:
            if isinstance(account, VnpyAccount):
                vnpy = account.vnpy
                name = vnpy.gateway_name or account.id.upper().replace("-", "_")
                trader_dir = (vnpy.trader_dir or data_dir / "vnpy").absolute()
                if name.lower() in names:
                    raise ValueError(
                        f"accounts {names[name.lower()]!r} and {account.id!r} have the same "
                        f"vnpy gateway_name {name!r}; give each its own"
                    )
                names[name.lower()] = account.id
                trader_dirs.add(trader_dir)
                update = {"gateway_name": name, "trader_dir": trader_dir}
                account = account.model_copy(update={"vnpy": vnpy.model_copy(update=update)})
            resolved.append(account)
        if len(trader_dirs) > 1:
            raise ValueError(
                "the vnpy accounts name different trader_dir values; vnpy has one per process"
            )
        return resolved

    @field_validator("compat")
    @classmethod
    def _dialect_accounts_configured(
        cls, compat: CompatSettings, info: ValidationInfo
    ) -> CompatSettings:
        accounts = {a.id for a in info.data.get("accounts", [])}
        dialects: dict[str, DialectSettings] = {
            "vnpy": compat.vnpy,
            "qmt_service": compat.qmt_service,
            "xtquant_http": compat.xtquant_http,
        }
        for name, dialect in dialects.items():
            if dialect.enabled and accounts and dialect.account not in accounts:
                raise PydanticCustomError(
                    "unknown_account",
                    "{dialect}.account: no account '{account}' is configured",
                    {"dialect": name, "account": dialect.account},
                )
        return compat

    @field_validator("strategies")
    @classmethod
    def _strategies_on_known_accounts(
        cls, strategies: list[HostedStrategySettings], info: ValidationInfo
    ) -> list[HostedStrategySettings]:
        accounts = {a.id for a in info.data.get("accounts", [])}
        names: set[str] = set()
        for strategy in strategies:
            if strategy.name in names:
                raise ValueError(f"strategy name {strategy.name!r} appears twice")
            names.add(strategy.name)
            if accounts and strategy.account not in accounts:
                raise PydanticCustomError(
                    "unknown_account",
                    "strategies: {name} runs on account '{account}', which is not configured",
                    {"name": strategy.name, "account": strategy.account},
                )
        return strategies

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


def _key_of(loc: tuple[int | str, ...]) -> str:
    """The config key of an error's location, without the broker tag pydantic puts in after
    `accounts.N` (the account union is discriminated on `broker`)."""
    parts = list(loc)
    if len(parts) > 2 and parts[0] == "accounts" and parts[2] in BROKER_NAMES:
        del parts[2]
    return ".".join(str(part) for part in parts)


def _describe(exc: ValidationError, source: str) -> str:
    lines = []
    for error in exc.errors():
        key = _key_of(error["loc"])
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
