"""CN futures: offsets, two-sided positions, today/yesterday on SHFE vs DCE, margin, P&L."""

from decimal import Decimal

import pytest

from tradebridge.brokers.paper.broker import PaperBroker
from tradebridge.brokers.paper.config import ContractRow, PaperSettings
from tradebridge.brokers.paper.futures import CloseSource, close_source, position_direction
from tradebridge.brokers.paper.universe import build_universe
from tradebridge.domain.enums import Direction, Offset, OrderStatus, RejectReason, Side
from tradebridge.domain.errors import OrderRejected, ValidationFailed

pytestmark = pytest.mark.anyio

D = Decimal
CU = "cu2601.SHFE"  # 5 t/lot, tick 10, margin 10%, pre_close 86000: bid 85990, ask 86010
IF = "IF2512.CFFEX"  # 300 per point, tick 0.2, margin 12%, pre_close 4600.0
M = "m2601.DCE"  # 10 t/lot, tick 1, margin 8%, pre_close 2950: bid 2949, ask 2951
LONG, SHORT = Direction.LONG, Direction.SHORT


async def cny(broker):
    summary = await broker.query_account()
    return summary.cash, summary.available, summary.frozen


async def side(broker, symbol, direction):
    return next(
        (
            p
            for p in await broker.query_positions()
            if (p.symbol, p.direction) == (symbol, direction)
        ),
        None,
    )


async def test_a_futures_order_needs_an_offset(broker, sink, make_order) -> None:
    with pytest.raises(ValidationFailed, match="needs an offset") as caught:
        await broker.place_order(make_order(CU, "buy", 1, "86010"))
    assert caught.value.details == {
        "field": "offset",
        "errors": [{"field": "offset", "message": caught.value.message}],
    }
    assert sink.calls == []


async def test_open_long_takes_margin_not_the_notional(broker, sink, make_order) -> None:
    await broker.place_order(make_order(CU, "buy", 1, "86010", offset="open"))

    (fill,) = sink.of("fill")
    assert (fill.qty, fill.price, fill.fee) == (1, D("86010"), D("21.50"))  # 0.005% of 430050
    # cash pays only the fee; the margin 86010 x 5 x 10% is frozen
    assert await cny(broker) == (D("999978.50"), D("956973.50"), D("43005.00"))
    position = await side(broker, CU, LONG)
    assert (position.qty, position.available_qty, position.avg_cost) == (1, 1, D("86010"))
    assert (position.last_price, position.market_value, position.unrealized_pnl) == (
        D("86000"),
        D("430000.00"),
        D("-50.00"),
    )
    assert sink.kinds() == ["order", "fill", "position", "account"]


async def test_a_resting_open_freezes_margin_and_fees_until_filled_or_canceled(
    broker, sink, make_order
) -> None:
    order = make_order(CU, "buy", 2, "85000", offset="open")
    await broker.place_order(order)
    # 85000 x 2 x 5 x 10% margin + 0.005% of 850000
    assert await cny(broker) == (D(1_000_000), D("914957.50"), D("85042.50"))
    assert sink.kinds() == ["order", "account"]

    broker.set_quote(CU, last=D("84500"), ask=D("84500"), bid=D("84490"))

    fill = sink.of("fill")[0]
    assert (fill.qty, fill.price, fill.fee) == (2, D("84500"), D("42.25"))
    # the margin in use is at the fill price
    assert await cny(broker) == (D("999957.75"), D("915457.75"), D("84500.00"))

    other = make_order(CU, "buy", 1, "80000", offset="open")
    await broker.place_order(other)
    await broker.cancel_order(other)
    assert (await cny(broker))[2] == D("84500.00")


async def test_close_realizes_pnl_with_the_multiplier_and_releases_margin(
    broker, sink, make_order
) -> None:
    await broker.place_order(make_order(CU, "buy", 2, "86010", offset="open"))  # fee 43.01
    broker.set_quote(CU, last=D("87000"))  # bid 86990
    sink.clear()

    await broker.place_order(make_order(CU, "sell", 1, offset="close_today"))

    assert sink.of("fill")[0].fee == D("21.75")  # 0.005% of 434950
    assert (await cny(broker))[2] == D("43005.00")  # one lot's margin released
    await broker.place_order(make_order(CU, "sell", 1, offset="close_today"))

    pnl = (D(86990) - D(86010)) * 2 * 5
    cash, available, frozen = await cny(broker)
    assert (cash, available, frozen) == (
        D(1_000_000) - D("43.01") + pnl - D("21.75") - D("21.75"),
        cash,
        0,
    )
    summary = await broker.query_account()
    assert summary.realized_pnl == cash - D(1_000_000)
    assert await broker.query_positions() == []
    last = sink.of("position")[-1]
    assert (last.symbol, last.direction, last.qty) == (CU, LONG, 0)


async def test_short_pnl_and_unrealized_pnl_by_direction(broker, make_order) -> None:
    await broker.place_order(make_order(IF, "sell", 1, offset="open"))  # at the bid 4599.8
    cash, _, frozen = await cny(broker)
    assert frozen == D("165592.80")  # 4599.8 x 300 x 12%
    assert cash == D(1_000_000) - D("69.00")  # 0.005% of 1379940

    broker.set_quote(IF, last=D("4500.0"))
    short = await side(broker, IF, SHORT)
    assert (short.qty, short.avg_cost, short.unrealized_pnl) == (1, D("4599.8"), D("29940.00"))
    assert (await broker.query_account()).unrealized_pnl == D("29940.00")

    await broker.place_order(make_order(IF, "buy", 1, offset="close"))  # at the ask 4500.2
    pnl = (D("4599.8") - D("4500.2")) * 300
    assert await cny(broker) == (D(1_000_000) - D("69.00") + pnl - D("67.50"),) * 2 + (0,)


async def test_long_and_short_are_held_apart(broker, make_order) -> None:
    await broker.place_order(make_order(M, "buy", 3, offset="open"))
    await broker.place_order(make_order(M, "sell", 2, offset="open"))

    positions = {(p.direction, p.qty) for p in await broker.query_positions()}
    assert positions == {(LONG, 3), (SHORT, 2)}
    margin = (D(2951) * 3 + D(2949) * 2) * 10 * D("0.08")
    assert (await cny(broker))[2] == margin

    await broker.place_order(make_order(M, "sell", 3, offset="close"))  # closes the long
    positions = {(p.direction, p.qty) for p in await broker.query_positions()}
    assert positions == {(SHORT, 2)}
    with pytest.raises(OrderRejected) as caught:
        await broker.place_order(make_order(M, "sell", 1, offset="close"))
    assert caught.value.reason is RejectReason.INSUFFICIENT_POSITION
    assert "0 long lots can be closed" in caught.value.message


# -- SHFE / INE keep today's and yesterday's apart; the other venues close yesterday's first --

TODAY, YESTERDAY, EITHER = CloseSource.TODAY, CloseSource.YESTERDAY, CloseSource.EITHER


@pytest.mark.parametrize(
    ("symbol", "close", "close_today", "close_yesterday"),
    [
        ("cu2601.SHFE", YESTERDAY, TODAY, YESTERDAY),
        ("sc2602.INE", YESTERDAY, TODAY, YESTERDAY),
        ("m2601.DCE", EITHER, EITHER, EITHER),
        ("SR601.CZCE", EITHER, EITHER, EITHER),
        ("IF2512.CFFEX", EITHER, EITHER, EITHER),
        ("si2601.GFEX", EITHER, EITHER, EITHER),
    ],
)
def test_which_lots_each_offset_closes_by_venue(symbol, close, close_today, close_yesterday):
    assert [
        close_source(symbol, offset)
        for offset in (Offset.CLOSE, Offset.CLOSE_TODAY, Offset.CLOSE_YESTERDAY)
    ] == [close, close_today, close_yesterday]


@pytest.mark.parametrize(
    ("side", "offset", "direction"),
    [
        (Side.BUY, Offset.OPEN, LONG),
        (Side.SELL, Offset.OPEN, SHORT),
        (Side.SELL, Offset.CLOSE, LONG),
        (Side.BUY, Offset.CLOSE_TODAY, SHORT),
    ],
)
def test_the_side_of_the_book_an_order_works_on(side, offset, direction) -> None:
    assert position_direction(side, offset) is direction


async def test_shfe_close_today_and_close_yesterday(broker, sink, make_order) -> None:
    await broker.place_order(make_order(CU, "buy", 3, offset="open"))

    await broker.place_order(make_order(CU, "sell", 1, offset="close_today"))
    for offset in ("close", "close_yesterday"):
        with pytest.raises(OrderRejected) as caught:
            await broker.place_order(make_order(CU, "sell", 1, offset=offset))
        assert caught.value.reason is RejectReason.INSUFFICIENT_POSITION
        assert caught.value.message == (
            f"{offset} 1 {CU}: 0 of yesterday's long lots can be closed (net of open closing "
            "orders); on SHFE close and close_yesterday take yesterday's lots, close_today "
            "today's"
        )

    broker.roll_day()

    with pytest.raises(OrderRejected, match="0 of today's long lots"):
        await broker.place_order(make_order(CU, "sell", 1, offset="close_today"))
    await broker.place_order(make_order(CU, "sell", 1, offset="close_yesterday"))
    await broker.place_order(make_order(CU, "sell", 1, offset="close"))
    assert await broker.query_positions() == []
    assert len(sink.of("fill")) == 4


async def test_dce_close_takes_yesterdays_lots_first_whatever_the_offset(
    broker, make_order
) -> None:
    await broker.place_order(make_order(M, "buy", 1, offset="open"))  # 2951, yesterday's soon
    broker.roll_day()  # pre_close 2950
    broker.set_quote(M, last=D("3000"))
    await broker.place_order(make_order(M, "buy", 1, offset="open"))  # 3001, today's
    broker.set_quote(M, last=D("3050"))  # bid 3049

    await broker.place_order(make_order(M, "sell", 1, offset="close_today"))  # acts as close

    (long,) = await broker.query_positions()
    assert (long.qty, long.avg_cost) == (1, D("3001"))  # yesterday's lot went first
    realized = (await broker.query_account()).realized_pnl
    fees = D("1.48") + D("1.50") + D("1.52")  # 0.005% of 29510, 30010, 30490
    assert realized == (D(3049) - D(2951)) * 10 - fees

    await broker.place_order(make_order(M, "sell", 1, offset="close_yesterday"))  # as close
    assert await broker.query_positions() == []


async def test_dce_close_can_take_todays_lots(broker, make_order) -> None:
    await broker.place_order(make_order(M, "buy", 2, offset="open"))
    await broker.place_order(make_order(M, "sell", 1, offset="close"))
    await broker.place_order(make_order(M, "sell", 1, offset="close_yesterday"))
    assert await broker.query_positions() == []


async def test_closing_more_than_is_left_after_resting_closes_is_refused(
    broker, sink, make_order
) -> None:
    await broker.place_order(make_order(M, "buy", 2, offset="open"))
    resting = make_order(M, "sell", 1, "3100", offset="close")
    await broker.place_order(resting)
    position = sink.of("position")[-1]
    assert (position.qty, position.available_qty) == (2, 1)
    sink.clear()

    with pytest.raises(OrderRejected) as caught:
        await broker.place_order(make_order(M, "sell", 2, "3100", offset="close"))
    assert caught.value.reason is RejectReason.INSUFFICIENT_POSITION
    assert "1 long lots can be closed (net of open closing orders)" in caught.value.message
    assert sink.calls == []

    await broker.cancel_order(resting)
    assert sink.kinds() == ["order", "position"]
    assert sink.of("position")[0].available_qty == 2
    await broker.place_order(make_order(M, "sell", 2, "3100", offset="close"))


async def test_margin_beyond_the_cash_is_refused(sink, make_order) -> None:
    broker = PaperBroker("paper", PaperSettings(cash={"CNY": D(100_000)}), sink)
    with pytest.raises(OrderRejected) as caught:
        await broker.place_order(make_order(IF, "buy", 1, "4600.2", offset="open"))
    assert caught.value.reason is RejectReason.INSUFFICIENT_FUNDS
    assert caught.value.message == (
        "open long 1 IF2512.CFFEX at 4600.2 needs 165676.20 CNY of margin and fees, "
        "100000.00 available"
    )


async def test_account_totals_with_stocks_and_futures(broker, make_order) -> None:
    await broker.place_order(make_order("600519.SH", "buy", 100, "1500.01"))  # 150040.00
    await broker.place_order(make_order(CU, "buy", 1, offset="open"))  # fee 21.50
    broker.set_quote(CU, last=D("87000"))
    broker.set_quote("600519.SH", last=D("1510.00"))

    summary = await broker.query_account()
    futures_pnl = (D(87000) - D(86010)) * 5
    assert summary.market_value == D("151000.00")  # the stock only
    assert summary.frozen == D("43005.00")  # the margin
    assert summary.cash == D(1_000_000) - D("150040.00") - D("21.50")
    assert summary.available == summary.cash - summary.frozen
    assert summary.unrealized_pnl == D("151000") - D("150040") + futures_pnl
    assert summary.equity == summary.cash + summary.market_value + futures_pnl
    assert summary.equity == D(1_000_000) + summary.realized_pnl + summary.unrealized_pnl


async def test_a_market_open_with_no_opposite_side_is_canceled(broker, sink, make_order) -> None:
    broker.set_quote(CU, last=D("92020"))  # limit-up: no ask
    await broker.place_order(make_order(CU, "buy", 1, offset="open"))
    assert sink.of("order")[-1].status is OrderStatus.CANCELED
    assert (await cny(broker))[2] == 0


# -- futures contract rows ---------------------------------------------------------------------


def test_built_in_futures_contracts() -> None:
    universe = build_universe([])
    cu = universe[CU].contract
    assert (cu.multiplier, cu.tick_size, cu.margin_rate, cu.price_limit_pct) == (
        D(5),
        D(10),
        D("0.10"),
        D(7),
    )
    assert (cu.lot_size, cu.t_plus, cu.currency) == (1, 0, "CNY")
    index = universe[IF].contract
    assert (index.multiplier, index.tick_size, index.margin_rate, index.price_limit_pct) == (
        D(300),
        D("0.2"),
        D("0.12"),
        D(10),
    )
    assert universe["rb2601.SHFE"].contract.price_limit_pct == D(6)
    assert universe[M].contract.margin_rate == D("0.08")


def test_a_new_futures_row_takes_its_limit_from_the_product_table() -> None:
    row = ContractRow(
        symbol="al2602.SHFE",
        pre_close=D(20500),
        multiplier=D(5),
        tick_size=D(5),
        margin_rate=D("0.09"),
    )
    al = build_universe([row])["al2602.SHFE"].contract
    assert (al.price_limit_pct, al.lot_size, al.margin_rate) == (D(7), 1, D("0.09"))


@pytest.mark.parametrize(
    ("row", "problem"),
    [
        (
            ContractRow(symbol="al2602.SHFE", pre_close=D(20500)),
            "a futures contract needs multiplier, tick_size, margin_rate",
        ),
        (
            ContractRow(
                symbol="sc2602.INE",
                pre_close=D(500),
                multiplier=D(1000),
                tick_size=D("0.1"),
                margin_rate=D("0.1"),
            ),
            "price_limit_pct is required",
        ),
        (ContractRow(symbol=CU, t_plus=1), "futures trade T+0"),
    ],
)
def test_incomplete_futures_rows_are_refused(row: ContractRow, problem: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        build_universe([row])
    assert problem in caught.value.message
    assert caught.value.details["symbol"] == row.symbol


def test_a_futures_row_may_have_no_limit() -> None:
    row = ContractRow(
        symbol="sc2602.INE",
        pre_close=D(500),
        multiplier=D(1000),
        tick_size=D("0.1"),
        margin_rate=D("0.1"),
        price_limit_pct="none",
    )
    assert build_universe([row])["sc2602.INE"].contract.price_limit_pct is None
