"""What httptrading objects carry beyond the engine call that answers a route: the currency
of an instrument and its current daily bar. Both come from the same engine calls as
`GET /api/v1/market/contracts` and `/market/bars`."""

from tradebridge.api.engine_client import EngineClient
from tradebridge.domain.enums import RejectReason
from tradebridge.domain.errors import OrderRejected
from tradebridge.domain.models import Bar
from tradebridge.domain.symbols import MARKET_CURRENCY, market_of, venue_of


async def currency_of(engine: EngineClient, account: str, symbol: str) -> str:
    """The contract's currency; the market's (CNY, HKD, USD) if the broker lists no such
    contract."""
    for contract in await engine.contracts(account, venue_of(symbol).value, symbol):
        if contract.symbol == symbol:
            return contract.currency
    return MARKET_CURRENCY[market_of(symbol)]


async def day_bar(engine: EngineClient, account: str, symbol: str) -> Bar | None:
    """Today's bar so far (open, high, low); None from a broker without bars."""
    try:
        bars = await engine.bars(account, symbol, "1d", 1)
    except OrderRejected as exc:
        if exc.reason is RejectReason.NOT_SUPPORTED:
            return None
        raise
    return bars[-1] if bars else None
