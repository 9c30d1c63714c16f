"""Decimal money and price helpers. Floats never carry money."""

import re
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

CENT = Decimal("0.01")
_PLAIN_DECIMAL = re.compile(r"-?[0-9]+(\.[0-9]+)?", re.ASCII)


def plain_decimal_input(value: Any) -> Any:
    """`value` if it is a number or a plain decimal text (`1400`, `1400.50`, `-3.5`); a
    ValueError for other texts. Python's `Decimal` also reads `1_500`, `1e3`, other scripts'
    digits (`١٥٠٠`) and surrounding spaces: no client means those as a price. Booleans are
    refused too (JSON `true` is not 1)."""
    if isinstance(value, bool):
        raise ValueError("expected a number, got a boolean")
    if isinstance(value, str) and not _PLAIN_DECIMAL.fullmatch(value):
        raise ValueError(
            f"{value[:40]!r} is not a plain decimal: send a JSON number or a text like "
            '"1400.50" (digits, one optional point, no spaces, exponent or separators)'
        )
    return value


def to_decimal(value: Decimal | int | str) -> Decimal:
    """Exact conversion; floats are refused so binary rounding never reaches money."""
    if isinstance(value, float):  # pragma: no cover - guarded by typing, kept for callers
        raise TypeError("floats are not accepted for money; pass a str or Decimal")
    return value if isinstance(value, Decimal) else Decimal(value)


def round_money(amount: Decimal) -> Decimal:
    """Round an amount of cash to the cent, half up (as brokers print statements)."""
    return amount.quantize(CENT, ROUND_HALF_UP)  # positional: half the cost of keywords


def is_on_tick(price: Decimal, tick: Decimal) -> bool:
    return price % tick == 0


def round_to_tick(price: Decimal, tick: Decimal) -> Decimal:
    """Nearest multiple of `tick`, written with the tick's number of decimals."""
    steps = (price / tick).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    return (steps * tick).quantize(tick)


def tick_places(tick: Decimal) -> int:
    """How many decimals prices on `tick` are written with: 2 for 0.01, 1 for 0.2, 0 for 1, 5
    and 10."""
    exponent = tick.normalize().as_tuple().exponent
    return max(-exponent, 0) if isinstance(exponent, int) else 0


def price_form(price: Decimal, tick: Decimal) -> Decimal:
    """`price` written with the tick's decimals (`1540` → `1540.00` on a 0.01 tick). A price
    with finer digits than the tick is kept as it is: the form never changes a value."""
    try:
        shown = price.quantize(Decimal(1).scaleb(-tick_places(tick)))
    except InvalidOperation:  # more digits than the context holds: leave it
        return price
    return shown if shown == price else price


def average_form(value: Decimal, tick: Decimal) -> Decimal:
    """An average price (fill or cost) written two decimals finer than the tick, rounded half
    even, whether or not it falls on the tick (zero too: `0.0000` on a 0.01 tick)."""
    try:
        return value.quantize(Decimal(1).scaleb(-tick_places(tick) - 2), ROUND_HALF_EVEN)
    except InvalidOperation:  # more digits than the context holds: leave it
        return value


def average_price(notional: Decimal, qty: int, tick: Decimal) -> Decimal:
    """Average fill price of `qty` costing `notional`, in `average_form`, so `avg × qty` stays
    close to the notional."""
    return average_form(notional / qty, tick)
