"""The fill model (API.md §6), driven through the real PaperBroker and a recording sink."""

from decimal import Decimal

import pytest

from tradebridge.domain.enums import OrderStatus, TimeInForce

pytestmark = pytest.mark.anyio

MOUTAI = "600519.SH"  # initial quote: bid 1499.99, ask 1500.01, 100_000 each side


async def cny(broker):
    summary = await broker.query_account()
    return summary.cash, summary.available, summary.frozen


async def position(broker, symbol):
    return next(p for p in await broker.query_positions() if p.symbol == symbol)


async def status(broker, order):
    return next(o for o in await broker.query_orders() if o.order_id == order.id)


async def test_buy_limit_above_the_ask_fills_at_the_ask(broker, sink, make_order) -> None:
    order = make_order(MOUTAI, "buy", 100, "1510.00")
    await broker.place_order(order)

    (fill,) = sink.of("fill")
    assert (fill.order_id, fill.qty, fill.price, fill.fee) == (
        order.id,
        100,
        Decimal("1500.01"),
        Decimal("39.00"),
    )
    assert await cny(broker) == (Decimal("849960.00"), Decimal("849960.00"), Decimal("0.00"))
    held = await position(broker, MOUTAI)
    assert (held.qty, held.available_qty, held.avg_cost) == (100, 0, Decimal("1500.40"))
    assert (held.last_price, held.market_value, held.unrealized_pnl) == (
        Decimal("1500.00"),
        Decimal("150000.00"),
        Decimal("-40.00"),
    )
    assert (await status(broker, order)).status is OrderStatus.FILLED


async def test_buy_limit_at_the_ask_fills(broker, sink, make_order) -> None:
    await broker.place_order(make_order(MOUTAI, "buy", 200, "1500.01"))
    assert [f.qty for f in sink.of("fill")] == [200]


async def test_immediate_fill_pushes_new_fill_position_account_in_order(
    broker, sink, make_order
) -> None:
    order = make_order(MOUTAI, "buy", 100, "1500.01")
    await broker.place_order(order)

    assert sink.kinds() == ["order", "fill", "position", "account"]
    new = sink.of("order")[0]
    assert (new.order_id, new.status, new.reason) == (order.id, OrderStatus.NEW, None)
    assert new.broker_order_id
    assert sink.of("position")[0].qty == 100
    assert sink.of("account")[0].cash == Decimal("849960.00")


async def test_limit_below_the_ask_rests_then_fills_when_the_ask_comes_down(
    broker, sink, make_order
) -> None:
    order = make_order(MOUTAI, "buy", 100, "1490.00")
    await broker.place_order(order)

    assert sink.kinds() == ["order", "account"]
    # 149000 and the fees of a fill at the limit: commission 37.25, transfer fee 1.49
    assert await cny(broker) == (Decimal("1000000.00"), Decimal("850961.26"), Decimal("149038.74"))

    sink.clear()
    broker.set_quote(MOUTAI, last=Decimal("1495.00"))  # ask 1495.01: still above
    assert sink.kinds() == ["quote"]

    sink.clear()
    broker.set_quote(MOUTAI, last=Decimal("1489.00"))  # ask 1489.01
    assert sink.kinds() == ["quote", "fill", "position", "account"]
    assert sink.of("fill")[0].price == Decimal("1489.01")
    # 148901 + commission 37.23 + transfer fee 1.49; the rest of the freeze is released
    assert await cny(broker) == (Decimal("851060.28"), Decimal("851060.28"), Decimal("0.00"))
    assert (await status(broker, order)).status is OrderStatus.FILLED


async def test_sell_limit_fills_at_the_bid(broker, sink, make_order) -> None:
    await broker.place_order(make_order(MOUTAI, "buy", 300, "1500.01"))
    broker.roll_day()  # T+1
    sink.clear()

    await broker.place_order(make_order(MOUTAI, "sell", 100, "1490.00"))

    (fill,) = sink.of("fill")
    assert (fill.qty, fill.price) == (100, Decimal("1499.99"))
    held = await position(broker, MOUTAI)
    assert (held.qty, held.available_qty) == (200, 200)


async def test_sell_limit_above_the_bid_rests_until_the_bid_rises(broker, sink, make_order) -> None:
    await broker.place_order(make_order(MOUTAI, "buy", 300, "1500.01"))
    broker.roll_day()  # T+1
    sink.clear()

    await broker.place_order(make_order(MOUTAI, "sell", 100, "1520.00"))
    assert sink.kinds() == ["order", "position"]
    assert sink.of("position")[0].available_qty == 200

    sink.clear()
    broker.set_quote(MOUTAI, last=Decimal("1525.00"), bid=Decimal("1524.00"))
    assert sink.of("fill")[0].price == Decimal("1524.00")
    held = await position(broker, MOUTAI)
    assert (held.qty, held.available_qty) == (200, 200)


async def test_market_buy_and_sell_take_the_opposite_side(broker, sink, make_order) -> None:
    await broker.place_order(make_order("AAPL.US", "buy", 10))
    await broker.place_order(make_order("AAPL.US", "sell", 4))

    assert [(f.qty, f.price) for f in sink.of("fill")] == [
        (10, Decimal("230.01")),
        (4, Decimal("229.99")),
    ]
    usd = next(b for b in (await broker.query_account()).balances if b.currency == "USD")
    assert (usd.cash, usd.frozen) == (
        Decimal("98619.83"),
        Decimal("0.00"),
    )  # 100000 - 2300.10 + 919.96 - 0.03 SEC fee on the sell


async def test_partial_fill_by_displayed_size_then_remainder_fills_later(
    broker, sink, make_order
) -> None:
    broker.set_quote(MOUTAI, last=Decimal("1500.00"), ask_size=300)
    order = make_order(MOUTAI, "buy", 500, "1500.01")
    sink.clear()

    await broker.place_order(order)

    assert sink.kinds() == ["order", "fill", "position", "account"]
    assert (sink.of("fill")[0].qty, sink.of("fill")[0].fee) == (300, Decimal("117.00"))
    assert (await status(broker, order)).status is OrderStatus.PARTIALLY_FILLED
    (quote,) = await broker.quotes([MOUTAI])
    assert quote.ask_size == 0
    # still frozen: 200 at 1500.01 and what the order's fee grows by when they fill
    # (195.00 on 750005 in all, less the 117.00 charged)
    assert await cny(broker) == (Decimal("549880.00"), Decimal("249800.00"), Decimal("300080.00"))

    sink.clear()
    broker.set_quote(MOUTAI, last=Decimal("1500.00"))  # sizes as last set: 300 on the ask again
    assert [(f.qty, f.price, f.fee) for f in sink.of("fill")] == [
        (200, Decimal("1500.01"), Decimal("78.00"))
    ]
    record = await status(broker, order)
    assert (record.status, record.filled_qty) == (OrderStatus.FILLED, 500)
    assert (await broker.quotes([MOUTAI]))[0].ask_size == 100
    assert await cny(broker) == (Decimal("249800.00"), Decimal("249800.00"), Decimal("0.00"))


async def test_resting_orders_fill_in_arrival_order(broker, sink, make_order) -> None:
    first = make_order(MOUTAI, "buy", 300, "1490.00")
    second = make_order(MOUTAI, "buy", 300, "1495.00")
    await broker.place_order(first)
    await broker.place_order(second)
    sink.clear()

    broker.set_quote(MOUTAI, last=Decimal("1480.00"), ask_size=400)

    assert [(f.order_id, f.qty) for f in sink.of("fill")] == [(first.id, 300), (second.id, 100)]
    assert (await status(broker, second)).status is OrderStatus.PARTIALLY_FILLED


async def test_ioc_remainder_is_canceled(broker, sink, make_order) -> None:
    broker.set_quote(MOUTAI, last=Decimal("1500.00"), ask_size=300)
    order = make_order(MOUTAI, "buy", 500, "1500.01", tif=TimeInForce.IOC)
    sink.clear()

    await broker.place_order(order)

    assert sink.kinds() == ["order", "fill", "position", "account", "order", "account"]
    canceled = sink.of("order")[1]
    assert (canceled.status, canceled.reason) == (OrderStatus.CANCELED, "ioc: 200 unfilled")
    record = await status(broker, order)
    assert (record.status, record.filled_qty) == (OrderStatus.CANCELED, 300)
    assert (await cny(broker))[2] == Decimal("0.00")


async def test_ioc_that_does_not_cross_is_canceled_whole(broker, sink, make_order) -> None:
    await broker.place_order(make_order(MOUTAI, "buy", 100, "1400.00", tif=TimeInForce.IOC))
    assert sink.kinds() == ["order", "order", "account"]
    assert (await cny(broker))[2] == Decimal("0.00")


async def test_fok_fills_whole_or_is_canceled_whole(broker, sink, make_order) -> None:
    broker.set_quote(MOUTAI, last=Decimal("1500.00"), ask_size=300)
    sink.clear()

    too_big = make_order(MOUTAI, "buy", 400, "1500.01", tif=TimeInForce.FOK)
    await broker.place_order(too_big)
    assert sink.kinds() == ["order", "order", "account"]
    assert sink.of("order")[1].status is OrderStatus.CANCELED
    assert "fok" in sink.of("order")[1].reason
    assert (await broker.quotes([MOUTAI]))[0].ask_size == 300

    sink.clear()
    fits = make_order(MOUTAI, "buy", 300, "1500.01", tif=TimeInForce.FOK)
    await broker.place_order(fits)
    assert [f.qty for f in sink.of("fill")] == [300]
    assert (await status(broker, fits)).status is OrderStatus.FILLED


async def test_market_order_remainder_is_canceled(broker, sink, make_order) -> None:
    broker.set_quote(MOUTAI, last=Decimal("1500.00"), ask_size=100)
    sink.clear()
    order = make_order(MOUTAI, "buy", 300)

    await broker.place_order(order)

    assert sink.kinds() == ["order", "fill", "position", "account", "order", "account"]
    assert sink.of("fill")[0].qty == 100
    assert sink.of("order")[1].status is OrderStatus.CANCELED
    assert (await cny(broker)) == (Decimal("849960.00"), Decimal("849960.00"), Decimal("0.00"))


async def test_market_order_without_an_opposite_side_is_canceled(broker, sink, make_order) -> None:
    await broker.place_order(make_order(MOUTAI, "buy", 100, "1500.01"))
    broker.roll_day()  # T+1
    broker.set_quote(MOUTAI, last=Decimal("1500.00"), bid_size=0)
    sink.clear()

    await broker.place_order(make_order(MOUTAI, "sell", 100))

    assert sink.kinds() == ["order", "order", "position"]
    canceled = sink.of("order")[1]
    assert (canceled.status, canceled.reason) == (
        OrderStatus.CANCELED,
        "market order: no bid to trade against",
    )
    assert (await position(broker, MOUTAI)).available_qty == 100


async def test_fills_are_recorded_as_trades(broker, make_order) -> None:
    order = make_order(MOUTAI, "buy", 100, "1500.01")
    await broker.place_order(order)

    (fill,) = await broker.query_trades()
    assert (fill.order_id, fill.qty, fill.price, fill.fee) == (
        order.id,
        100,
        Decimal("1500.01"),
        Decimal("39.00"),
    )


async def test_hk_fills_come_in_whole_board_lots(broker, sink, make_order) -> None:
    broker.set_quote("00700.HK", last=Decimal("480.0"), ask_size=150)
    order = make_order("00700.HK", "buy", 300, "480.2")
    await broker.place_order(order)

    assert [f.qty for f in sink.of("fill")] == [100]  # 150 shown, one lot of 100 trades
    assert (await broker.quotes(["00700.HK"]))[0].ask_size == 50
    fok = make_order("00700.HK", "buy", 100, "480.2", tif=TimeInForce.FOK)
    await broker.place_order(fok)
    assert (await status(broker, fok)).status is OrderStatus.CANCELED


async def test_a_cn_partial_fill_may_leave_an_odd_lot_to_sell_whole(
    broker, sink, make_order
) -> None:
    broker.set_quote(MOUTAI, last=Decimal("1500.00"), ask_size=150)
    await broker.place_order(make_order(MOUTAI, "buy", 200, "1500.01", tif=TimeInForce.IOC))
    assert [f.qty for f in sink.of("fill")] == [150]
    broker.roll_day()

    await broker.place_order(make_order(MOUTAI, "sell", 50, "1499.99"))  # the odd 50
    await broker.place_order(make_order(MOUTAI, "sell", 100, "1499.99"))
    assert await broker.query_positions() == []


async def test_the_random_walk_book_shows_its_next_level_once_the_touch_is_taken(
    broker, sink, make_order
) -> None:
    """The walk's quotes stand for a deep book: taking the whole ask shows the next tick up,
    with the same size, so the next market order still fills (one tick worse)."""
    etf = "159915.SZ"
    (before,) = await broker.quotes([etf])
    await broker.place_order(make_order(etf, "buy", before.ask_size))
    (after,) = await broker.quotes([etf])
    assert (after.ask, after.ask_size) == (before.ask + Decimal("0.001"), before.ask_size)
    sink.clear()
    await broker.place_order(make_order(etf, "buy", 100))
    assert [(f.qty, f.price) for f in sink.of("fill")] == [(100, after.ask)]


async def test_a_hand_set_quote_shows_exactly_its_size(broker, sink, make_order) -> None:
    broker.set_quote(MOUTAI, last=Decimal("1500.00"), ask_size=300)
    await broker.place_order(make_order(MOUTAI, "buy", 300))
    (quote,) = await broker.quotes([MOUTAI])
    assert (quote.ask, quote.ask_size) == (Decimal("1500.01"), 0)
