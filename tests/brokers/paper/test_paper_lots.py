"""Quantity rules per venue and board: lots, minimums, odd-lot sells, maximum order sizes."""

from decimal import Decimal

import pytest

from tradebridge.brokers.paper.broker import PaperBroker
from tradebridge.brokers.paper.config import ContractRow, PaperSettings
from tradebridge.brokers.paper.rules import check_sell_qty
from tradebridge.brokers.paper.universe import build_universe
from tradebridge.domain.enums import OrderType, RejectReason
from tradebridge.domain.errors import OrderRejected

pytestmark = pytest.mark.anyio

UNIVERSE = build_universe([])
RICH = {"CNY": Decimal(10) ** 10, "HKD": Decimal(10) ** 8, "USD": Decimal(10) ** 8}


@pytest.fixture
def rich(sink) -> PaperBroker:
    """A paper account with cash enough for any size the venue allows."""
    return PaperBroker("paper", PaperSettings(cash=RICH), sink)


def at_pre_close(symbol: str) -> str:
    return str(UNIVERSE[symbol].contract.pre_close)


@pytest.mark.parametrize(
    ("symbol", "qty"),
    [
        ("600519.SH", 100),  # SH main board: multiples of 100
        ("600519.SH", 300),
        ("000001.SZ", 100),  # SZ main board
        ("300750.SZ", 200),  # ChiNext: multiples of 100
        ("510300.SH", 100),  # SH ETF
        ("159915.SZ", 1000),  # SZ ETF
        ("688981.SH", 200),  # STAR: at least 200 ...
        ("688981.SH", 201),  # ... then any whole number
        ("688981.SH", 999),
        ("430047.BJ", 100),  # BJ: at least 100 ...
        ("430047.BJ", 101),  # ... then any whole number
        ("00700.HK", 100),  # HK board lot 100
        ("00700.HK", 300),
        ("02800.HK", 500),  # Tracker Fund: board lot 500
        ("02800.HK", 1500),
        ("00005.HK", 400),
        ("09988.HK", 100),
        ("AAPL.US", 1),  # US: one share
        ("TSLA.US", 7),
    ],
)
async def test_buy_quantities_the_venue_accepts(rich, make_order, symbol, qty) -> None:
    await rich.place_order(make_order(symbol, "buy", qty, at_pre_close(symbol)))
    (record,) = await rich.query_orders()
    assert record.order_id


@pytest.mark.parametrize(
    ("symbol", "qty", "message"),
    [
        ("600519.SH", 150, "not a multiple of its lot of 100 shares"),
        ("600519.SH", 1, "lot of 100"),
        ("000001.SZ", 50, "lot of 100"),
        ("300750.SZ", 250, "lot of 100"),
        ("510300.SH", 150, "lot of 100"),
        ("688981.SH", 199, "needs at least 200 shares, then any whole number"),
        ("688981.SH", 100, "at least 200"),
        ("430047.BJ", 99, "needs at least 100 shares, then any whole number"),
        ("00700.HK", 150, "lot of 100 shares (odd lots are not traded)"),
        ("02800.HK", 100, "lot of 500 shares"),
        ("02800.HK", 750, "lot of 500"),
        ("00005.HK", 100, "lot of 400"),
    ],
)
async def test_buy_quantities_the_venue_refuses(rich, sink, make_order, symbol, qty, message):
    with pytest.raises(OrderRejected) as caught:
        await rich.place_order(make_order(symbol, "buy", qty, at_pre_close(symbol)))
    assert caught.value.reason is RejectReason.INVALID_LOT_SIZE
    assert message in caught.value.message
    assert f"buy {qty} {symbol}" in caught.value.message
    assert sink.calls == []


@pytest.mark.parametrize(
    ("symbol", "qty", "type", "maximum", "kind"),
    [
        ("600519.SH", 1_000_100, OrderType.LIMIT, "1,000,000", "order"),
        ("000001.SZ", 1_000_100, OrderType.LIMIT, "1,000,000", "order"),
        ("300750.SZ", 300_100, OrderType.LIMIT, "300,000", "order"),
        ("300750.SZ", 150_100, OrderType.MARKET, "150,000", "market order"),
        ("688981.SH", 100_001, OrderType.LIMIT, "100,000", "order"),
        ("688981.SH", 50_001, OrderType.MARKET, "50,000", "market order"),
    ],
)
async def test_orders_above_the_maximum_single_order_are_refused(
    rich, sink, make_order, symbol, qty, type, maximum, kind
) -> None:
    price = at_pre_close(symbol) if type is OrderType.LIMIT else None
    with pytest.raises(OrderRejected) as caught:
        await rich.place_order(make_order(symbol, "buy", qty, price, type=type))
    assert caught.value.reason is RejectReason.INVALID_LOT_SIZE
    assert f"the maximum single {kind} is {maximum} shares" in caught.value.message
    assert sink.calls == []


@pytest.mark.parametrize(
    ("symbol", "qty", "type"),
    [
        ("000001.SZ", 1_000_000, OrderType.LIMIT),
        ("300750.SZ", 300_000, OrderType.LIMIT),
        ("300750.SZ", 150_000, OrderType.MARKET),
        ("688981.SH", 100_000, OrderType.LIMIT),
        ("688981.SH", 50_000, OrderType.MARKET),
    ],
)
async def test_orders_at_the_maximum_are_accepted(rich, make_order, symbol, qty, type) -> None:
    rich.set_quote(symbol, last=UNIVERSE[symbol].contract.pre_close, ask_size=10**7)
    price = at_pre_close(symbol) if type is OrderType.LIMIT else None
    await rich.place_order(make_order(symbol, "buy", qty, price, type=type))
    assert len(await rich.query_orders()) == 1


async def test_maximum_sizes_are_contract_settings(sink, make_order) -> None:
    settings = PaperSettings(
        cash=RICH, contracts=[ContractRow(symbol="600519.SH", max_qty=500, min_qty=200)]
    )
    broker = PaperBroker("paper", settings, sink)
    with pytest.raises(OrderRejected, match="maximum single order is 500 shares"):
        await broker.place_order(make_order("600519.SH", "buy", 600, "1500.00"))
    with pytest.raises(OrderRejected, match="at least 200 shares"):
        await broker.place_order(make_order("600519.SH", "buy", 100, "1500.00"))
    await broker.place_order(make_order("600519.SH", "buy", 500, "1500.00"))


# -- sells ---------------------------------------------------------------------------------

MOUTAI = UNIVERSE["600519.SH"]


@pytest.mark.parametrize(
    ("available", "qty", "allowed"),
    [
        (150, 100, True),  # whole lots
        (150, 50, True),  # the whole odd remainder
        (150, 150, True),  # a lot and the odd remainder
        (150, 120, False),
        (150, 20, False),
        (250, 150, True),
        (200, 50, False),  # no odd remainder to sell
        (200, 200, True),
    ],
)
def test_odd_lot_sells_must_sell_the_whole_odd_remainder(available, qty, allowed) -> None:
    if allowed:
        check_sell_qty(MOUTAI, qty, available)
        return
    with pytest.raises(OrderRejected) as caught:
        check_sell_qty(MOUTAI, qty, available)
    assert caught.value.reason is RejectReason.INVALID_LOT_SIZE
    assert "not a multiple of its lot of 100 shares" in caught.value.message


def test_odd_lot_refusal_says_what_would_be_allowed() -> None:
    with pytest.raises(OrderRejected, match="must be the whole odd 50 of the 150 available"):
        check_sell_qty(MOUTAI, 120, 150)
    with pytest.raises(OrderRejected, match="the 200 available hold no odd lot"):
        check_sell_qty(MOUTAI, 50, 200)
    with pytest.raises(OrderRejected, match="odd lots are not traded"):
        check_sell_qty(UNIVERSE["00700.HK"], 50, 150)


async def test_star_sells_below_200_only_when_selling_everything_left(
    rich, sink, make_order
) -> None:
    star = "688981.SH"
    await rich.place_order(make_order(star, "buy", 250, "90.01"))
    rich.roll_day()

    with pytest.raises(OrderRejected) as caught:
        await rich.place_order(make_order(star, "sell", 50, "89.99"))
    assert caught.value.reason is RejectReason.INVALID_LOT_SIZE
    assert "at least 200 shares unless it sells all 250 available" in caught.value.message

    await rich.place_order(make_order(star, "sell", 201, "89.99"))  # 49 left
    await rich.place_order(make_order(star, "sell", 49, "89.99"))  # everything left
    assert await rich.query_positions() == []


async def test_bj_sells_below_100_only_when_selling_everything_left(rich, make_order) -> None:
    bj = "430047.BJ"
    await rich.place_order(make_order(bj, "buy", 130, "15.01"))
    rich.roll_day()
    with pytest.raises(OrderRejected, match="at least 100 shares"):
        await rich.place_order(make_order(bj, "sell", 30, "14.99"))
    await rich.place_order(make_order(bj, "sell", 130, "14.99"))
    assert await rich.query_positions() == []


async def test_hk_sells_are_whole_board_lots(rich, make_order) -> None:
    await rich.place_order(make_order("02800.HK", "buy", 1000, "26.05"))
    with pytest.raises(OrderRejected, match="odd lots are not traded") as caught:
        await rich.place_order(make_order("02800.HK", "sell", 700, "25.95"))
    assert caught.value.reason is RejectReason.INVALID_LOT_SIZE
    await rich.place_order(make_order("02800.HK", "sell", 500, "25.95"))  # T+0


async def test_a_main_board_sell_in_odd_shares_is_refused(rich, make_order) -> None:
    await rich.place_order(make_order("600519.SH", "buy", 200, "1500.01"))
    rich.roll_day()
    with pytest.raises(OrderRejected, match="the 200 available hold no odd lot"):
        await rich.place_order(make_order("600519.SH", "sell", 150, "1499.99"))


async def test_sells_above_the_maximum_are_refused(rich, make_order) -> None:
    with pytest.raises(OrderRejected, match="maximum single order is 100,000 shares") as caught:
        await rich.place_order(make_order("688981.SH", "sell", 100_001, "89.99"))
    assert caught.value.reason is RejectReason.INVALID_LOT_SIZE
