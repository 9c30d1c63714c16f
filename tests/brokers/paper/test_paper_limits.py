"""Price ticks and daily price limits: on orders, on the simulated market and on fills."""

from decimal import Decimal

import pytest

from tradebridge.brokers.paper.broker import PaperBroker
from tradebridge.brokers.paper.config import ContractRow, PaperSettings
from tradebridge.brokers.paper.rules import PriceBand, price_band
from tradebridge.brokers.paper.universe import build_universe
from tradebridge.domain.enums import OrderStatus, RejectReason, TimeInForce
from tradebridge.domain.errors import OrderRejected, ValidationFailed
from tradebridge.domain.ticks import HK_TICKS, TickLadder

pytestmark = pytest.mark.anyio

D = Decimal
RICH = {"CNY": D(10) ** 9, "HKD": D(10) ** 8, "USD": D(10) ** 8}


@pytest.fixture
def rich(sink) -> PaperBroker:
    return PaperBroker("paper", PaperSettings(cash=RICH), sink)


@pytest.mark.parametrize(
    ("symbol", "lower", "upper"),
    [
        ("600519.SH", "1350.00", "1650.00"),  # main board ±10% of 1500.00
        ("000001.SZ", "10.35", "12.65"),  # main board ±10% of 11.50
        ("688981.SH", "72.00", "108.00"),  # STAR ±20% of 90.00
        ("300750.SZ", "200.00", "300.00"),  # ChiNext ±20% of 250.00
        ("430047.BJ", "10.50", "19.50"),  # BJ ±30% of 15.00
        ("510300.SH", "3.600", "4.400"),  # fund ±10% of 4.000, tick 0.001
        ("cu2601.SHFE", "79980", "92020"),  # copper ±7% of 86000, tick 10
        ("rb2601.SHFE", "2914", "3286"),  # rebar ±6% of 3100
        ("IF2512.CFFEX", "4140.0", "5060.0"),  # CSI 300 futures ±10% of 4600.0
        ("m2601.DCE", "2773", "3127"),  # soybean meal ±6% of 2950
    ],
)
async def test_daily_limits_by_board_and_contract(broker, symbol, lower, upper) -> None:
    instrument = build_universe([])[symbol]
    contract = instrument.contract
    band = price_band(instrument.ticks, contract.pre_close, contract.price_limit_pct)
    assert band == PriceBand(D(lower), D(upper))


@pytest.mark.parametrize(
    ("pre_close", "pct", "lower", "upper"),
    [
        ("10.05", "10", "9.05", "11.06"),  # 9.045 and 11.055 round half up
        ("12.34", "10", "11.11", "13.57"),  # 11.106, 13.574
        ("10.05", "20", "8.04", "12.06"),
        ("0.01", "10", "0.01", "0.01"),  # never below one tick
        ("86005", "7", "79985", "92025"),  # 79984.65, 92025.35 on a tick of 5
    ],
)
def test_limit_prices_round_half_up_to_the_tick(pre_close, pct, lower, upper) -> None:
    tick = D("5") if "." not in pre_close else D("0.01")
    band = price_band(TickLadder.fixed(tick), D(pre_close), D(pct))
    assert band == PriceBand(D(lower), D(upper))


def test_no_limit_is_no_band() -> None:
    assert price_band(HK_TICKS, D("480.0"), None) is None


@pytest.mark.parametrize(
    ("symbol", "side", "price", "offset"),
    [
        ("600519.SH", "buy", "1650.01", None),
        ("600519.SH", "buy", "1349.99", None),
        ("688981.SH", "buy", "108.01", None),
        ("300750.SZ", "buy", "199.99", None),
        ("430047.BJ", "buy", "19.51", None),
        ("510300.SH", "buy", "4.401", None),
        ("cu2601.SHFE", "buy", "92030", "open"),
        ("cu2601.SHFE", "sell", "79970", "open"),
        ("IF2512.CFFEX", "buy", "5060.2", "open"),
        ("m2601.DCE", "sell", "2772", "open"),
    ],
)
async def test_limit_order_outside_the_limits_is_refused_naming_both(
    rich, sink, make_order, symbol, side, price, offset
) -> None:
    qty = 100 if offset is None else 1
    with pytest.raises(OrderRejected) as caught:
        await rich.place_order(make_order(symbol, side, qty, price, offset=offset))
    assert caught.value.reason is RejectReason.PRICE_OUT_OF_LIMITS
    details = caught.value.details
    assert f"outside today's price limits {details['lower_limit']} to {details['upper_limit']}" in (
        caught.value.message
    )
    assert sink.calls == []


@pytest.mark.parametrize(
    ("symbol", "price", "offset"),
    [
        ("600519.SH", "1650.00", None),
        ("600519.SH", "1350.00", None),
        ("430047.BJ", "19.50", None),
        ("cu2601.SHFE", "92020", "open"),
        ("IF2512.CFFEX", "4140.0", "open"),
    ],
)
async def test_limit_order_at_a_limit_is_accepted(rich, make_order, symbol, price, offset):
    qty = 200 if offset is None else 1
    await rich.place_order(make_order(symbol, "buy", qty, price, offset=offset))
    assert len(await rich.query_orders()) == 1


async def test_no_limit_where_the_contract_says_none(sink, make_order) -> None:
    settings = PaperSettings(
        cash=RICH, contracts=[ContractRow(symbol="600519.SH", price_limit_pct="none")]
    )
    broker = PaperBroker("paper", settings, sink)
    await broker.place_order(make_order("600519.SH", "buy", 100, "3000.00"))
    broker.set_quote("600519.SH", last=D("100.00"))
    await broker.place_order(make_order("00700.HK", "buy", 100, "960.0"))  # HK: no limit
    assert len(sink.of("fill")) == 2


async def test_risk_warning_limit_is_a_contract_setting(sink, make_order) -> None:
    settings = PaperSettings(
        cash=RICH, contracts=[ContractRow(symbol="600036.SH", price_limit_pct=D(5))]
    )
    broker = PaperBroker("paper", settings, sink)
    with pytest.raises(OrderRejected, match=r"39\.90 to 44\.10"):  # ±5% of 42.00
        await broker.place_order(make_order("600036.SH", "buy", 100, "44.11"))


@pytest.mark.parametrize(
    ("symbol", "qty", "price", "tick"),
    [
        ("00700.HK", 100, "480.1", "0.2"),  # 200-500: 0.2
        ("09988.HK", 100, "160.05", "0.1"),  # 100-200: 0.1
        ("02800.HK", 500, "26.01", "0.05"),  # 20-100: 0.05
        ("00005.HK", 400, "10.01", "0.02"),  # 10-20: 0.02
        ("600519.SH", 100, "1500.001", "0.01"),
        ("510300.SH", 100, "4.0005", "0.001"),
        ("AAPL.US", 1, "230.001", "0.01"),
        ("cu2601.SHFE", 1, "86005", "10"),
        ("IF2512.CFFEX", 1, "4600.1", "0.2"),
    ],
)
async def test_off_tick_prices_are_refused(rich, make_order, symbol, qty, price, tick) -> None:
    offset = "open" if symbol.endswith(("SHFE", "CFFEX")) else None
    with pytest.raises(OrderRejected) as caught:
        await rich.place_order(make_order(symbol, "buy", qty, price, offset=offset))
    assert caught.value.reason is RejectReason.INVALID_TICK_SIZE
    assert caught.value.details["tick_size"] == tick


@pytest.mark.parametrize(
    ("symbol", "qty", "price"),
    [
        ("02800.HK", 500, "26.05"),
        ("09988.HK", 100, "160.1"),
        ("00005.HK", 400, "9.99"),
        ("00005.HK", 400, "10.02"),
        ("cu2601.SHFE", 1, "86010"),
        ("IF2512.CFFEX", 1, "4600.2"),
    ],
)
async def test_on_tick_prices_are_accepted(rich, make_order, symbol, qty, price) -> None:
    offset = "open" if symbol.endswith(("SHFE", "CFFEX")) else None
    await rich.place_order(make_order(symbol, "buy", qty, price, offset=offset))
    assert len(await rich.query_orders()) == 1


# -- the simulated market stays inside the limits -------------------------------------------


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"last": D("1650.01")}, "last"),
        ({"last": D("1349.99")}, "last"),
        ({"last": D("1600.00"), "bid": D("1300.00")}, "bid"),
        ({"last": D("1600.00"), "ask": D("1700.00")}, "ask"),
        ({"last": D("1800.00"), "pre_close": D("1500.00")}, "last"),
    ],
)
async def test_set_quote_outside_the_limits_is_refused_naming_them(
    broker, sink, fields, field
) -> None:
    with pytest.raises(ValidationFailed) as caught:
        broker.set_quote("600519.SH", **fields)
    assert caught.value.details == {
        "field": field,
        "lower_limit": "1350.00",
        "upper_limit": "1650.00",
        "errors": [{"field": field, "message": caught.value.message}],
    }
    assert "outside today's price limits 1350.00 to 1650.00" in caught.value.message
    assert sink.calls == []


async def test_a_new_pre_close_moves_the_limits(broker, make_order) -> None:
    quote = broker.set_quote("600519.SH", last=D("1700.00"), pre_close=D("1600.00"))
    assert (quote.pre_close, quote.last) == (D("1600.00"), D("1700.00"))
    with pytest.raises(OrderRejected, match=r"1440\.00 to 1760\.00"):
        await broker.place_order(make_order("600519.SH", "buy", 100, "1760.01"))


async def test_at_limit_up_nobody_sells(broker, sink, make_order) -> None:
    quote = broker.set_quote("600519.SH", last=D("1650.00"))
    assert (quote.bid, quote.ask, quote.ask_size) == (D("1649.99"), None, 0)
    assert quote.bid_size == 100_000

    resting = make_order("600519.SH", "buy", 100, "1650.00")
    await broker.place_order(resting)
    await broker.place_order(make_order("600519.SH", "buy", 100))  # market: nothing to take

    assert sink.of("fill") == []
    canceled = sink.of("order")[-1]
    assert (canceled.status, canceled.reason) == (
        OrderStatus.CANCELED,
        "market order: no ask to trade against",
    )
    statuses = {o.order_id: o.status for o in await broker.query_orders()}
    assert statuses[resting.id] is OrderStatus.NEW

    sink.clear()
    broker.set_quote("600519.SH", last=D("1650.00"), ask=D("1650.00"), bid=D("1649.00"))
    assert [(f.order_id, f.price) for f in sink.of("fill")] == [(resting.id, D("1650.00"))]


async def test_at_limit_down_nobody_buys(broker) -> None:
    quote = broker.set_quote("600519.SH", last=D("1350.00"))
    assert (quote.bid, quote.bid_size, quote.ask) == (None, 0, D("1350.01"))


async def test_a_side_with_size_zero_fills_nothing(broker, sink, make_order) -> None:
    broker.set_quote("600519.SH", last=D("1500.00"), ask_size=0)
    order = make_order("600519.SH", "buy", 100, "1500.01")
    await broker.place_order(order)
    assert sink.of("fill") == []
    broker.set_quote("600519.SH", last=D("1500.00"), ask_size=100)
    assert [f.qty for f in sink.of("fill")] == [100]


async def test_fills_happen_at_quoted_prices_inside_the_limits(broker, sink, make_order) -> None:
    """A buy at the upper limit fills at the ask; one resting there fills when the quote
    reaches it, never above. (The property tests check every fill against the band.)"""
    await broker.place_order(make_order("600519.SH", "buy", 100, "1650.00"))
    broker.set_quote("600519.SH", last=D("1500.00"), ask_size=0)
    resting = make_order("600519.SH", "buy", 100, "1650.00", tif=TimeInForce.GTC)
    await broker.place_order(resting)
    broker.set_quote("600519.SH", last=D("1649.00"), ask=D("1650.00"), ask_size=100)
    assert [(f.qty, f.price) for f in sink.of("fill")] == [
        (100, D("1500.01")),
        (100, D("1650.00")),
    ]
