"""T+1 settlement of CN stocks and `available_qty`; T+0 for ETFs that say so, HK, US."""

from decimal import Decimal

import pytest

from tradebridge.brokers.paper.broker import PaperBroker
from tradebridge.brokers.paper.config import ContractRow, PaperSettings
from tradebridge.domain.enums import RejectReason
from tradebridge.domain.errors import OrderRejected

pytestmark = pytest.mark.anyio

MOUTAI = "600519.SH"


async def held(broker, symbol):
    return next(p for p in await broker.query_positions() if p.symbol == symbol)


async def test_shares_bought_today_cannot_be_sold_until_the_next_day(
    broker, sink, make_order
) -> None:
    await broker.place_order(make_order(MOUTAI, "buy", 200, "1500.01"))
    position = sink.of("position")[-1]
    assert (position.qty, position.available_qty) == (200, 0)
    sink.clear()

    with pytest.raises(OrderRejected) as caught:
        await broker.place_order(make_order(MOUTAI, "sell", 100, "1499.99"))
    assert caught.value.reason is RejectReason.INSUFFICIENT_POSITION
    assert caught.value.message == (
        "sell 100 600519.SH needs 100 shares available, 0 available "
        "(200 held, 200 bought today, sellable from the next trading day (T+1))"
    )
    assert caught.value.details["available_qty"] == 0
    assert sink.calls == []

    broker.roll_day()

    assert (await held(broker, MOUTAI)).available_qty == 200
    await broker.place_order(make_order(MOUTAI, "sell", 100, "1499.99"))
    assert [f.qty for f in sink.of("fill")] == [100]


async def test_available_qty_excludes_todays_buys_and_open_sells(broker, make_order) -> None:
    await broker.place_order(make_order(MOUTAI, "buy", 300, "1500.01"))
    broker.roll_day()
    await broker.place_order(make_order(MOUTAI, "buy", 100, "1500.01"))  # today's
    await broker.place_order(make_order(MOUTAI, "sell", 200, "1600.00"))  # rests, freezes 200

    position = await held(broker, MOUTAI)
    assert (position.qty, position.available_qty) == (400, 100)
    with pytest.raises(OrderRejected) as caught:
        await broker.place_order(make_order(MOUTAI, "sell", 200, "1600.00"))
    assert caught.value.message.endswith(
        "(400 held, 100 bought today, sellable from the next trading day (T+1), "
        "200 frozen by open sell orders)"
    )

    broker.roll_day()  # the open sell was a day order: expired, its shares released
    position = await held(broker, MOUTAI)
    assert (position.qty, position.available_qty) == (400, 400)


async def test_a_same_day_round_trip_in_a_t0_etf(sink, make_order) -> None:
    settings = PaperSettings(contracts=[ContractRow(symbol="510300.SH", t_plus=0)])
    broker = PaperBroker("paper", settings, sink)
    await broker.place_order(make_order("510300.SH", "buy", 1000, "4.001"))
    assert (await held(broker, "510300.SH")).available_qty == 1000
    await broker.place_order(make_order("510300.SH", "sell", 1000, "3.999"))
    assert await broker.query_positions() == []


async def test_an_etf_is_t1_unless_configured(broker, make_order) -> None:
    await broker.place_order(make_order("510300.SH", "buy", 1000, "4.001"))
    with pytest.raises(OrderRejected, match="T\\+1"):
        await broker.place_order(make_order("510300.SH", "sell", 1000, "3.999"))


@pytest.mark.parametrize(
    ("symbol", "qty", "buy", "sell"),
    [
        ("00700.HK", 100, "480.2", "479.8"),
        ("02800.HK", 500, "26.05", "25.95"),
        ("AAPL.US", 3, "230.01", "229.99"),
    ],
)
async def test_hk_and_us_are_t0(broker, make_order, symbol, qty, buy, sell) -> None:
    await broker.place_order(make_order(symbol, "buy", qty, buy))
    assert (await held(broker, symbol)).available_qty == qty
    await broker.place_order(make_order(symbol, "sell", qty, sell))
    assert await broker.query_positions() == []


async def test_t1_also_holds_for_partly_filled_buys(broker, make_order) -> None:
    broker.set_quote(MOUTAI, last=Decimal("1500.00"), ask_size=100)
    await broker.place_order(make_order(MOUTAI, "buy", 300, "1500.01"))
    broker.roll_day()  # the day buy expires with 100 filled
    assert (await held(broker, MOUTAI)).available_qty == 100
