"""The qmt adapter against the xtquant stand-in and a simulated MiniQMT in its own process:
orders by remark, answers lost or -1, pushes on the SDK's thread, reconnection, quotes."""

import asyncio
import functools
import logging
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from tests.brokers import adapter_support
from tests.brokers.qmt.conftest import Started, start_broker
from tests.brokers.qmt.qmt_support import MiniQmtProcess

from tradebridge.brokers.base import JournalSnapshot
from tradebridge.brokers.qmt import adapter as qmt_adapter
from tradebridge.brokers.qmt.mapping import remark_of
from tradebridge.domain.enums import (
    ConnectionState,
    MarketStatus,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
)
from tradebridge.domain.errors import BrokerUnavailable, NotCancelable, OrderRejected, Timeout
from tradebridge.domain.orders import Order, OrderRequest, new_order
from tradebridge.ids import IdGenerator

pytestmark = pytest.mark.anyio
IDS = IdGenerator()


def an_order(
    symbol: str = "600000.SH",
    side: Side = Side.BUY,
    qty: int = 200,
    price: str | None = "10.00",
    tif: TimeInForce = TimeInForce.DAY,
) -> Order:
    request = OrderRequest(
        symbol=symbol,
        side=side,
        qty=qty,
        type=OrderType.LIMIT if price else OrderType.MARKET,
        limit_price=Decimal(price) if price else None,
        time_in_force=tif,
    )
    order_id = IDS.new_id()
    return new_order(
        request, order_id=order_id, client_order_id=order_id, account="qmt", now=datetime.now(UTC)
    )


until = functools.partial(adapter_support.until, within=10)


def updates_of(qmt: Started, order: Order) -> list[Any]:
    return [u for u in qmt.sink.of("order") if u.order_id == order.id]


async def test_it_connects_off_the_loop_and_subscribes_the_account(
    qmt: Started, sim: MiniQmtProcess
) -> None:
    assert qmt.sink.of("connection")[-1] is ConnectionState.CONNECTED
    assert await qmt.broker.ping()
    state = sim.state()
    assert len(state["sessions"]) == 1
    assert state["subscribed"] == state["sessions"]
    # XtQuantTrader sets the event loop of the thread that builds it: not the engine's
    assert asyncio.get_event_loop_policy().get_event_loop() is asyncio.get_running_loop()


async def test_books_come_from_the_asset_and_the_positions(
    qmt: Started, sim: MiniQmtProcess
) -> None:
    sim.call("set_cash", account="55001234", cash=500_000)
    sim.call("set_position", account="55001234", code="600000.SH", volume=1000, avg_price=9.5)
    summary = await qmt.broker.query_account()
    assert (summary.available, summary.frozen, summary.currency) == (Decimal(500_000), 0, "CNY")
    assert summary.equity == Decimal(500_000) + Decimal(10_000)  # 1000 at the pre-close 10.00
    (position,) = await qmt.broker.query_positions()
    assert (position.symbol, position.qty, position.available_qty) == ("600000.SH", 1000, 1000)
    assert (position.avg_cost, position.unrealized_pnl) == (Decimal("9.5"), Decimal(500))


async def test_a_limit_buy_fills_in_two_parts_with_our_id_as_remark(
    qmt: Started, sim: MiniQmtProcess
) -> None:
    order = an_order(qty=200)
    await qmt.broker.place_order(order)
    (placed,) = sim.orders()
    assert (placed["order_remark"], placed["strategy_name"]) == (remark_of(order.id), "tradebridge")
    assert (placed["order_type"], placed["price_type"], placed["price"]) == (23, 11, 10.0)
    broker_order_id = str(placed["order_id"])
    first = updates_of(qmt, order)[0]
    assert (first.status, first.broker_order_id) == (OrderStatus.PENDING_NEW, broker_order_id)
    assert {u.broker_order_id for u in updates_of(qmt, order)} == {broker_order_id}
    await until(lambda: OrderStatus.NEW in [u.status for u in updates_of(qmt, order)], "new")

    for _ in range(2):
        sim.call("set_quote", code="600000.SH", last=10, ask="9.99", ask_size=100)
    fills = await until(lambda: len(qmt.sink.of("fill")) == 2 and qmt.sink.of("fill"), "fills")
    assert [(f.order_id, f.qty, f.price) for f in fills] == [(order.id, 100, Decimal("9.99"))] * 2
    assert len({f.trade_id for f in fills}) == 2
    assert all(f.fee == Decimal(5) for f in fills)  # the simulated counter's minimum commission
    statuses = [u.status for u in updates_of(qmt, order)]
    assert statuses[-1] is OrderStatus.FILLED
    assert qmt.sink.of("position")[-1].qty == 200
    assert qmt.sink.of("account")[-1].frozen == 0


async def test_a_refusal_arrives_through_the_order_error_with_its_message(
    qmt: Started, sim: MiniQmtProcess
) -> None:
    order = an_order(qty=1_000_000)  # ten million CNY: more than the account has
    await qmt.broker.place_order(order)
    rejected = await until(
        lambda: [u for u in updates_of(qmt, order) if u.status is OrderStatus.REJECTED], "rejected"
    )
    assert rejected[0].reason == "[COUNTER] [251005][可用资金不足]"


async def test_minus_one_is_looked_up_by_remark_before_it_is_called_refused(
    qmt: Started, sim: MiniQmtProcess
) -> None:
    sim.call("next_order", how="minus_one", error_msg="[COUNTER] 系统忙，请稍后再试")
    refused = an_order()
    with pytest.raises(OrderRejected, match="系统忙") as caught:
        await qmt.broker.place_order(refused)
    assert caught.value.details["reason"] == "broker_refused"
    assert sim.orders() == []

    sim.call("next_order", how="minus_one_live")
    live = an_order()
    await qmt.broker.place_order(live)  # -1, yet MiniQMT has it: live, not refused
    (placed,) = sim.orders()
    assert placed["order_remark"] == remark_of(live.id)
    assert any(u.broker_order_id == str(placed["order_id"]) for u in updates_of(qmt, live))
    assert OrderStatus.REJECTED not in [u.status for u in updates_of(qmt, live)]


async def test_minus_one_that_cannot_be_looked_up_is_an_unknown_outcome(
    qmt: Started, sim: MiniQmtProcess
) -> None:
    """Not refused (it may be live), nor `BrokerUnavailable` (which says it never left)."""
    sim.call("next_order", how="minus_one_live")
    sim.call("fail_queries", what=["orders"])
    order = an_order()
    with pytest.raises(Timeout, match="could not be asked"):
        await qmt.broker.place_order(order)
    assert OrderStatus.REJECTED not in [u.status for u in updates_of(qmt, order)]
    sim.call("fail_queries", what=[])
    found = await qmt.broker.find_order(order)
    assert found is not None
    assert (found.order_id, found.status) == (order.id, OrderStatus.NEW)


async def test_a_lost_answer_is_an_unknown_outcome_found_by_remark(
    qmt: Started, sim: MiniQmtProcess
) -> None:
    sim.call("next_order", how="drop_response")
    order = an_order()
    with pytest.raises(Timeout, match="looked up by its remark"):
        await qmt.broker.place_order(order)
    found = await qmt.broker.find_order(order)
    assert found is not None
    assert (found.order_id, found.status) == (order.id, OrderStatus.NEW)
    assert len(sim.order_by_remark(remark_of(order.id))) == 1


async def test_an_answer_that_comes_after_the_engine_gave_up_still_tells_the_order(
    sim: MiniQmtProcess, standin: None
) -> None:
    qmt = await start_broker(sim, request_timeout_s=10)
    try:
        sim.call("remark_limit", length=0)  # its pushes name it by MiniQMT's id alone
        sim.call("next_order", how="late_response", delay_s=1.0)
        order = an_order()
        with pytest.raises(TimeoutError):  # as the engine's own limit cancels the placement
            await asyncio.wait_for(qmt.broker.place_order(order), 0.3)
        (placed,) = sim.orders()
        told = await until(
            lambda: [u for u in updates_of(qmt, order) if u.status is OrderStatus.PENDING_NEW],
            "the late answer reported",
        )
        assert told[0].broker_order_id == str(placed["order_id"])
    finally:
        await qmt.broker.close()


async def test_an_order_whose_remark_the_counter_dropped_is_still_ours(
    qmt: Started, sim: MiniQmtProcess
) -> None:
    sim.call("remark_limit", length=0)
    order = an_order()
    await qmt.broker.place_order(order)
    sim.call("set_quote", code="600000.SH", last=10, ask="10.00", ask_size=200)
    (fill,) = await until(lambda: qmt.sink.of("fill"), "the fill")
    (placed,) = sim.orders()
    assert placed["order_remark"] == ""
    assert fill.order_id == order.id
    updates = qmt.sink.of("order")
    assert all(u.order_id == order.id and u.details is None for u in updates)
    (listed,) = await qmt.broker.query_orders()
    assert (listed.order_id, listed.details) == (order.id, None)


async def test_a_connection_lost_before_the_answer_leaves_the_outcome_unknown(
    sim: MiniQmtProcess, standin: None
) -> None:
    qmt = await start_broker(sim, request_timeout_s=10)
    try:
        sim.call("next_order", how="drop_response")
        order = an_order()
        placing = asyncio.create_task(qmt.broker.place_order(order))
        await until(lambda: sim.orders(), "MiniQMT to have the order")
        sim.call("disconnect")
        with pytest.raises(Timeout, match="looked up by its remark"):
            await asyncio.wait_for(placing, 5)  # not BrokerUnavailable: it was sent
    finally:
        await qmt.broker.close()


async def test_cancel_and_a_refused_cancel(qmt: Started, sim: MiniQmtProcess) -> None:
    order = an_order()
    await qmt.broker.place_order(order)
    broker_order_id = updates_of(qmt, order)[0].broker_order_id
    placed = Order(**{**_fields(order), "broker_order_id": broker_order_id})
    await qmt.broker.cancel_order(placed)
    await until(lambda: updates_of(qmt, order)[-1].status is OrderStatus.CANCELED, "canceled")
    assert OrderStatus.PENDING_CANCEL in [u.status for u in updates_of(qmt, order)]
    with pytest.raises(NotCancelable, match="不能撤单"):
        await qmt.broker.cancel_order(placed)
    with pytest.raises(NotCancelable, match="no MiniQMT order id"):
        await qmt.broker.cancel_order(an_order())


def _fields(order: Order) -> dict[str, Any]:
    return {name: getattr(order, name) for name in order.__struct_fields__}


async def test_market_orders_and_what_qmt_does_not_take(qmt: Started, sim: MiniQmtProcess) -> None:
    sim.call("set_quote", code="000001.SZ", last=11, ask="11.01", ask_size=300)
    order = an_order("000001.SZ", qty=500, price=None, tif=TimeInForce.IOC)
    await qmt.broker.place_order(order)
    (placed,) = sim.orders()
    assert placed["price_type"] == 47  # SZ: best five levels, the rest canceled
    await until(lambda: updates_of(qmt, order)[-1].status is OrderStatus.CANCELED, "rest canceled")
    assert [f.qty for f in qmt.sink.of("fill")] == [300]
    with pytest.raises(OrderRejected, match="day orders"):
        await qmt.broker.place_order(an_order(tif=TimeInForce.IOC))


async def test_an_order_placed_in_the_terminal_is_reported_with_its_details(
    qmt: Started, sim: MiniQmtProcess
) -> None:
    order_id = sim.call(
        "terminal_order", account="55001234", code="510300.SH", side="buy", volume=1000, price=3.9
    )
    update = await until(
        lambda: next((u for u in qmt.sink.of("order") if u.broker_order_id == str(order_id)), None),
        "the terminal's order",
    )
    assert update.order_id is None
    details = update.details
    assert (details.symbol, details.side, details.qty) == ("510300.SH", Side.BUY, 1000)
    assert (details.type, details.limit_price) == (OrderType.LIMIT, Decimal("3.9"))
    (listed,) = await qmt.broker.query_orders()
    assert (listed.order_id, listed.details) == (None, details)


async def test_an_unknown_xtquant_value_is_an_error_naming_it(
    qmt: Started, sim: MiniQmtProcess, caplog: pytest.LogCaptureFixture
) -> None:
    order = an_order()
    await qmt.broker.place_order(order)
    (placed,) = sim.orders()
    await until(lambda: qmt.sink.of("account"), "the pushes of the placement (the last: asset)")
    before = len(qmt.sink.calls)
    with caplog.at_level(logging.ERROR):
        sim.call("push", account="55001234", kind="order", data={**placed, "order_status": 99})
        await until(lambda: "unknown SDK value 99" in caplog.text, "the error")
    assert "xtquant order_status" in caplog.text
    assert len(qmt.sink.calls) == before


async def test_a_lost_link_is_reported_and_reconnected_by_itself(
    qmt: Started, sim: MiniQmtProcess
) -> None:
    (first,) = sim.state()["sessions"]
    sim.call("disconnect")
    await until(
        lambda: qmt.sink.of("connection")[-1] is ConnectionState.DISCONNECTED, "disconnected"
    )
    with pytest.raises(BrokerUnavailable):
        await qmt.broker.place_order(an_order())
    await asyncio.sleep(1.0)  # attempts meanwhile are refused
    sim.call("accept")
    await until(lambda: qmt.sink.of("connection")[-1] is ConnectionState.CONNECTED, "reconnected")
    state = sim.state()
    assert len(state["sessions"]) == 1
    assert state["sessions"] != [first]
    assert state["subscribed"] == state["sessions"]
    order = an_order()
    await qmt.broker.place_order(order)
    await until(lambda: OrderStatus.NEW in [u.status for u in updates_of(qmt, order)], "new")


async def test_a_miniqmt_that_stops_answering_counts_as_lost(
    sim: MiniQmtProcess, standin: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(qmt_adapter, "WATCH_EVERY_S", 0.3)
    qmt = await start_broker(sim, request_timeout_s=0.5)
    try:
        sim.call("stall")
        await until(
            lambda: qmt.sink.of("connection")[-1] is ConnectionState.DISCONNECTED,
            "the watchdog",
        )
        sim.call("stall", on=False)
        await until(lambda: qmt.sink.of("connection")[-1] is ConnectionState.CONNECTED, "back")
    finally:
        await qmt.broker.close()


async def test_orders_left_open_are_known_by_their_remark_after_a_restart(
    sim: MiniQmtProcess, standin: None
) -> None:
    order = an_order()
    first = await start_broker(sim)
    await first.broker.place_order(order)
    await first.broker.close()
    again = await start_broker(sim)
    try:
        await again.broker.restore(JournalSnapshot(fills=[], open_orders=[order], state={}))
        sim.call("set_quote", code="600000.SH", last=10, ask="10.00", ask_size=200)
        (fill,) = await until(lambda: again.sink.of("fill"), "the fill")
        assert fill.order_id == order.id
        (listed,) = await again.broker.query_orders()
        assert (listed.order_id, listed.status) == (order.id, OrderStatus.FILLED)
        assert listed.details is None
        (trade,) = await again.broker.query_trades()
        assert trade.trade_id == fill.trade_id
    finally:
        await again.broker.close()


async def test_a_credit_account_trades_collateral_buys(sim: MiniQmtProcess, standin: None) -> None:
    qmt = await start_broker(sim, account_id="55009999", account_type="CREDIT")
    try:
        await qmt.broker.place_order(an_order())
        (placed,) = sim.orders("55009999")
        assert (placed["account_type"], placed["order_type"]) == (3, 23)
    finally:
        await qmt.broker.close()


async def test_quotes_contracts_and_market_status(qmt: Started, sim: MiniQmtProcess) -> None:
    sim.call("set_quote", code="113025.SH", last="131.5", bid="131.4", ask="131.6", ask_size=50)
    (quote,) = await qmt.broker.quotes(["113025.SH"])
    assert (quote.last, quote.bid, quote.ask, quote.ask_size) == (
        Decimal("131.5"),
        Decimal("131.4"),
        Decimal("131.6"),
        50,
    )
    with pytest.raises(Exception, match=r"no quote for 600999\.SH"):
        await qmt.broker.quotes(["600999.SH"])
    bond = await qmt.broker.contract("113025.SH")
    assert bond is not None
    assert (bond.name, bond.lot_size, bond.tick_size, bond.t_plus) == (
        "明泰转债",
        10,
        Decimal("0.001"),
        0,
    )
    assert await qmt.broker.contract("000001.SH") is None  # the SSE index: not tradable
    assert await qmt.broker.contract("600999.SH") is None  # unknown to MiniQMT

    await qmt.broker.subscribe_quotes(["600000.SH"])
    sim.call("set_quote", code="600000.SH", last="10.05", bid="10.04", ask="10.05", bid_size=700)
    pushed = await until(lambda: qmt.sink.of("quote"), "a pushed quote")
    assert (pushed[-1].symbol, pushed[-1].last, pushed[-1].bid_size) == (
        "600000.SH",
        Decimal("10.05"),
        700,
    )
    await qmt.broker.unsubscribe_quotes(["600000.SH"])
    assert sim.state()["quote_subscriptions"] == []

    venues = {v.venue: v for v in await qmt.broker.market_status()}
    assert set(venues) == {"SH", "SZ", "BJ"}
    assert all(v.status in set(MarketStatus) for v in venues.values())
