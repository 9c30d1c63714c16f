"""The body of `POST /order`: vnpy's `OrderRequest`, turned into our `OrderRequest`.

Fields as vnpy_webtrader's `OrderRequestModel`: `symbol, exchange, direction, type, volume,
price (0), offset ("" ), reference ("")`; unknown fields are ignored as there. Enum values in
either language. `volume` is a float in vnpy: whole numbers are accepted (`1` or `1.0`), a
fraction is refused.
"""

import math
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from tradebridge.api.compat.vnpy.mapping import (
    DIRECTION_SIDE,
    ENGLISH,
    ORDER_KIND,
    VN_OFFSET,
    VnDirection,
    VnExchange,
    VnOffset,
    VnOrderType,
    canonical_symbol,
    is_futures,
    read_enum,
    read_exchange,
)
from tradebridge.domain.enums import OrderType
from tradebridge.domain.errors import ValidationFailed
from tradebridge.domain.orders import OrderRequest

MAX_VOLUME = 10**12
FUTURES_OFFSETS = ", ".join(f"{o.value} ({ENGLISH[o]})" for o in VnOffset if o is not VnOffset.NONE)


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected a text, got {value!r}")
    return value


def _direction(value: Any) -> VnDirection:
    return read_enum(VnDirection, _text(value))


def _order_type(value: Any) -> VnOrderType:
    return read_enum(VnOrderType, _text(value))


def _offset(value: Any) -> VnOffset:
    return VnOffset.NONE if value is None else read_enum(VnOffset, _text(value))


def _exchange(value: Any) -> VnExchange:
    return read_exchange(_text(value))


def _volume(value: Any) -> int:
    """A positive whole number, given as an int or a float without a fraction."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"volume must be a number, got {value!r}")
    if not math.isfinite(value) or value != int(value):
        raise ValueError(f"volume must be a whole number of shares or lots, got {value!r}")
    if not 0 < value <= MAX_VOLUME:
        raise ValueError(f"volume must be above 0 and at most {MAX_VOLUME}, got {value!r}")
    return int(value)


def _price(value: Any) -> Decimal:
    """The price as written (a float's shortest form: 71030.0 is 71030.0, not its binary
    neighbour)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"price must be a number, got {value!r}")
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"price must be a number of at least 0, got {value!r}")
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)


class VnpyOrderBody(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    symbol: Annotated[str, Field(min_length=1, max_length=32, examples=["cu2601"])]
    exchange: Annotated[VnExchange, BeforeValidator(_exchange), Field(examples=["SHFE"])]
    direction: Annotated[VnDirection, BeforeValidator(_direction), Field(examples=["多"])]
    type: Annotated[VnOrderType, BeforeValidator(_order_type), Field(examples=["限价"])]
    volume: Annotated[int, BeforeValidator(_volume), Field(examples=[1])]
    price: Annotated[Decimal, BeforeValidator(_price), Field(examples=[86000.0])] = Decimal(0)
    offset: Annotated[VnOffset, BeforeValidator(_offset), Field(examples=["开"])] = VnOffset.NONE
    reference: Annotated[str, Field(max_length=256)] = ""
    """Where the order comes from (vnpy's app or strategy name); accepted, not kept."""

    @model_validator(mode="after")
    def _placeable(self) -> "VnpyOrderBody":
        if self.direction not in DIRECTION_SIDE:
            raise ValueError(f"direction: an order is {VnDirection.LONG} or {VnDirection.SHORT}")
        if self.type not in ORDER_KIND:
            raise ValueError(f"type: {self.type} orders are not supported")
        if ORDER_KIND[self.type][0] is OrderType.LIMIT and self.price <= 0:
            raise ValueError(f"price: a {self.type} order needs a price above 0")
        try:
            symbol = canonical_symbol(self.symbol, self.exchange)
        except ValidationFailed as exc:
            raise ValueError(f"symbol: {exc.message}") from None
        if is_futures(symbol) and self.offset is VnOffset.NONE:
            raise ValueError(f"offset: a futures order needs one of {FUTURES_OFFSETS}")
        return self

    def to_request(self) -> OrderRequest:
        """Stocks have no offset: whatever vnpy sent there is dropped (its stock gateways
        ignore it too)."""
        symbol = canonical_symbol(self.symbol, self.exchange)
        order_type, time_in_force = ORDER_KIND[self.type]
        return OrderRequest(
            symbol=symbol,
            side=DIRECTION_SIDE[self.direction],
            qty=self.volume,
            type=order_type,
            limit_price=self.price if order_type is OrderType.LIMIT else None,
            time_in_force=time_in_force,
            offset=VN_OFFSET[self.offset] if is_futures(symbol) else None,
        )
