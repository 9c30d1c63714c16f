"""Settings of an `ib` account: the `[accounts.ib]` table (API.md §7). Imports no SDK.

TWS or IB Gateway runs beside tradebridge with its API enabled; tradebridge connects to its
socket port as one API client (`client_id`). TWS holds no secret for the API: the login is
TWS's own, so there is no `*_file` setting here.
"""

from typing import Literal, Protocol

from pydantic import Field

from tradebridge.sections import Section

MarketData = Literal["live", "frozen", "delayed", "delayed_frozen"]


class IbSettings(Section):
    host: str = "127.0.0.1"
    """Where TWS or IB Gateway runs."""
    port: int = Field(default=4002, ge=1, le=65535)
    """Its API socket port: TWS 7497 (paper) / 7496 (live), IB Gateway 4002 / 4001."""
    client_id: int = Field(default=17, ge=0, le=2**31 - 1)
    """This session's API client id, unique among the sessions connected to the same TWS
    (TWS refuses a second one, error 326). 0, or TWS's "Master API client ID", also
    receives the orders entered in TWS itself as they happen."""
    account: str = ""
    """The IB account this tradebridge account trades, e.g. "DU1234567"; "" takes the only
    account TWS manages (an error if it manages several)."""
    market_data: MarketData = "live"
    """The market data type asked of TWS: delayed data needs no subscription."""
    outside_rth: bool = False
    """Let orders fill outside US regular trading hours (IB's `outsideRth`)."""
    connect_timeout_s: float = Field(default=10.0, gt=0, le=120)
    """How long the handshake and the start-up synchronization may take."""
    request_timeout_s: float = Field(default=8.0, gt=0, le=120)
    """How long one request to TWS may take before it counts as unanswered (keep it under
    the engine's 10 s broker timeout, so that TWS's silence is named as such)."""
    order_ack_timeout_s: float = Field(default=5.0, gt=0, le=60)
    """How long a new order may wait for TWS to acknowledge or refuse it; after that its
    outcome is unknown and it is looked up by its reference, never sent again."""


class IbAccount(Protocol):
    """What `create` reads of the account (`config.IbAccount`)."""

    @property
    def id(self) -> str: ...

    @property
    def ib(self) -> IbSettings: ...
