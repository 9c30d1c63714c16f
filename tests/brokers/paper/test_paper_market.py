"""The simulated market (set_quote, quotes, status), connection calls and reset."""

from decimal import Decimal

import pytest

from tradebridge.brokers.paper.broker import PaperBroker
from tradebridge.domain.enums import ConnectionState, MarketStatus, OrderStatus, TimeInForce
from tradebridge.domain.errors import NotFound, ValidationFailed
from tradebridge.domain.symbols import Market

pytestmark = pytest.mark.anyio

MOUTAI = "600519.SH"


async def test_initial_quotes_surround_pre_close(broker, now) -> None:
    moutai, etf, tencent = await broker.quotes([MOUTAI, "510300.SH", "00700.HK"])
    assert (moutai.last, moutai.bid, moutai.ask, moutai.pre_close) == (
        Decimal("1500.00"),
        Decimal("1499.99"),
        Decimal("1500.01"),
        Decimal("1500.00"),
    )
    assert (moutai.bid_size, moutai.ask_size, moutai.time) == (100_000, 100_000, now)
    assert (etf.bid, etf.ask) == (Decimal("3.999"), Decimal("4.001"))
    assert (tencent.bid, tencent.ask) == (Decimal("479.8"), Decimal("480.2"))


async def test_set_quote_defaults_and_push(broker, sink) -> None:
    quote = broker.set_quote(MOUTAI, last=Decimal("1510.00"), bid_size=500, ask_size=700)
    assert sink.of("quote") == [quote]
    assert (quote.bid, quote.ask, quote.bid_size, quote.ask_size, quote.pre_close) == (
        Decimal("1509.99"),
        Decimal("1510.01"),
        500,
        700,
        Decimal("1500.00"),
    )

    again = broker.set_quote(
        MOUTAI, last=Decimal("1505.00"), bid=Decimal("1504.00"), pre_close=Decimal("1490.00")
    )
    assert (again.bid, again.ask, again.bid_size, again.ask_size, again.pre_close) == (
        Decimal("1504.00"),
        Decimal("1505.01"),
        500,
        700,
        Decimal("1490.00"),
    )
    assert await broker.quotes([MOUTAI]) == [again]


async def test_set_quote_at_an_hk_band_edge(broker) -> None:
    quote = broker.set_quote("00005.HK", last=Decimal("10.00"))
    assert (quote.bid, quote.ask) == (Decimal("9.99"), Decimal("10.02"))


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"last": Decimal(0)}, "last", "must be positive"),
        ({"last": Decimal("-1.00")}, "last", "must be positive"),
        ({"last": Decimal("NaN")}, "last", "must be positive"),
        ({"last": Decimal("1500.001")}, "last", "not a multiple of its tick 0.01"),
        ({"last": Decimal("1500.00"), "bid": Decimal("1499.995")}, "bid", "tick"),
        ({"last": Decimal("1500.00"), "ask": Decimal(0)}, "ask", "must be positive"),
        ({"last": Decimal("1500.00"), "pre_close": Decimal("1.001")}, "pre_close", "tick"),
        (
            {"last": Decimal("1500.00"), "bid": Decimal("1500.01")},
            "bid",
            "must be below ask 1500.01",
        ),
        (
            {"last": Decimal("1500.00"), "bid": Decimal("1501"), "ask": Decimal("1501")},
            "bid",
            "below ask",
        ),
        ({"last": Decimal("1500.00"), "bid_size": -1}, "bid_size", "must not be negative"),
        ({"last": Decimal("1500.00"), "ask_size": -5}, "ask_size", "must not be negative"),
    ],
)
async def test_set_quote_validation_names_the_field(broker, sink, fields, field, message) -> None:
    with pytest.raises(ValidationFailed, match=message) as caught:
        broker.set_quote(MOUTAI, **fields)
    assert caught.value.details == {
        "field": field,
        "errors": [{"field": field, "message": caught.value.message}],
    }
    assert MOUTAI in caught.value.message
    assert sink.calls == []


async def test_unknown_symbols_are_not_found(broker) -> None:
    with pytest.raises(NotFound):
        broker.set_quote("000002.SZ", last=Decimal("10.00"))
    with pytest.raises(NotFound):
        await broker.quotes([MOUTAI, "000002.SZ"])
    with pytest.raises(NotFound):
        await broker.subscribe_quotes(["000002.SZ"])
    await broker.subscribe_quotes([MOUTAI])


async def test_market_status_is_always_open(broker) -> None:
    statuses = await broker.market_status()
    venues = ("SH", "SZ", "BJ", "HK", "US", "SHFE", "DCE", "CFFEX")
    assert [(s.venue, s.status, s.broker_status) for s in statuses] == [
        (venue, MarketStatus.OPEN, "always_open") for venue in venues
    ]


async def test_connection_calls_and_capabilities(broker, sink) -> None:
    await broker.connect()
    assert sink.kinds() == ["connection", "account"]
    assert sink.of("connection") == [ConnectionState.CONNECTED]
    assert await broker.ping() is True
    await broker.close()
    assert sink.of("connection")[-1] is ConnectionState.DISCONNECTED

    assert PaperBroker.name == "paper"
    caps = PaperBroker.capabilities
    assert (caps.market_orders, caps.short_selling, caps.quote_streaming) == (True, False, True)
    assert caps.markets == frozenset(Market)
    assert caps.time_in_force == frozenset(TimeInForce)


async def test_default_clock_is_aware_utc(settings, sink) -> None:
    broker = PaperBroker("paper", settings, sink)
    (quote,) = await broker.quotes([MOUTAI])
    assert quote.time.utcoffset() is not None
    assert quote.time.utcoffset().total_seconds() == 0


async def test_reset(broker, sink, make_order) -> None:
    await broker.place_order(make_order(MOUTAI, "buy", 200, "1500.01"))
    await broker.place_order(make_order("AAPL.US", "buy", 5))
    broker.roll_day()
    open_buy = make_order(MOUTAI, "buy", 100, "1400.00")
    open_sell = make_order(MOUTAI, "sell", 100, "1600.00")
    await broker.place_order(open_buy)
    await broker.place_order(open_sell)
    broker.set_quote(MOUTAI, last=Decimal("1450.00"), ask_size=10)
    sink.clear()

    broker.reset()

    updates = sink.of("order")
    assert [(u.order_id, u.status, u.reason) for u in updates] == [
        (open_buy.id, OrderStatus.CANCELED, "reset"),
        (open_sell.id, OrderStatus.CANCELED, "reset"),
    ]
    assert sink.kinds()[:2] == ["order", "order"]
    assert sink.kinds()[-3:] == ["position", "position", "account"]
    assert {(p.symbol, p.qty) for p in sink.of("position")} == {(MOUTAI, 0), ("AAPL.US", 0)}
    assert len(sink.of("quote")) == len(await broker.contracts(None, None))

    summary = sink.of("account")[-1]
    assert (summary.cash, summary.frozen, summary.realized_pnl) == (
        Decimal("1000000.00"),
        Decimal("0.00"),
        Decimal("0.00"),
    )
    assert {(b.currency, b.cash, b.frozen) for b in summary.balances} == {
        ("CNY", Decimal("1000000.00"), Decimal("0.00")),
        ("HKD", Decimal("500000.00"), Decimal("0.00")),
        ("USD", Decimal("100000.00"), Decimal("0.00")),
    }
    assert await broker.query_positions() == []
    (quote,) = await broker.quotes([MOUTAI])
    assert (quote.last, quote.ask, quote.ask_size) == (
        Decimal("1500.00"),
        Decimal("1500.01"),
        100_000,
    )
    statuses = {o.order_id: o.status for o in await broker.query_orders()}
    assert statuses[open_buy.id] is OrderStatus.CANCELED
    assert len(await broker.query_trades()) == 2  # history is kept

    sink.clear()
    broker.set_quote(MOUTAI, last=Decimal("1380.00"))
    assert sink.kinds() == ["quote"]  # canceled orders no longer rest
