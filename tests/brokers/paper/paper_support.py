"""Helpers shared by the paper market tests."""

from decimal import Decimal

from tradebridge.domain.models import Contract
from tradebridge.domain.symbols import MARKET_CURRENCY, market_of


def make_contract(
    symbol: str,
    pre_close: str,
    *,
    lot: int = 100,
    tick: str = "0.01",
    limit: str | None = None,
    multiplier: str = "1",
) -> Contract:
    return Contract(
        symbol=symbol,
        name=symbol,
        currency=MARKET_CURRENCY[market_of(symbol)],
        lot_size=lot,
        tick_size=Decimal(tick),
        pre_close=Decimal(pre_close),
        price_limit_pct=Decimal(limit) if limit is not None else None,
        multiplier=Decimal(multiplier),
    )
