"""Decimal money and price helpers. Floats never carry money."""

import re
from decimal import ROUND_HALF_UP, Decimal
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


def average_price(notional: Decimal, qty: int, tick: Decimal) -> Decimal:
    """Average fill price: on the tick when it falls there, else two decimals finer than the
    tick, so `avg × qty` stays close to the notional."""
    fine = (notional / qty).quantize(tick.scaleb(-2), rounding=ROUND_HALF_UP)
    return fine.quantize(tick) if is_on_tick(fine, tick) else fine
