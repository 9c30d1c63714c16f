"""IB's account values, portfolio items and tickers, as tradebridge's summary, positions and
quotes. Pure translations: they run on the IB thread and touch no state.

IB reports money as text per currency, plus `BASE` rows in the account's base currency:
- totals (base currency): cash `TotalCashValue`, available `AvailableFunds` (for a margin
  account it can exceed the cash), market value `GrossPositionValue`, equity
  `NetLiquidation`, P&L the `BASE` rows of `RealizedPnL` and `UnrealizedPnL`; IB holds no
  cash back for working orders, so `frozen` is 0;
- balances: `CashBalance` of each currency.
Floats from ib_async go through `str` (no binary noise) and are rounded: money to the cent,
prices and costs to 1/10000.
"""

import math
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from tradebridge.brokers.ib.mapping import our_symbol
from tradebridge.brokers.mapping import UnmappedValue
from tradebridge.domain.models import AccountSummary, Balance, Position, Quote

CENT = Decimal("0.01")
PRICE = Decimal("0.0001")


def decimal(value: float | str, places: Decimal) -> Decimal:
    return Decimal(str(value)).quantize(places)


def whole(value: float | Decimal, what: str) -> int:
    """A share count: IB sends floats; ours are whole shares."""
    count = Decimal(str(value))
    if count != count.to_integral_value():
        raise UnmappedValue(f"{what}: {value} is not a whole number of shares")
    return int(count)


def summary(account_id: str, values: list[Any]) -> AccountSummary | None:
    """From ib_async `AccountValue`s of one account; None until TWS has sent the totals."""
    by_key: dict[tuple[str, str], str] = {(v.tag, v.currency): v.value for v in values}
    base = next((cur for tag, cur in by_key if tag == "NetLiquidation" and cur != "BASE"), None)
    if base is None:
        return None

    def money(tag: str, currency: str) -> Decimal:
        text = by_key.get((tag, currency), "")
        try:
            return decimal(text, CENT)
        except ArithmeticError:
            return Decimal("0.00")

    balances = [
        Balance(
            currency=cur, cash=money(tag, cur), available=money(tag, cur), frozen=Decimal("0.00")
        )
        for tag, cur in sorted(by_key)
        if tag == "CashBalance" and cur not in ("", "BASE")
    ]
    return AccountSummary(
        account=account_id,
        currency=base,
        cash=money("TotalCashValue", base),
        available=money("AvailableFunds", base),
        frozen=Decimal("0.00"),
        market_value=money("GrossPositionValue", base),
        equity=money("NetLiquidation", base),
        realized_pnl=money("RealizedPnL", "BASE"),
        unrealized_pnl=money("UnrealizedPnL", "BASE"),
        balances=balances,
    )


def position(item: Any) -> Position:
    """From an ib_async `PortfolioItem` (it carries the market price and the P&L)."""
    contract = item.contract
    symbol = our_symbol(contract.secType, contract.symbol, contract.currency)
    qty = whole(item.position, f"position in {symbol}")
    return Position(
        symbol=symbol,
        qty=qty,
        available_qty=max(qty, 0),
        avg_cost=decimal(item.averageCost, PRICE),
        last_price=decimal(item.marketPrice, PRICE),
        market_value=decimal(item.marketValue, CENT),
        unrealized_pnl=decimal(item.unrealizedPNL, CENT),
        currency=contract.currency,
    )


def _price(value: float) -> Decimal | None:
    if value is None or math.isnan(value) or value <= 0:
        return None
    return decimal(value, PRICE)


def _size(value: float) -> int:
    return 0 if value is None or math.isnan(value) or value < 0 else int(value)


def quote(symbol: str, ticker: Any) -> Quote | None:
    """From an ib_async `Ticker`; None while it has no price at all. Without a trade yet the
    last price is the previous close (or the midpoint)."""
    bid, ask, close = _price(ticker.bid), _price(ticker.ask), _price(ticker.close)
    last = _price(ticker.last) or close
    if last is None and bid is not None and ask is not None:
        last = ((bid + ask) / 2).quantize(PRICE)
    if last is None:
        return None
    when = ticker.time if isinstance(ticker.time, datetime) else datetime.now(UTC)
    return Quote(
        symbol=symbol,
        last=last,
        bid=bid,
        ask=ask,
        bid_size=_size(ticker.bidSize) if bid is not None else 0,
        ask_size=_size(ticker.askSize) if ask is not None else 0,
        pre_close=close,
        time=when,
    )
