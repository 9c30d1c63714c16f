"""The query parameters of `place_order`, `cancel_order` and `query/order`, read strictly.

Unlike document 003's wrapper, nothing that decides what is traded has a default: a missing
`stock_code`, `volumn` or `price` is 422, never an order of 100 510300.SH at 4.4. `direction`
may be left out and means buy, as the document's own example does; any other word than
`buy` or `sell` is 422 (the wrapper sold on anything but `buy`). `volume` is taken beside the
document's `volumn`. Orders are limit orders for the day, as the wrapper's `FIX_PRICE`.
"""

from decimal import Decimal

from tradebridge.api.compat.prices import price_of
from tradebridge.domain.enums import OrderType, Side
from tradebridge.domain.errors import ValidationFailed
from tradebridge.domain.orders import OrderRequest
from tradebridge.domain.symbols import parse_symbol

DIRECTIONS = {"buy": Side.BUY, "sell": Side.SELL}
MAX_NUMBER = 10**12
"""The largest quantity (as /api/v1's `qty`) and order id taken."""


class _Problems:
    """Every field's problem, reported together as /api/v1's validation errors are."""

    def __init__(self) -> None:
        self.errors: list[dict[str, str]] = []

    def add(self, field: str, message: str) -> None:
        self.errors.append({"field": field, "message": message})

    def raise_any(self) -> None:
        if self.errors:
            first = self.errors[0]
            raise ValidationFailed(f"{first['field']}: {first['message']}", {"errors": self.errors})


def whole_number(text: str | None, field: str, problems: _Problems) -> int | None:
    """A positive whole number written in digits; None (and a problem) otherwise."""
    if text is None or not text.strip():
        problems.add(field, "required")
        return None
    value = text.strip()
    if not (value.isascii() and value.isdigit()) or not 0 < int(value) <= MAX_NUMBER:
        problems.add(field, f"must be a whole number from 1 to {MAX_NUMBER}, got {text!r}")
        return None
    return int(value)


def order_request(
    stock_code: str | None,
    direction: str | None,
    volumn: str | None,
    volume: str | None,
    price: str | None,
) -> OrderRequest:
    """The order of `place_order`'s parameters; `ValidationFailed` naming every problem."""
    problems = _Problems()
    symbol = None
    if stock_code is None or not stock_code.strip():
        problems.add("stock_code", "required (e.g. 600519.SH)")
    else:
        try:
            symbol = parse_symbol(stock_code)
        except ValidationFailed as exc:
            problems.add("stock_code", exc.message)
    side = DIRECTIONS.get((direction or "buy").strip().lower())
    if side is None:
        problems.add("direction", f"must be buy or sell, got {direction!r}")
    if volumn is not None and volume is not None and volumn.strip() != volume.strip():
        problems.add("volumn", f"volumn {volumn!r} and volume {volume!r} differ")
    qty = whole_number(volumn if volumn is not None else volume, "volumn", problems)
    limit_price: Decimal | None = None
    if price is None or not price.strip():
        problems.add("price", "required")
    else:
        try:
            limit_price = price_of(price)
        except ValueError as exc:
            problems.add("price", str(exc))
        else:
            if limit_price <= 0:
                problems.add("price", f"must be above 0, got {price!r}")
    problems.raise_any()
    assert symbol is not None
    assert side is not None
    assert qty is not None
    return OrderRequest(
        symbol=symbol, side=side, qty=qty, type=OrderType.LIMIT, limit_price=limit_price
    )


def order_alias(text: str | None, *, required: bool) -> int | None:
    """The integer order id of `cancel_order` and `query/order` (None: not given, allowed
    where not `required`)."""
    if (text is None or not text.strip()) and not required:
        return None
    problems = _Problems()
    alias = whole_number(text, "order_id", problems)
    problems.raise_any()
    return alias
