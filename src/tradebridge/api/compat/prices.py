"""Prices as the QMT dialects' clients send them: JSON numbers (floats) or query-string text."""

import math
from decimal import Decimal, InvalidOperation
from typing import Any

MAX_DECIMALS = 8
LIMIT = Decimal(10) ** 12
"""As on /api/v1: at most 8 decimals, below a trillion."""


def price_of(value: Any) -> Decimal:
    """A price as written: a float in its shortest form (300.0 is 300.0, not its binary
    neighbour), an int, or a numeric text; finite, not negative. `ValueError` otherwise."""
    if isinstance(value, bool):
        raise ValueError(f"price must be a number, got {value!r}")
    try:
        if isinstance(value, float) and math.isfinite(value):
            price = Decimal(repr(value))
        elif isinstance(value, int | str):
            price = Decimal(str(value).strip())
        else:
            raise ValueError
    except (ValueError, InvalidOperation):
        raise ValueError(f"price must be a number, got {value!r}") from None
    if not price.is_finite() or price < 0 or price >= LIMIT:
        raise ValueError(f"price must be a number from 0 to below {LIMIT:,}, got {value!r}")
    exponent = price.normalize().as_tuple().exponent
    if isinstance(exponent, int) and exponent < -MAX_DECIMALS:
        raise ValueError(f"price has more than {MAX_DECIMALS} decimals: {value!r}")
    return price
