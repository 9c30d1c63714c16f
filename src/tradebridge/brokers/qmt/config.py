"""Settings of a `qmt` account: the `[accounts.qmt]` table (API.md §7). Imports no SDK.

MiniQMT runs on the Windows host, logged in to the broker; the engine runs beside it and talks
to it through xtquant. MiniQMT holds the login, so no secret is configured here."""

from typing import Literal, Protocol

from pydantic import Field, field_validator

from tradebridge.sections import Section


class QmtSettings(Section):
    userdata_path: str = Field(min_length=1)
    """MiniQMT's `userdata_mini` directory, e.g. `C:\\QMT\\userdata_mini` (a Windows path,
    kept as text)."""
    account_id: str = Field(min_length=1)
    """The broker account (资金账号) MiniQMT is logged in with, that this account trades."""
    account_type: Literal["STOCK", "CREDIT"] = "STOCK"
    """`STOCK`: a cash account; `CREDIT`: a margin account, traded with collateral buys and
    sells (担保品买入/卖出)."""
    session_id: int = Field(default=0, ge=0, le=2**31 - 1)
    """xtquant's session id, unique among the programs connected to one MiniQMT at once;
    0: a new random one for every connection."""
    xtdata_address: str = ""
    """Where xtdata reaches MiniQMT's quote service, `host:port`; "": xtdata finds it
    itself (its own config files, then 127.0.0.1:58610)."""
    request_timeout_s: float = Field(default=5.0, gt=0, le=60)
    """How long MiniQMT may take to answer one request before it counts as unanswered (an
    order then stays `pending_new` and is looked up by its remark)."""

    @field_validator("xtdata_address")
    @classmethod
    def _host_and_port(cls, address: str) -> str:
        if address:
            host, _, port = address.rpartition(":")
            if not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise ValueError(f"{address!r} is not host:port (e.g. 127.0.0.1:58610)")
        return address


class QmtAccountView(Protocol):
    """What `create` reads of the account (`config.QmtAccount`)."""

    @property
    def id(self) -> str: ...

    @property
    def qmt(self) -> QmtSettings: ...
