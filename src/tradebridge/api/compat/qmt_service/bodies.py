"""The bodies of `place-order` (alias `order`) and `cancel-order`, as document 001's
FastAPI backend takes them (its `OrderRequest`, with the `action` API.md §5 adds).

As in FastAPI, unknown fields are ignored. Nothing that decides what is traded has a
default but `order_type` (`LIMIT`, which needs a price): a missing `stock_code`, `action`,
`quantity` or limit `price` is 422.
"""

from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from tradebridge.api.compat.prices import price_of
from tradebridge.api.schemas import Quantity
from tradebridge.domain.enums import OrderType, Side
from tradebridge.domain.errors import ValidationFailed
from tradebridge.domain.orders import OrderRequest
from tradebridge.domain.symbols import parse_symbol


class Action(StrEnum):
    BUY = "BUY"
    SELL = "SELL"


class QmtOrderType(StrEnum):
    LIMIT = "LIMIT"
    MARKET = "MARKET"


ACTION_SIDE = {Action.BUY: Side.BUY, Action.SELL: Side.SELL}
ORDER_TYPES = {QmtOrderType.LIMIT: OrderType.LIMIT, QmtOrderType.MARKET: OrderType.MARKET}


def _upper(value: Any) -> Any:
    """Enum words in any case (`buy`, `Buy`, `BUY`)."""
    return value.strip().upper() if isinstance(value, str) else value


def _stock_code(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected a code such as 600519.SH, got {value!r}")
    try:
        return parse_symbol(value)
    except ValidationFailed as exc:
        raise ValueError(exc.message) from None


ClientOrderId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")]


class PlaceOrderBody(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    stock_code: Annotated[str, BeforeValidator(_stock_code), Field(examples=["600519.SH"])]
    action: Annotated[Action, BeforeValidator(_upper)]
    quantity: Quantity
    price: Annotated[Decimal, BeforeValidator(price_of), Field(examples=[1500.0])] | None = None
    """Required above 0 for a LIMIT order; a MARKET order ignores it."""
    order_type: Annotated[QmtOrderType, BeforeValidator(_upper)] = QmtOrderType.LIMIT
    client_order_id: ClientOrderId | None = None
    """Optional (API.md §5): a retry with the same id finds the order instead of placing a
    second one, as on /api/v1."""

    @model_validator(mode="after")
    def _priced(self) -> "PlaceOrderBody":
        if self.order_type is QmtOrderType.LIMIT and (self.price is None or self.price <= 0):
            raise ValueError("price: a LIMIT order needs a price above 0")
        return self

    def to_request(self) -> OrderRequest:
        order_type = ORDER_TYPES[self.order_type]
        return OrderRequest(
            symbol=self.stock_code,
            side=ACTION_SIDE[self.action],
            qty=self.quantity,
            type=order_type,
            limit_price=self.price if order_type is OrderType.LIMIT else None,
            client_order_id=self.client_order_id,
        )


class CancelOrderBody(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    order_id: Annotated[int, Field(strict=True, gt=0)]
    """The integer `order_id` `place-order` answered (or `orders` lists)."""
