"""Contracts looked up at IB on demand (`reqContractDetails`) and kept: IB has no list of
"all contracts", and its conIds do not change, so one lookup per symbol and process.

`AAPL.US` is asked as a stock `AAPL` on SMART in USD, `00700.HK` as `700` on SEHK in HKD
(`mapping.ib_stock`). Several answers (a symbol listed twice) are narrowed to the stock
whose listing exchange is a US one; still several, or none, is "unknown".

What IB's contract details do not say is filled in: `lot_size` is IB's size increment when it
is a whole number of shares (SEHK board lots are not available through the API: IB refuses
an order of another size with its reason), else 1; `pre_close` is 0 (ask for a quote).
"""

import asyncio
import logging
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from tradebridge.brokers.ib.books import PRICE
from tradebridge.brokers.ib.mapping import ib_stock
from tradebridge.domain.models import Contract

log = logging.getLogger(__name__)

US_LISTINGS = frozenset(
    {"NASDAQ", "NYSE", "ARCA", "AMEX", "BATS", "IEX", "NYSENAT", "CBOE", "ISLAND"}
)


@dataclass(frozen=True, slots=True)
class Known:
    ib: Any
    """The ib_async `Contract` to route orders and market data with (with its conId)."""
    ours: Contract


class ContractBook:
    """Owned by the IB thread (`IbSession`): it holds ib_async objects."""

    def __init__(self) -> None:
        self._known: dict[str, Known] = {}
        self._by_con_id: dict[int, str] = {}

    def get(self, symbol: str) -> Known | None:
        return self._known.get(symbol)

    def symbol_of(self, con_id: int) -> str | None:
        return self._by_con_id.get(con_id)

    def listed(self) -> list[Contract]:
        return [known.ours for known in self._known.values()]

    async def look_up(self, ib: Any, symbol: str, timeout_s: float) -> Known | None:
        known = self._known.get(symbol)
        if known is not None:
            return known
        spec = ib_stock(symbol)
        if spec is None:
            return None
        from ib_async import Stock  # the SDK is loaded by the session already

        asked = Stock(spec.symbol, spec.exchange, spec.currency)
        details = await asyncio.wait_for(ib.reqContractDetailsAsync(asked), timeout_s)
        chosen = _choose(symbol, details, spec.currency)
        if chosen is None:
            return None  # not kept: asked again next time
        contract = chosen.contract
        contract.exchange = spec.exchange
        known = Known(ib=contract, ours=_ours(symbol, chosen))
        self._known[symbol] = known
        self._by_con_id[contract.conId] = symbol
        return known


def _choose(symbol: str, details: list[Any], currency: str) -> Any | None:
    stocks = [d for d in details if d.contract.secType == "STK" and d.contract.currency == currency]
    if len(stocks) > 1 and currency == "USD":
        stocks = [d for d in stocks if d.contract.primaryExchange in US_LISTINGS]
    if len(stocks) == 1:
        return stocks[0]
    if stocks:
        log.warning(
            "IB knows %d stocks for %s (%s): treated as unknown",
            len(stocks),
            symbol,
            ", ".join(f"{d.contract.conId}@{d.contract.primaryExchange}" for d in stocks),
        )
    return None


def _ours(symbol: str, details: Any) -> Contract:
    increment = Decimal(str(details.sizeIncrement or 0))
    lot = int(increment) if increment >= 1 and increment == increment.to_integral_value() else 1
    tick = Decimal(str(details.minTick)) if details.minTick and details.minTick > 0 else PRICE
    return Contract(
        symbol=symbol,
        name=details.longName or symbol,
        currency=details.contract.currency,
        lot_size=lot,
        tick_size=tick,
        pre_close=Decimal(0),
    )
