"""Request bodies of the dialect, with document 002's camelCase names."""

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from tradebridge.api.compat.httptrading.contracts import Region, symbol_of
from tradebridge.domain.enums import OrderType, Side, TimeInForce
from tradebridge.domain.errors import ValidationFailed
from tradebridge.domain.money import plain_decimal_input
from tradebridge.domain.orders import OrderRequest

TradeType = Literal["Securities"]
Code = Annotated[str, Field(min_length=1, max_length=32)]

ORDER_TYPES: dict[str, OrderType] = {"Limit": OrderType.LIMIT, "Market": OrderType.MARKET}
TIMES_IN_FORCE: dict[str, TimeInForce] = {"DAY": TimeInForce.DAY, "GTC": TimeInForce.GTC}
DIRECTIONS: dict[str, Side] = {"BUY": Side.BUY, "SELL": Side.SELL}


def code_of(ticker: str | None, symbol: str | None) -> str:
    """The instrument code, given as `ticker` (document 002) or `symbol` (the library)."""
    if ticker is None and symbol is None:
        raise ValidationFailed("give the code as 'ticker' (or 'symbol')", {"field": "ticker"})
    if ticker is not None and symbol is not None and ticker != symbol:
        raise ValidationFailed(
            f"'ticker' {ticker!r} and 'symbol' {symbol!r} differ; give one", {"field": "ticker"}
        )
    return ticker if ticker is not None else str(symbol)


class HttptradingPlaceOrder(BaseModel):
    """`qty` must be a JSON integer (12.0 and "12" are refused). `price` is the limit price;
    a Market order ignores it. `lifecycle` is accepted and not used: an order works in the
    sessions its venue and broker give it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    trade_type: TradeType = Field("Securities", alias="tradeType")
    region: Region
    ticker: Code | None = None
    symbol: Code | None = None
    price: (
        Annotated[
            Decimal,
            BeforeValidator(plain_decimal_input),
            Field(ge=0, max_digits=20, decimal_places=8, allow_inf_nan=False),
        ]
        | None
    ) = None
    qty: Annotated[int, Field(strict=True, gt=0, le=10**12)]
    order_type: Literal["Limit", "Market"] = Field("Limit", alias="orderType")
    time_in_force: Literal["DAY", "GTC"] = Field("DAY", alias="timeInForce")
    lifecycle: Literal["RTH", "ETH", "OVERNIGHT"] = "RTH"
    direction: Literal["BUY", "SELL"]

    @model_validator(mode="after")
    def _limit_has_price(self) -> "HttptradingPlaceOrder":
        if self.order_type == "Limit" and not self.price:
            raise PydanticCustomError("price_required", "a Limit order needs a 'price' above 0")
        return self

    def to_request(self) -> OrderRequest:
        order_type = ORDER_TYPES[self.order_type]
        return OrderRequest(
            symbol=symbol_of(self.region, code_of(self.ticker, self.symbol)),
            side=DIRECTIONS[self.direction],
            qty=self.qty,
            type=order_type,
            limit_price=self.price if order_type is OrderType.LIMIT else None,
            time_in_force=TIMES_IN_FORCE[self.time_in_force],
        )


class HttptradingCancelOrder(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    order_id: str = Field(alias="orderId", min_length=1, max_length=64)
