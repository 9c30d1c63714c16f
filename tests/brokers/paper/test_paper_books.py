"""Cash and share freezes, cancels, P&L and the account summary of the paper broker."""

from decimal import Decimal

import pytest

from tradebridge.brokers.paper.broker import PaperBroker
from tradebridge.brokers.paper.config import PaperSettings
from tradebridge.domain.enums import OrderStatus, RejectReason
from tradebridge.domain.errors import NotCancelable, OrderRejected

pytestmark = pytest.mark.anyio

MOUTAI = "600519.SH"  # initial quote: bid 1499.99, ask 1500.01


async def test_insufficient_funds_counts_cash_and_fees_frozen_by_resting_buys(
    sink, make_order
) -> None:
    # 600 at 1490.00 freezes 894000 + 223.50 commission + 8.94 transfer fee = 894232.44;
    # 100 at 1490.00 needs 149000 + 37.25 + 1.49 = 149038.74: the cash is exactly both
    cash = Decimal("894232.44") + Decimal("149038.74")
    broker = PaperBroker("paper", PaperSettings(cash={"CNY": cash}), sink)
    await broker.place_order(make_order(MOUTAI, "buy", 600, "1490.00"))
    sink.clear()

    with pytest.raises(OrderRejected) as caught:
        await broker.place_order(make_order(MOUTAI, "buy", 100, "1490.01"))

    assert caught.value.reason is RejectReason.INSUFFICIENT_FUNDS
    assert caught.value.message == (
        "buy 100 600519.SH at 1490.01 needs 149039.74 CNY with fees, 149038.74 available"
    )
    assert caught.value.details["reason"] == "insufficient_funds"
    assert sink.calls == []
    await broker.place_order(make_order(MOUTAI, "buy", 100, "1490.00"))  # exactly fits
    summary = await broker.query_account()
    assert (summary.available, summary.frozen) == (Decimal("0.00"), cash)


async def test_market_buy_needs_cash_for_the_ask_and_fees(broker, make_order) -> None:
    # 150001000 + commission 37500.25 + transfer fee 1500.01
    with pytest.raises(
        OrderRejected, match=r"at market \(ask 1500\.01\) needs 150040000\.26 CNY with fees"
    ):
        await broker.place_order(make_order(MOUTAI, "buy", 100_000))


async def test_buy_in_a_currency_without_cash_is_refused(sink, make_order) -> None:
    broker = PaperBroker("paper", PaperSettings(cash={"CNY": Decimal(1000)}), sink)
    with pytest.raises(OrderRejected, match=r"needs 2300\.10 USD with fees, 0\.00 available"):
        await broker.place_order(make_order("AAPL.US", "buy", 10, "230.01"))


async def test_insufficient_position_counts_shares_frozen_by_resting_sells(
    broker, sink, make_order
) -> None:
    await broker.place_order(make_order(MOUTAI, "buy", 200, "1500.01"))
    broker.roll_day()
    await broker.place_order(make_order(MOUTAI, "sell", 100, "1600.00"))
    sink.clear()

    with pytest.raises(OrderRejected) as caught:
        await broker.place_order(make_order(MOUTAI, "sell", 200, "1600.00"))

    assert caught.value.reason is RejectReason.INSUFFICIENT_POSITION
    assert caught.value.message == (
        "sell 200 600519.SH needs 200 shares available, 100 available "
        "(200 held, 100 frozen by open sell orders)"
    )
    assert sink.calls == []


async def test_sell_without_a_position_is_refused(broker, sink, make_order) -> None:
    with pytest.raises(OrderRejected, match="no position to sell") as caught:
        await broker.place_order(make_order(MOUTAI, "sell", 100, "1500.00"))
    assert caught.value.reason is RejectReason.INSUFFICIENT_POSITION
    assert sink.calls == []


async def test_cancel_a_buy_releases_its_cash(broker, sink, make_order) -> None:
    order = make_order(MOUTAI, "buy", 100, "1490.00")
    await broker.place_order(order)
    sink.clear()

    await broker.cancel_order(order)

    assert sink.kinds() == ["order", "account"]
    update = sink.of("order")[0]
    assert (update.order_id, update.status, update.reason) == (order.id, OrderStatus.CANCELED, None)
    summary = sink.of("account")[0]
    assert (summary.available, summary.frozen) == (Decimal("1000000.00"), Decimal("0.00"))
    assert [o.status for o in await broker.query_orders()] == [OrderStatus.CANCELED]


async def test_cancel_a_partly_filled_buy_releases_the_rest(broker, make_order) -> None:
    broker.set_quote(MOUTAI, last=Decimal("1500.00"), ask_size=100)
    order = make_order(MOUTAI, "buy", 300, "1500.01")
    await broker.place_order(order)

    await broker.cancel_order(order)

    summary = await broker.query_account()
    assert (summary.cash, summary.available, summary.frozen) == (  # 150001 + 39.00 fees
        Decimal("849960.00"),
        Decimal("849960.00"),
        Decimal("0.00"),
    )
    (record,) = await broker.query_orders()
    assert (record.status, record.filled_qty) == (OrderStatus.CANCELED, 100)


async def test_cancel_a_sell_releases_its_shares(broker, sink, make_order) -> None:
    await broker.place_order(make_order(MOUTAI, "buy", 200, "1500.01"))
    broker.roll_day()
    sell = make_order(MOUTAI, "sell", 200, "1600.00")
    await broker.place_order(sell)
    sink.clear()

    await broker.cancel_order(sell)

    assert sink.kinds() == ["order", "position"]
    assert sink.of("position")[0].available_qty == 200
    await broker.place_order(make_order(MOUTAI, "sell", 200, "1600.00"))


async def test_cancel_twice_is_not_cancelable(broker, sink, make_order) -> None:
    order = make_order(MOUTAI, "buy", 100, "1490.00")
    await broker.place_order(order)
    await broker.cancel_order(order)
    sink.clear()

    with pytest.raises(NotCancelable, match="already canceled"):
        await broker.cancel_order(order)
    assert sink.calls == []


async def test_cancel_filled_or_unknown_order_is_not_cancelable(broker, make_order) -> None:
    filled = make_order(MOUTAI, "buy", 100, "1500.01")
    await broker.place_order(filled)
    with pytest.raises(NotCancelable, match="already filled"):
        await broker.cancel_order(filled)
    with pytest.raises(NotCancelable, match="unknown"):
        await broker.cancel_order(make_order(MOUTAI, "buy", 100, "1490.00"))


async def test_realized_and_unrealized_pnl_net_of_fees(broker, sink, make_order) -> None:
    await broker.place_order(make_order(MOUTAI, "buy", 100, "1500.01"))  # 150001 + 39.00 fees
    broker.set_quote(MOUTAI, last=Decimal("1510.00"))
    await broker.place_order(make_order(MOUTAI, "buy", 100, "1510.01"))  # 151001 + 39.26
    broker.set_quote(MOUTAI, last=Decimal("1520.00"))

    (held,) = await broker.query_positions()
    # avg_cost includes the buy fees: (150040.00 + 151040.26) / 200
    assert (held.qty, held.avg_cost, held.last_price) == (
        200,
        Decimal("1505.4013"),
        Decimal("1520.00"),
    )
    assert (held.market_value, held.unrealized_pnl) == (Decimal("304000.00"), Decimal("2919.74"))

    broker.roll_day()  # T+1: sellable from the next day, which opens at 1520.00
    await broker.place_order(make_order(MOUTAI, "sell", 100, "1519.99"))  # at bid 1519.99

    (held,) = await broker.query_positions()
    assert (held.qty, held.avg_cost, held.unrealized_pnl) == (
        100,
        Decimal("1505.4013"),
        Decimal("1459.87"),
    )
    summary = await broker.query_account()
    # sell fees: commission 38.00, transfer 1.52, stamp duty 76.00 = 115.52
    assert summary.realized_pnl == Decimal("1458.87") - Decimal("115.52")
    assert summary.cash == Decimal("1000000") - Decimal("150040.00") - Decimal(
        "151040.26"
    ) + Decimal("151999") - Decimal("115.52")
    assert summary.market_value == Decimal("152000.00")
    assert summary.unrealized_pnl == Decimal("1459.87")
    assert summary.equity == summary.cash + summary.market_value
    assert summary.equity == Decimal(1_000_000) + summary.realized_pnl + summary.unrealized_pnl


async def test_sold_out_position_is_pushed_once_with_qty_zero(broker, sink, make_order) -> None:
    await broker.place_order(make_order(MOUTAI, "buy", 100, "1500.01"))
    broker.roll_day()
    sink.clear()

    await broker.place_order(make_order(MOUTAI, "sell", 100, "1499.99"))

    last = sink.of("position")[-1]
    assert (last.symbol, last.qty, last.available_qty, last.market_value) == (
        MOUTAI,
        0,
        0,
        Decimal("0.00"),
    )
    assert await broker.query_positions() == []
    # bought at 1500.40 a share with fees, sold at 1499.99 less 114.00 of fees
    assert (await broker.query_account()).realized_pnl == Decimal("-155.00")


async def test_account_totals_are_in_the_base_currency_only(broker, make_order) -> None:
    await broker.place_order(make_order("00700.HK", "buy", 100, "480.2"))

    summary = await broker.query_account()
    assert (summary.currency, summary.cash, summary.market_value) == (
        "CNY",
        Decimal("1000000.00"),
        Decimal("0.00"),
    )
    hkd = next(b for b in summary.balances if b.currency == "HKD")
    # 48020 + commission 14.41 + stamp duty 48.02 + trading fee 2.71 + SFC levy 1.30
    assert (hkd.cash, hkd.available, hkd.frozen) == (
        Decimal("451913.56"),
        Decimal("451913.56"),
        Decimal("0.00"),
    )
    assert [b.currency for b in summary.balances] == ["CNY", "HKD", "USD"]
    (held,) = await broker.query_positions()
    assert (held.currency, held.avg_cost, held.market_value) == (
        "HKD",
        Decimal("480.8644"),
        Decimal("48000.00"),
    )


async def test_hkd_base_currency_account(sink, settings, make_order) -> None:
    broker = PaperBroker("hk", settings, sink, base_currency="HKD")
    await broker.place_order(make_order("00700.HK", "buy", 100, "480.2"))

    summary = await broker.query_account()
    assert (summary.account, summary.currency, summary.cash, summary.market_value) == (
        "hk",
        "HKD",
        Decimal("451913.56"),
        Decimal("48000.00"),
    )
    assert summary.equity == Decimal("499913.56")
    assert summary.unrealized_pnl == Decimal("-86.44")
