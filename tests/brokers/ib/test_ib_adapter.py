"""The `ib` adapter with the real ib_async against the fake TWS (its own process): the
connection and its refusals, orders from placement to fills and commissions, cancels and
refusals, orders entered in TWS, reconciliation lists, quotes, and a TWS that goes away."""

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from tests.brokers.ib.fake_support import FakeTwsProcess, fake_tws
from tests.brokers.ib.ib_support import an_order, started, until

from tradebridge.brokers.ib.adapter import EXTERNAL_STATE
from tradebridge.domain.enums import ConnectionState, OrderStatus, Side, TimeInForce
from tradebridge.domain.errors import BrokerUnavailable, NotFound, OrderRejected, Timeout

pytestmark = pytest.mark.anyio


@pytest.fixture
def tws(tmp_path: Path) -> Iterator[FakeTwsProcess]:
    with fake_tws(tmp_path / "tws") as running:
        yield running


def value(tws: FakeTwsProcess, key: str, currency: str) -> Decimal:
    return tws.account_value(key, currency)


# ---------------------------------------------------------------------------- connection


async def test_connects_and_reads_the_books_tws_has(tws: FakeTwsProcess) -> None:
    broker, sink = await started(tws)
    try:
        state, message = sink.messages[-1]
        assert state is ConnectionState.CONNECTED
        assert "client 17" in message
        assert "account DU1234567" in message
        assert await broker.ping()
        summary = await broker.query_account()
        assert summary.currency == "USD"
        assert summary.cash == value(tws, "TotalCashValue", "USD")
        assert summary.equity == value(tws, "NetLiquidation", "USD")
        assert summary.available == value(tws, "AvailableFunds", "USD")
        assert {b.currency: b.cash for b in summary.balances} == {
            "HKD": value(tws, "CashBalance", "HKD"),
            "USD": value(tws, "CashBalance", "USD"),
        }
        assert await broker.query_positions() == []
        assert await broker.query_orders() == []
        assert await broker.query_trades() == []
    finally:
        await broker.close()


async def test_a_client_id_in_use_is_refused_and_named(tws: FakeTwsProcess) -> None:
    first, _ = await started(tws)
    second, sink = await started(tws, connect_timeout_s=8.0)
    try:
        state, message = sink.messages[-1]
        assert state is ConnectionState.DISCONNECTED
        assert "client id 17" in message
        assert "326" in message
        assert "client_id" in message  # what to change
        assert await first.ping()
        with pytest.raises(BrokerUnavailable):
            await second.place_order(an_order())
    finally:
        await second.close()
        await first.close()


async def test_nothing_listening_says_what_to_start(tmp_path: Path) -> None:
    with fake_tws(tmp_path / "tws") as tws:
        tws.command("listen", on=False)
        broker, sink = await started(tws)
        try:
            state, message = sink.messages[-1]
            assert state is ConnectionState.DISCONNECTED
            assert "start TWS or IB Gateway" in message
        finally:
            await broker.close()


async def test_several_managed_accounts_need_one_chosen(tmp_path: Path) -> None:
    with fake_tws(tmp_path / "tws", "--more-accounts", "DU7654321") as tws:
        broker, sink = await started(tws)
        await broker.close()
        assert "DU1234567, DU7654321" in sink.messages[-1][1]
        chosen, sink = await started(tws, account="DU1234567")
        try:
            assert sink.messages[-1][0] is ConnectionState.CONNECTED
        finally:
            await chosen.close()


async def test_a_lost_tws_is_reconnected_by_itself(tws: FakeTwsProcess) -> None:
    broker, sink = await started(tws)
    try:
        tws.kill()
        await until(lambda: sink.messages[-1][0] is ConnectionState.DISCONNECTED, "the loss")
        assert not await broker.ping()
        with pytest.raises(BrokerUnavailable):
            await broker.place_order(an_order())
        tws.start()
        await until(lambda: sink.messages[-1][0] is ConnectionState.CONNECTED, "a reconnect")
        assert await broker.ping()
    finally:
        await broker.close()


# ---------------------------------------------------------------------------- orders


async def test_a_resting_limit_order_fills_in_two_parts_with_commissions(
    tws: FakeTwsProcess,
) -> None:
    broker, sink = await started(tws)
    try:
        order = an_order(qty=100, limit="229.00")
        await broker.place_order(order)
        (at_tws,) = tws.orders()
        assert (at_tws["order_ref"], at_tws["status"]) == (order.id, "Submitted")
        await until(lambda: sink.of("order"), "the acknowledgement")
        acknowledged = sink.of("order")[-1]
        assert acknowledged.order_id == order.id
        assert acknowledged.status is OrderStatus.NEW
        assert acknowledged.broker_order_id == str(at_tws["perm_id"])

        tws.quote("AAPL", ask="228.90", ask_size=60)
        await until(lambda: len(sink.of("fee")) == 1, "the first commission")
        tws.quote("AAPL", ask="228.95", ask_size=500)
        await until(lambda: len(sink.of("fee")) == 2, "the second commission")
        fills = sink.of("fill")
        assert [(f.qty, f.price, f.fee, f.order_id) for f in fills] == [
            (60, Decimal("228.90"), None, order.id),
            (40, Decimal("228.95"), None, order.id),
        ]
        executions = tws.executions()
        assert [f.trade_id for f in fills] == [e["exec_id"] for e in executions]
        assert sink.of("fee") == [(e["exec_id"], Decimal(e["commission"])) for e in executions]
        kinds = sink.kinds()
        assert kinds.index("fill") < kinds.index("fee")
        await until(lambda: sink.of("order")[-1].status is OrderStatus.FILLED, "the filled status")
        await until(lambda: sink.of("position"), "the position push")
        (position,) = await broker.query_positions()
        held = tws.state_now()["positions"]["AAPL"]
        assert (position.symbol, position.qty) == ("AAPL.US", 100)
        assert position.avg_cost == Decimal(held["avg_cost"]).quantize(Decimal("0.0001"))
        assert (await broker.query_account()).cash == value(tws, "TotalCashValue", "USD")
    finally:
        await broker.close()


async def test_fills_reported_status_first_are_the_same(tmp_path: Path) -> None:
    with fake_tws(tmp_path / "tws", "--status-first") as tws:
        broker, sink = await started(tws)
        try:
            order = an_order(qty=10, limit="231.00")  # marketable: fills at once
            await broker.place_order(order)
            await until(lambda: sink.of("fee"), "the commission")
            ((fill),) = sink.of("fill")
            assert (fill.qty, fill.price, fill.order_id) == (10, Decimal("230.01"), order.id)
        finally:
            await broker.close()


async def test_a_refusal_is_a_rejection_with_the_reason(tws: FakeTwsProcess) -> None:
    broker, sink = await started(tws)
    try:
        order = an_order(qty=100_000, limit="229.00")
        with pytest.raises(OrderRejected) as refused:
            await broker.place_order(order)
        assert refused.value.reason.value == "broker_refused"
        assert "YOUR ORDER IS NOT ACCEPTED" in refused.value.message
        assert "201" in refused.value.message
        assert sink.of("order") == []  # the engine records the refusal it was answered
        odd_lot = an_order("00700.HK", qty=50, limit="370.00")
        with pytest.raises(OrderRejected, match="board lot"):
            await broker.place_order(odd_lot)
    finally:
        await broker.close()


async def test_cancel_and_a_refused_cancel(tws: FakeTwsProcess) -> None:
    broker, sink = await started(tws)
    try:
        order = an_order("00700.HK", qty=100, limit="370.00")
        await broker.place_order(order)
        await broker.cancel_order(order)
        await until(
            lambda: any(u.status is OrderStatus.CANCELED for u in sink.of("order")), "the cancel"
        )
        assert tws.orders()[0]["status"] == "Cancelled"
        done = an_order(qty=5, limit="231.00")
        await broker.place_order(done)
        await until(lambda: sink.of("fee"), "the fill")
        await broker.cancel_order(done)
        await until(lambda: sink.of("cancel_refused"), "the refusal")
        (refusal,) = sink.of("cancel_refused")
        assert refusal[0] == done.id
        assert "10148" in refusal[2]
    finally:
        await broker.close()


async def test_a_silent_tws_leaves_the_outcome_unknown_and_the_order_is_found(
    tws: FakeTwsProcess,
) -> None:
    broker, _ = await started(tws, order_ack_timeout_s=0.5)
    try:
        tws.command("configure", silent=True)
        order = an_order(qty=10, limit="229.00")
        with pytest.raises(Timeout):
            await broker.place_order(order)
        tws.command("configure", silent=False)
        found = await broker.find_order(order)
        assert found is not None
        assert (found.order_id, found.status) == (order.id, OrderStatus.NEW)
        assert len(tws.orders()) == 1  # sent once
    finally:
        await broker.close()


async def test_orders_and_fills_for_reconciliation(tws: FakeTwsProcess) -> None:
    broker, sink = await started(tws)
    try:
        resting = an_order(qty=10, limit="200.00")
        filled = an_order(qty=10, limit="231.00")
        for order in (resting, filled):
            await broker.place_order(order)
        await until(lambda: sink.of("fee"), "the fill")
        listed = {o.order_id: o for o in await broker.query_orders()}
        assert listed[resting.id].status is OrderStatus.NEW
        assert (listed[filled.id].status, listed[filled.id].filled_qty) == (OrderStatus.FILLED, 10)
        assert all(o.details is None for o in listed.values())
        sink.clear()
        (fill,) = await broker.query_trades()
        (execution,) = tws.executions()
        assert (fill.trade_id, fill.order_id, fill.qty) == (execution["exec_id"], filled.id, 10)
        # from the list, and again as ib_async passes on TWS's report: the engine books it once
        assert set(sink.of("fee")) == {(execution["exec_id"], Decimal(execution["commission"]))}
    finally:
        await broker.close()


async def test_orders_entered_in_tws_carry_their_details(tws: FakeTwsProcess) -> None:
    entered = tws.command("enter_order", symbol="MSFT", action="BUY", qty=5, price="400")
    done = tws.command("enter_order", symbol="AAPL", action="BUY", qty=3, type="MKT")
    other = tws.command(
        "enter_order", symbol="SPY", action="BUY", qty=2, price="580", client_id=99,
        order_ref="strategy-7",
    )  # fmt: skip
    broker, sink = await started(tws)
    try:
        listed = {o.broker_order_id: o for o in await broker.query_orders()}
        working = listed[str(entered["perm_id"])]
        assert working.order_id is None
        assert working.details is not None
        assert (working.details.symbol, working.details.side, working.details.qty) == (
            "MSFT.US",
            Side.BUY,
            5,
        )
        assert working.details.limit_price == Decimal("400.0000")
        assert listed[str(done["perm_id"])].status is OrderStatus.FILLED
        assert listed[str(other["perm_id"])].details is not None  # not our reference
        assert str(done["perm_id"]) in sink.states[EXTERNAL_STATE]
        again = {o.broker_order_id: o for o in await broker.query_orders()}
        assert again[str(done["perm_id"])].details is None  # announced once when completed
        assert again[str(entered["perm_id"])].details is not None  # still working
        fills = await broker.query_trades()
        assert [f.broker_order_id for f in fills] == [str(done["perm_id"])]
        assert fills[0].order_id is None
    finally:
        await broker.close()


async def test_client_zero_hears_of_orders_entered_in_tws_live(tws: FakeTwsProcess) -> None:
    broker, sink = await started(tws, client_id=0)
    try:
        entered = tws.command("enter_order", symbol="MSFT", action="BUY", qty=5, price="419")
        await until(lambda: sink.of("order"), "the order from TWS")
        update = sink.of("order")[-1]
        assert update.broker_order_id == str(entered["perm_id"])
        assert update.order_id is None
        assert update.details is not None
        assert update.details.symbol == "MSFT.US"
        tws.quote("MSFT", ask="418.50")
        await until(lambda: sink.of("fill"), "its fill")
        assert sink.of("fill")[0].broker_order_id == str(entered["perm_id"])
    finally:
        await broker.close()


# ---------------------------------------------------------------------------- market


async def test_contracts_are_looked_up_on_demand(tws: FakeTwsProcess) -> None:
    broker, _ = await started(tws)
    try:
        apple = await broker.contract("AAPL.US")
        assert apple is not None
        assert (apple.name, apple.currency, apple.tick_size) == (
            "APPLE INC",
            "USD",
            Decimal("0.01"),
        )
        tencent = await broker.contract("00700.HK")
        assert tencent is not None
        assert (tencent.currency, tencent.lot_size) == ("HKD", 100)
        berkshire = await broker.contract("BRK.B.US")
        assert berkshire is not None
        assert berkshire.name.startswith("BERKSHIRE")
        assert await broker.contract("NOSUCH.US") is None
        assert await broker.contract("600519.SH") is None
        listed = await broker.contracts("HK", None)
        assert [c.symbol for c in listed] == ["00700.HK"]
    finally:
        await broker.close()


async def test_quote_snapshots_and_streams(tws: FakeTwsProcess) -> None:
    broker, sink = await started(tws)
    try:
        (apple, tencent) = await broker.quotes(["AAPL.US", "00700.HK"])
        assert (apple.bid, apple.ask, apple.last) == (
            Decimal("229.99"),
            Decimal("230.01"),
            Decimal("230.00"),
        )
        assert apple.pre_close == Decimal("228.50")
        assert tencent.bid_size == 500
        with pytest.raises(NotFound, match="354"):
            await broker.quotes(["09988.HK"])
        with pytest.raises(NotFound, match="NOSUCH"):
            await broker.quotes(["NOSUCH.US"])
        await broker.subscribe_quotes(["AAPL.US"])
        tws.quote("AAPL", bid="231.00", ask="231.02", last="231.01")
        await until(
            lambda: any(q.last == Decimal("231.01") for q in sink.of("quote")), "a streamed quote"
        )
        await broker.unsubscribe_quotes(["AAPL.US"])
        sink.clear()
        tws.quote("AAPL", last="232.00")
        tws.state_now()  # the fake has handled the quote
        assert sink.of("quote") == []
        statuses = {s.venue for s in await broker.market_status()}
        assert statuses == {"US", "HK"}
    finally:
        await broker.close()


async def test_delayed_market_data_for_an_unsubscribed_stock(tws: FakeTwsProcess) -> None:
    broker, _ = await started(tws, market_data="delayed")
    try:
        (quote,) = await broker.quotes(["09988.HK"])
        assert quote.last == Decimal("80.00")
    finally:
        await broker.close()


async def test_day_and_other_times_in_force_go_to_tws(tws: FakeTwsProcess) -> None:
    broker, _ = await started(tws)
    try:
        await broker.place_order(an_order(qty=1, limit="200.00", tif=TimeInForce.GTC))
        await broker.place_order(an_order(qty=1, limit="200.00", tif=TimeInForce.IOC))
        assert [o["tif"] for o in tws.orders()] == ["GTC", "IOC"]
    finally:
        await broker.close()
