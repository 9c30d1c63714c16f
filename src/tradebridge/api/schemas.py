"""Request bodies, validated by pydantic at the edge and turned into domain requests."""

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from tradebridge.domain.enums import Offset, OrderType, Side, TimeInForce
from tradebridge.domain.errors import ValidationFailed
from tradebridge.domain.money import plain_decimal_input
from tradebridge.domain.orders import OrderRequest
from tradebridge.domain.symbols import parse_symbol

MAX_QTY = 10**12

Price = Annotated[
    Decimal,
    BeforeValidator(plain_decimal_input),
    Field(gt=0, max_digits=20, decimal_places=8, allow_inf_nan=False),
]
Quantity = Annotated[int, Field(strict=True, gt=0, le=MAX_QTY)]
Size = Annotated[int, Field(strict=True, ge=0, le=MAX_QTY)]
"""Shares or lots displayed at a price level."""


def _symbol(value: str) -> str:
    try:
        return parse_symbol(value)
    except ValidationFailed as exc:
        raise ValueError(exc.message) from None


class PlaceOrderBody(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    symbol: str = Field(examples=["600519.SH"])
    side: Side
    qty: Quantity
    type: OrderType = OrderType.LIMIT
    limit_price: Price | None = None
    time_in_force: TimeInForce = TimeInForce.DAY
    client_order_id: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")] | None = None
    offset: Offset | None = None

    _canonical_symbol = field_validator("symbol")(_symbol)

    def to_request(self) -> OrderRequest:
        return OrderRequest(
            symbol=self.symbol,
            side=self.side,
            qty=self.qty,
            type=self.type,
            limit_price=self.limit_price,
            time_in_force=self.time_in_force,
            client_order_id=self.client_order_id,
            offset=self.offset,
        )


class SetQuoteBody(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    symbol: str
    last: Price
    bid: Price | None = None
    ask: Price | None = None
    bid_size: Size | None = None
    ask_size: Size | None = None
    pre_close: Price | None = None

    _canonical_symbol = field_validator("symbol")(_symbol)


class LoginBody(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    username: Annotated[str, Field(min_length=1, max_length=64)]
    password: Annotated[str, Field(min_length=1, max_length=1024)]


class ClockBody(BaseModel):
    """Exactly one of `advance` and `to` (an ISO-8601 time with its offset)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    advance: Literal["next_day", "next_session"] | None = None
    to: AwareDatetime | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> "ClockBody":
        if (self.advance is None) == (self.to is None):
            raise ValueError("give exactly one of 'advance' and 'to'")
        return self
