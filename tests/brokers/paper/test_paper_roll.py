"""`roll_day`: end of the trading day (expiry, T+1, pre_close, futures lots) and `reset`."""

from decimal import Decimal

import pytest

from tradebridge.domain.enums import Direction, OrderStatus, TimeInForce
from tradebridge.domain.errors import OrderRejected

pytestmark = pytest.mark.anyio

D = Decimal
MOUTAI = "600519.SH"
CU = "cu2601.SHFE"
GTC = TimeInForce.GTC


async def statuses(broker):
    return {o.order_id: o.status for o in await broker.query_orders()}


async def test_day_orders_expire_and_release_their_freezes_gtc_orders_stay(
    broker, sink, make_order
) -> None:
    await broker.place_order(make_order(MOUTAI, "buy", 200, "1500.01"))
    broker.roll_day()
    day_buy = make_order(MOUTAI, "buy", 100, "1400.00")
    gtc_buy = make_order(MOUTAI, "buy", 100, "1410.00", tif=GTC)
    day_sell = make_order(MOUTAI, "sell", 100, "1600.00")
    gtc_sell = make_order(MOUTAI, "sell", 100, "1610.00", tif=GTC)
    for order in (day_buy, gtc_buy, day_sell, gtc_sell):
        await broker.place_order(order)
    sink.clear()

    broker.roll_day()

    expired = [(u.order_id, u.status, u.reason) for u in sink.of("order")]
    assert expired == [
        (day_buy.id, OrderStatus.EXPIRED, "end of day"),
        (day_sell.id, OrderStatus.EXPIRED, "end of day"),
    ]
    assert sink.kinds()[:4] == ["order", "account", "order", "position"]
    assert sink.kinds()[-1] == "account"
    now = await statuses(broker)
    assert (now[gtc_buy.id], now[gtc_sell.id]) == (OrderStatus.NEW, OrderStatus.NEW)
    summary = await broker.query_account()
    assert summary.frozen == D("141036.66")  # the gtc buy alone: 141000 + 35.25 + 1.41
    (position,) = await broker.query_positions()
    assert (position.qty, position.available_qty) == (200, 100)


async def test_pre_close_rolls_to_the_last_price_and_the_limits_follow(
    broker, sink, make_order
) -> None:
    broker.set_quote(MOUTAI, last=D("1650.00"), bid_size=700, ask_size=300)  # limit-up
    with pytest.raises(OrderRejected, match=r"1350\.00 to 1650\.00"):
        await broker.place_order(make_order(MOUTAI, "buy", 100, "1700.00"))
    sink.clear()

    broker.roll_day()

    quote = next(q for q in sink.of("quote") if q.symbol == MOUTAI)
    assert (quote.pre_close, quote.last, quote.bid, quote.ask) == (
        D("1650.00"),
        D("1650.00"),
        D("1649.99"),
        D("1650.01"),
    )
    assert (quote.bid_size, quote.ask_size) == (700, 300)
    assert len(sink.of("quote")) == len(await broker.contracts(None, None))
    await broker.place_order(make_order(MOUTAI, "buy", 100, "1815.00"))  # the new upper limit
    with pytest.raises(OrderRejected, match=r"1485\.00 to 1815\.00"):
        await broker.place_order(make_order(MOUTAI, "buy", 100, "1815.01"))


async def test_roll_restores_depth_and_fills_gtc_orders_the_new_quote_crosses(
    broker, sink, make_order
) -> None:
    broker.set_quote(MOUTAI, last=D("1500.00"), ask=D("1520.00"))
    order = make_order(MOUTAI, "buy", 100, "1510.00", tif=GTC)
    await broker.place_order(order)
    assert sink.of("fill") == []
    sink.clear()

    broker.roll_day()  # reopens at 1499.99 / 1500.01

    kinds = sink.kinds()
    assert kinds.index("fill") > max(i for i, k in enumerate(kinds) if k == "quote")
    assert [(f.order_id, f.price) for f in sink.of("fill")] == [(order.id, D("1500.01"))]


async def test_futures_lots_become_yesterdays_and_todays_closes_expire(
    broker, sink, make_order
) -> None:
    await broker.place_order(make_order(CU, "buy", 3, offset="open"))
    close_today = make_order(CU, "sell", 1, "90000", offset="close_today", tif=GTC)
    await broker.place_order(close_today)
    sink.clear()

    broker.roll_day()

    (update,) = sink.of("order")
    assert (update.order_id, update.status) == (close_today.id, OrderStatus.EXPIRED)
    assert update.reason == "end of day: today's lots become yesterday's"
    (position,) = await broker.query_positions()
    assert (position.direction, position.qty, position.available_qty) == (Direction.LONG, 3, 3)
    with pytest.raises(OrderRejected, match="0 of today's long lots"):
        await broker.place_order(make_order(CU, "sell", 1, offset="close_today"))
    gtc_close = make_order(CU, "sell", 3, "90000", offset="close_yesterday", tif=GTC)
    await broker.place_order(gtc_close)
    broker.roll_day()
    assert (await statuses(broker))[gtc_close.id] is OrderStatus.NEW


async def test_roll_pushes_every_position_then_the_account(broker, sink, make_order) -> None:
    await broker.place_order(make_order(MOUTAI, "buy", 100, "1500.01"))
    await broker.place_order(make_order(CU, "sell", 1, offset="open"))
    sink.clear()

    broker.roll_day()

    pushed = [(p.symbol, p.qty, p.available_qty) for p in sink.of("position")]
    assert pushed == [(MOUTAI, 100, 100), (CU, 1, 1)]
    assert sink.kinds()[-3:] == ["position", "position", "account"]


async def test_reset_clears_futures_t1_and_limits(broker, sink, make_order) -> None:
    await broker.place_order(make_order(MOUTAI, "buy", 100, "1500.01"))
    await broker.place_order(make_order(CU, "buy", 2, offset="open"))
    await broker.place_order(make_order(CU, "sell", 1, "87000", offset="close_today"))
    broker.set_quote(MOUTAI, last=D("1650.00"))
    broker.roll_day()  # pre_close 1650.00
    sink.clear()

    broker.reset()

    assert [(u.status, u.reason) for u in sink.of("order")] == []  # the day close expired
    zeroed = {(p.symbol, p.direction, p.qty) for p in sink.of("position")}
    assert zeroed == {(MOUTAI, None, 0), (CU, Direction.LONG, 0)}
    summary = sink.of("account")[-1]
    assert (summary.cash, summary.frozen, summary.realized_pnl) == (
        D("1000000.00"),
        D("0.00"),
        D("0.00"),
    )
    (quote,) = await broker.quotes([MOUTAI])
    assert quote.pre_close == D("1500.00")
    with pytest.raises(OrderRejected, match=r"1350\.00 to 1650\.00"):
        await broker.place_order(make_order(MOUTAI, "buy", 100, "1700.00"))
    await broker.place_order(make_order(MOUTAI, "buy", 100, "1500.01"))
    with pytest.raises(OrderRejected, match="T\\+1"):
        await broker.place_order(make_order(MOUTAI, "sell", 100, "1499.99"))


async def test_reset_cancels_open_closes_and_opens(broker, sink, make_order) -> None:
    await broker.place_order(make_order(CU, "buy", 2, offset="open"))
    close = make_order(CU, "sell", 1, "87000", offset="close_today")
    open_ = make_order(CU, "buy", 1, "85000", offset="open")
    await broker.place_order(close)
    await broker.place_order(open_)
    sink.clear()

    broker.reset()

    assert [(u.order_id, u.reason) for u in sink.of("order")] == [
        (close.id, "reset"),
        (open_.id, "reset"),
    ]
    assert await broker.query_positions() == []
    assert (await broker.query_account()).frozen == 0
