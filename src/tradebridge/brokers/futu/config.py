"""Settings of a `futu` account: the `[accounts.futu]` table (API.md §7). Imports no SDK.

OpenD, Futu's gateway, runs beside tradebridge and logs in to Futu; tradebridge talks to it
on `host:port`. The unlock password of real trading is read from an owner-only file."""

from typing import Any, Literal, Protocol, Self

from pydantic import Field, field_validator, model_validator

from tradebridge.sections import SecretFile, Section

TrdEnv = Literal["simulate", "real"]
TrdMarket = Literal["HK", "US", "CN", "HKCC"]

MARKET_CURRENCY: dict[str, str] = {"HK": "HKD", "US": "USD", "CN": "CNY", "HKCC": "CNY"}
"""The currency an account of each `trd_market` counts in, unless `base_currency` says."""

_ENVIRONMENTS: dict[str, frozenset[str]] = {
    "HK": frozenset({"simulate", "real"}),
    "US": frozenset({"simulate", "real"}),
    "CN": frozenset({"simulate"}),  # A-shares: paper trading only
    "HKCC": frozenset({"real"}),  # A-shares through Stock Connect: real accounts only
}


class FutuSettings(Section):
    host: str = "127.0.0.1"
    """Where OpenD listens (its API port, not the Telnet one)."""
    port: int = Field(default=11111, ge=1, le=65535)
    trd_env: TrdEnv = "simulate"
    trd_market: TrdMarket = "HK"
    acc_id: int = Field(default=0, ge=0)
    """The Futu account to trade; 0: the first account of `trd_env` with `trd_market`."""
    unlock_password_file: SecretFile | None = None
    """Real trading: an owner-only file holding the trade unlock password."""
    request_timeout_s: float = Field(default=15.0, gt=0, le=120)
    """How long one SDK call may take (the SDK gives up on an unanswered request after 12 s)."""

    @field_validator("unlock_password_file", mode="before")
    @classmethod
    def _empty_is_none(cls, value: Any) -> Any:
        return None if value == "" else value

    @model_validator(mode="after")
    def _environment_fits(self) -> Self:
        if self.trd_env not in _ENVIRONMENTS[self.trd_market]:
            raise ValueError(
                f"trd_market {self.trd_market} has no {self.trd_env} trading at Futu "
                f"(it has: {', '.join(sorted(_ENVIRONMENTS[self.trd_market]))})"
            )
        if self.trd_env == "real" and self.unlock_password_file is None:
            raise ValueError(
                "trd_env real needs unlock_password_file: a file (chmod 600) holding the "
                "trade unlock password"
            )
        return self


class FutuAccountSettings(Protocol):
    """What `create` reads of the account (`config.FutuAccount`)."""

    @property
    def id(self) -> str: ...

    @property
    def base_currency(self) -> str: ...

    @property
    def futu(self) -> FutuSettings: ...


def default_base_currency(values: Any) -> Any:
    """An `[[accounts]]` entry of broker futu without `base_currency` counts in the currency
    of its `trd_market` (HKD for HK, USD for US, CNY for the A-share markets)."""
    if isinstance(values, dict) and "base_currency" not in values:
        table = values.get("futu") or {}
        market = table.get("trd_market", "HK") if isinstance(table, dict) else "HK"
        return {**values, "base_currency": MARKET_CURRENCY.get(str(market), "HKD")}
    return values
