"""Value types of the trading model. Field names are the public API's (API.md §3)."""

from datetime import datetime
from decimal import Decimal
from typing import Annotated

import msgspec

from tradebridge.domain.enums import Direction, Side

MarketTime = Annotated[
    datetime,
    msgspec.Meta(
        description="The market's time, as the broker reports it: on a paper account the "
        "paper clock, which `POST /paper/{id}/clock` moves ahead of the wall clock (orders' "
        "`created_at`/`updated_at` stay on the wall clock)."
    ),
]
"""When a quote was taken or a trade filled, by the broker's clock."""


class Contract(msgspec.Struct, frozen=True, kw_only=True):
    """What can be traded and by which rules. `price_limit_pct=None` means no daily limit."""

    symbol: str
    name: str
    currency: str
    lot_size: int
    tick_size: Decimal
    pre_close: Decimal
    price_limit_pct: Decimal | None = None
    t_plus: int = 0
    multiplier: Decimal = Decimal(1)
    margin_rate: Decimal | None = None
    min_qty: int | None = None
    max_qty: int | None = None


class Quote(msgspec.Struct, frozen=True, kw_only=True):
    symbol: str
    last: Decimal
    bid: Decimal | None
    ask: Decimal | None
    bid_size: int
    ask_size: int
    pre_close: Decimal | None
    time: MarketTime


class Bar(msgspec.Struct, frozen=True, kw_only=True):
    """OHLCV of one interval starting at `time`."""

    symbol: str
    time: datetime
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: int


class Trade(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    order_id: str
    client_order_id: str | None
    account: str
    symbol: str
    side: Side
    qty: int
    price: Decimal
    fee: Decimal | None
    """None until the broker reports it (IB sends its commission after the execution); the
    trade is published again with it."""
    time: MarketTime


class Position(msgspec.Struct, frozen=True, kw_only=True):
    symbol: str
    qty: int
    available_qty: int
    avg_cost: Decimal
    last_price: Decimal
    market_value: Decimal
    unrealized_pnl: Decimal
    currency: str
    direction: Direction | None = None


class Balance(msgspec.Struct, frozen=True, kw_only=True):
    """Cash of one currency. `available = cash - frozen`."""

    currency: str
    cash: Decimal
    available: Decimal
    frozen: Decimal


class AccountSummary(msgspec.Struct, frozen=True, kw_only=True):
    """Totals in the account's base currency, with the per-currency balances beside them."""

    account: str
    currency: str
    cash: Decimal
    available: Decimal
    frozen: Decimal
    market_value: Decimal
    equity: Decimal
    realized_pnl: Decimal
    unrealized_pnl: Decimal
    balances: list[Balance]
