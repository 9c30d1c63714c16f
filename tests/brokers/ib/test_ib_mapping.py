"""IB's names and values and ours, both ways; an IB value nobody mapped is an error that
names it."""

from decimal import Decimal
from types import SimpleNamespace

import pytest

from tradebridge.brokers.ib.books import quote, summary
from tradebridge.brokers.ib.mapping import (
    STATUS,
    TIME_IN_FORCE,
    IbStock,
    ib_stock,
    our_reference,
    our_symbol,
)
from tradebridge.brokers.mapping import UnmappedValue
from tradebridge.domain.enums import OrderStatus, TimeInForce
from tradebridge.ids import IdGenerator


@pytest.mark.parametrize(
    ("symbol", "stock"),
    [
        ("AAPL.US", IbStock("AAPL", "SMART", "USD")),
        ("BRK.B.US", IbStock("BRK B", "SMART", "USD")),
        ("00700.HK", IbStock("700", "SEHK", "HKD")),
        ("00005.HK", IbStock("5", "SEHK", "HKD")),
        ("09988.HK", IbStock("9988", "SEHK", "HKD")),
        ("600519.SH", None),
    ],
)
def test_our_symbols_as_ib_names_them_and_back(symbol: str, stock: IbStock | None) -> None:
    assert ib_stock(symbol) == stock
    if stock is not None:
        assert our_symbol("STK", stock.symbol, stock.currency) == symbol


@pytest.mark.parametrize(
    ("sec_type", "symbol", "currency"),
    [("STK", "SAP", "EUR"), ("OPT", "AAPL", "USD"), ("STK", "TENCENT", "HKD"), ("CASH", "EUR", "")],
)
def test_contracts_without_our_symbol_are_named(sec_type: str, symbol: str, currency: str) -> None:
    with pytest.raises(UnmappedValue, match=symbol):
        our_symbol(sec_type, symbol, currency)


def test_statuses_and_times_in_force() -> None:
    assert STATUS.to_ours("PreSubmitted") is OrderStatus.NEW
    assert STATUS.to_ours("Inactive") is OrderStatus.REJECTED
    assert STATUS.to_sdk(OrderStatus.CANCELED) == "Cancelled"
    with pytest.raises(UnmappedValue, match="'Unknown'"):
        STATUS.to_ours("Unknown")
    assert {TIME_IN_FORCE.to_sdk(t) for t in TimeInForce} == {"DAY", "GTC", "IOC", "FOK"}
    with pytest.raises(UnmappedValue, match="'OPG'"):
        TIME_IN_FORCE.to_ours("OPG")


def test_only_tradebridge_order_ids_are_our_references() -> None:
    ours = IdGenerator().new_id()
    assert our_reference(ours) == ours
    assert our_reference("") is None
    assert our_reference("strategy-7") is None
    assert our_reference(ours.lower()) is None


def _value(tag: str, value: str, currency: str) -> SimpleNamespace:
    return SimpleNamespace(tag=tag, value=value, currency=currency, account="DU1")


def test_the_summary_takes_ib_s_totals_and_cash_per_currency() -> None:
    values = [
        _value("NetLiquidation", "164206.00", "USD"),
        _value("TotalCashValue", "141206.00", "USD"),
        _value("AvailableFunds", "141206.00", "USD"),
        _value("GrossPositionValue", "23000.00", "USD"),
        _value("CashBalance", "77106.00", "USD"),
        _value("CashBalance", "500000.00", "HKD"),
        _value("CashBalance", "141206.00", "BASE"),
        _value("RealizedPnL", "-3.50", "BASE"),
        _value("UnrealizedPnL", "106.00", "BASE"),
    ]
    found = summary("ib", values)
    assert found is not None
    assert (found.currency, found.cash, found.equity) == (
        "USD",
        Decimal("141206.00"),
        Decimal("164206.00"),
    )
    assert (found.realized_pnl, found.unrealized_pnl) == (Decimal("-3.50"), Decimal("106.00"))
    assert [(b.currency, b.cash, b.available) for b in found.balances] == [
        ("HKD", Decimal("500000.00"), Decimal("500000.00")),
        ("USD", Decimal("77106.00"), Decimal("77106.00")),
    ]
    assert summary("ib", values[1:]) is None  # no totals from TWS yet


def _ticker(**prices: float) -> SimpleNamespace:
    nan = float("nan")
    fields = {"bid": nan, "ask": nan, "last": nan, "close": nan, "bidSize": nan, "askSize": nan}
    return SimpleNamespace(**(fields | prices), time=None)


def test_quotes_from_tickers_without_a_trade_or_without_anything() -> None:
    closed = quote("AAPL.US", _ticker(close=228.5))
    assert closed is not None
    assert (closed.last, closed.bid, closed.pre_close) == (Decimal("228.5000"), None, closed.last)
    quiet = quote("AAPL.US", _ticker(bid=229.99, ask=230.01, bidSize=5.0, askSize=7.0))
    assert quiet is not None
    assert (quiet.last, quiet.bid_size, quiet.ask_size) == (Decimal("230.0000"), 5, 7)
    assert quote("AAPL.US", _ticker(bid=-1.0)) is None
