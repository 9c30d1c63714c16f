"""Restarting the engine: the paper books rebuilt from the journal, and every order left open
reconciled with its broker, whatever point a crash interrupted it at."""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from tests.engine.conftest import Harness, start_harness, stop_harness

from tradebridge.brokers.base import (
    Broker,
    BrokerOrder,
    BrokerSink,
    Capabilities,
    Fill,
    OrderUpdate,
    VenueStatus,
)
from tradebridge.brokers.paper.broker import PaperBroker
from tradebridge.brokers.paper.config import PaperSettings
from tradebridge.config import PaperAccount
from tradebridge.domain.enums import ConnectionState, Offset, OrderStatus, OrderType, Side
from tradebridge.domain.models import AccountSummary, Balance, Contract, Position, Quote
from tradebridge.domain.orders import Order, OrderRequest
from tradebridge.engine.protocol import ListOrders, ListTrades
from tradebridge.store.schema import orders

pytestmark = pytest.mark.anyio

MANUAL = PaperAccount(id="paper", paper=PaperSettings(market="manual"))
START_CASH = Decimal(1_000_000)


class Crash(BaseException):
    """Stands for the engine process dying where it is raised (a BaseException, so the
    engine's handling of adapter failures does not catch it)."""


def paper(account: Harness) -> PaperBroker:
    broker = account.account.broker
    assert isinstance(broker, PaperBroker)
    return broker


def request(
    symbol: str,
    side: Side,
    qty: int,
    price: str | None = None,
    offset: Offset | None = None,
    cid: str | None = None,
) -> OrderRequest:
    return OrderRequest(
        symbol=symbol,
        side=side,
        qty=qty,
        type=OrderType.LIMIT if price else OrderType.MARKET,
        limit_price=Decimal(price) if price else None,
        offset=offset,
        client_order_id=cid,
    )


async def set_quote(harness: Harness, symbol: str, last: str, **sizes: int) -> None:
    paper(harness).set_quote(symbol, last=Decimal(last), **sizes)
    await harness.account.flush()


async def books(harness: Harness) -> tuple[AccountSummary, list[Position], list[Order]]:
    account = harness.account
    open_orders = account.list_orders(ListOrders(account="paper", status="open"))
    return await account.summary(), await account.positions(), open_orders


async def history(harness: Harness) -> None:
    """Stocks in three markets, T+1, futures opened and closed across a day, and resting
    orders that froze cash, shares and lots, one of them partly filled."""
    place = harness.account.place
    await place(request("600519.SH", Side.BUY, 200))
    await place(request("AAPL.US", Side.BUY, 10))
    await place(request("00700.HK", Side.BUY, 100))
    await place(request("cu2601.SHFE", Side.BUY, 2, offset=Offset.OPEN))
    await place(request("rb2601.SHFE", Side.SELL, 3, offset=Offset.OPEN))
    paper(harness).advance_clock(advance="next_day")
    await set_quote(harness, "600519.SH", "1510.00")
    await place(request("600519.SH", Side.SELL, 100))
    await place(request("600519.SH", Side.BUY, 100))  # bought today: not sellable (T+1)
    await place(request("cu2601.SHFE", Side.SELL, 1, offset=Offset.CLOSE_YESTERDAY))
    await place(request("rb2601.SHFE", Side.SELL, 2, offset=Offset.OPEN))
    await place(request("rb2601.SHFE", Side.BUY, 1, offset=Offset.CLOSE_TODAY))
    await place(request("000001.SZ", Side.BUY, 500, "11.00", cid="rest-buy"))
    await place(request("600519.SH", Side.SELL, 100, "1600.00", cid="rest-sell"))
    await place(request("cu2601.SHFE", Side.SELL, 1, "90000", Offset.CLOSE, cid="rest-close"))
    await set_quote(harness, "601318.SH", "52.00", ask_size=300)
    await place(request("601318.SH", Side.BUY, 1000, "52.01", cid="rest-partial"))
    await harness.account.flush()


async def afterwards(harness: Harness) -> None:
    """Prices move through every resting order."""
    await set_quote(harness, "000001.SZ", "10.99")
    await set_quote(harness, "600519.SH", "1600.01")
    await set_quote(harness, "cu2601.SHFE", "90010")
    await set_quote(harness, "601318.SH", "52.00", ask_size=10_000)


async def test_a_restart_is_invisible_in_the_books(tmp_path: Path) -> None:
    """The same history with and without a restart in the middle ends in the same books."""
    straight = await start_harness(tmp_path / "straight.db", settings=MANUAL)
    try:
        await history(straight)
        expected_before = await books(straight)
        await afterwards(straight)
        expected_after = await books(straight)
    finally:
        await stop_harness(straight)

    first = await start_harness(tmp_path / "restarted.db", settings=MANUAL)
    await history(first)
    await stop_harness(first)
    second = await start_harness(tmp_path / "restarted.db", settings=MANUAL)
    try:
        summary, positions, open_orders = await books(second)
        assert (summary, positions) == expected_before[:2]
        assert [(o.client_order_id, o.status, o.filled_qty) for o in open_orders] == [
            (o.client_order_id, o.status, o.filled_qty) for o in expected_before[2]
        ]
        assert summary.frozen > 0  # the resting buys still hold their cash
        await afterwards(second)
        assert await books(second) == expected_after
        assert expected_after[2] == []
    finally:
        await stop_harness(second)


async def test_a_reset_and_the_clock_survive_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "reset.db"
    first = await start_harness(path, settings=MANUAL)
    await first.account.place(request("600519.SH", Side.BUY, 100))
    paper(first).reset()
    await first.account.place(request("AAPL.US", Side.BUY, 5))
    moved_to = paper(first).advance_clock(advance="next_day")
    await first.account.flush()
    expected = await books(first)
    await stop_harness(first)

    second = await start_harness(path, settings=MANUAL)
    try:
        assert await books(second) == expected
        assert [p.symbol for p in expected[1]] == ["AAPL.US"]
        assert paper(second).clock.now() >= moved_to
    finally:
        await stop_harness(second)


# -- crash points on the way of one order -----------------------------------------------


def crashing_paper(point: str) -> Callable[[PaperAccount, BrokerSink], Broker]:
    """A paper broker that dies at `point` of the first order's way to the broker."""

    class CrashingPaper(PaperBroker):
        async def place_order(self, order: Order) -> None:
            if point == "committed":
                raise Crash  # the order is journaled; the broker never got it
            self.sink = _Deaf()
            await super().place_order(order)  # the broker takes and fills it...
            raise Crash  # ...and the engine dies before it hears of it

    def factory(settings: PaperAccount, sink: BrokerSink) -> Broker:
        return CrashingPaper(settings.id, settings.paper, sink)

    return factory


class _Deaf:
    """Where broker events go once the engine they were meant for is dead."""

    def __getattr__(self, name: str) -> Callable[..., None]:
        return lambda *args: None


@pytest.mark.parametrize("point", ["committed", "sent"])
async def test_an_order_the_broker_never_acknowledged_is_completed(
    tmp_path: Path, point: str
) -> None:
    path = tmp_path / "crash.db"
    first = await start_harness(path, crashing_paper(point), settings=MANUAL)
    with pytest.raises(Crash):
        await first.account.place(request("600519.SH", Side.BUY, 100, cid="survivor"))
    assert first.account.get_order_by_client_id("survivor").status is OrderStatus.PENDING_NEW
    await stop_harness(first)

    second = await start_harness(path, settings=MANUAL)
    try:
        order = second.account.get_order_by_client_id("survivor")
        assert (order.status, order.filled_qty) == (OrderStatus.FILLED, 100)
        trades = second.account.list_trades(ListTrades(account="paper"))
        assert [(t.order_id, t.qty, t.price) for t in trades] == [
            (order.id, 100, Decimal("1500.01"))
        ]
        summary = await second.account.summary()
        assert summary.cash == START_CASH - Decimal("150001.00") - trades[0].fee
        assert [(p.symbol, p.qty) for p in await second.account.positions()] == [("600519.SH", 100)]
    finally:
        await stop_harness(second)


async def test_an_acknowledged_resting_order_fills_once_after_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "resting.db"
    first = await start_harness(path, settings=MANUAL)
    placed = (await first.account.place(request("600519.SH", Side.BUY, 100, "1490.00"))).order
    frozen = (await first.account.summary()).frozen
    await stop_harness(first)

    second = await start_harness(path, settings=MANUAL)
    try:
        assert second.account.get_order(placed.id).status is OrderStatus.NEW
        assert (await second.account.summary()).frozen == frozen
        await set_quote(second, "600519.SH", "1489.00")
        await set_quote(second, "600519.SH", "1488.00")
        order = second.account.get_order(placed.id)
        assert (order.status, order.filled_qty) == (OrderStatus.FILLED, 100)
        trades = second.account.list_trades(ListTrades(account="paper", order_id=placed.id))
        assert len(trades) == 1
        assert (await second.account.summary()).frozen == 0
    finally:
        await stop_harness(second)


async def test_a_pending_cancel_is_completed_after_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "cancel.db"
    first = await start_harness(path, settings=MANUAL)
    placed = (await first.account.place(request("600519.SH", Side.BUY, 100, "1490.00"))).order
    with first.db.begin() as conn:  # the cancel was journaled, then the engine died
        conn.execute(
            orders.update().where(orders.c.id == placed.id).values(status="pending_cancel")
        )
    await stop_harness(first)

    second = await start_harness(path, settings=MANUAL)
    try:
        assert second.account.get_order(placed.id).status is OrderStatus.CANCELED
        assert (await second.account.summary()).frozen == 0
    finally:
        await stop_harness(second)


# -- reconciling with a broker that keeps its own books ----------------------------------

CONTRACT = Contract(
    symbol="600036.SH",
    name="CMB",
    currency="CNY",
    lot_size=100,
    tick_size=Decimal("0.01"),
    pre_close=Decimal("42.00"),
)


@dataclass
class Venue:
    """A broker's server: it outlives the engine processes that talk to it."""

    orders: dict[str, BrokerOrder] = field(default_factory=dict)
    trades: list[Fill] = field(default_factory=list)
    received: list[str] = field(default_factory=list)

    def fill(self, order_id: str, qty: int) -> None:
        known = self.orders[order_id]
        filled = known.filled_qty + qty
        self.orders[order_id] = BrokerOrder(
            order_id=order_id,
            broker_order_id=known.broker_order_id,
            status=OrderStatus.FILLED,
            filled_qty=filled,
        )
        self.trades.append(
            Fill(
                trade_id=f"T{len(self.trades) + 1}",
                order_id=order_id,
                broker_order_id=known.broker_order_id,
                qty=qty,
                price=Decimal("42.00"),
                fee=Decimal("5.00"),
                time=datetime.now(UTC),
            )
        )

    def end(self, order_id: str, status: OrderStatus) -> None:
        known = self.orders[order_id]
        self.orders[order_id] = BrokerOrder(
            order_id=order_id,
            broker_order_id=known.broker_order_id,
            status=status,
            filled_qty=known.filled_qty,
        )


class RemoteBroker(Broker):
    """An adapter of a broker that keeps its own books (`Venue`); it acknowledges orders
    and reports nothing else by itself."""

    name = "remote"
    capabilities = Capabilities(quote_streaming=False)

    def __init__(self, account_id: str, sink: BrokerSink, venue: Venue, crash: bool) -> None:
        super().__init__(account_id, sink)
        self.venue = venue
        self.crash = crash

    async def connect(self) -> None:
        self.sink.on_connection(ConnectionState.CONNECTED, "remote")

    async def close(self) -> None:
        pass

    async def ping(self) -> bool:
        return True

    async def place_order(self, order: Order) -> None:
        self.venue.received.append(order.client_order_id)
        self.venue.orders[order.id] = BrokerOrder(
            order_id=order.id,
            broker_order_id=f"B-{order.client_order_id}",
            status=OrderStatus.NEW,
            filled_qty=0,
        )
        if self.crash:
            raise Crash  # the broker has it; the engine died before hearing back
        self.sink.on_order_update(
            OrderUpdate(
                order_id=order.id,
                status=OrderStatus.NEW,
                broker_order_id=f"B-{order.client_order_id}",
            )
        )

    async def cancel_order(self, order: Order) -> None:
        self.venue.end(order.id, OrderStatus.CANCELED)
        self.sink.on_order_update(OrderUpdate(order_id=order.id, status=OrderStatus.CANCELED))

    async def query_orders(self) -> list[BrokerOrder]:
        return list(self.venue.orders.values())

    async def query_trades(self) -> list[Fill]:
        return list(self.venue.trades)

    async def query_positions(self) -> list[Position]:
        return []

    async def query_account(self) -> AccountSummary:
        cash = START_CASH
        return AccountSummary(
            account="paper",
            currency="CNY",
            cash=cash,
            available=cash,
            frozen=Decimal(0),
            market_value=Decimal(0),
            equity=cash,
            realized_pnl=Decimal(0),
            unrealized_pnl=Decimal(0),
            balances=[Balance(currency="CNY", cash=cash, available=cash, frozen=Decimal(0))],
        )

    async def contract(self, symbol: str) -> Contract | None:
        return CONTRACT if symbol == CONTRACT.symbol else None

    async def quotes(self, symbols: list[str]) -> list[Quote]:
        return [
            Quote(
                symbol=CONTRACT.symbol,
                last=Decimal("42.00"),
                bid=Decimal("41.99"),
                ask=Decimal("42.01"),
                bid_size=1000,
                ask_size=1000,
                pre_close=Decimal("42.00"),
                time=datetime.now(UTC),
            )
        ]

    async def market_status(self) -> list[VenueStatus]:
        return []

    async def subscribe_quotes(self, symbols: list[str]) -> None:
        pass


async def start_remote(
    path: Path, venue: Venue, *, crash: bool = False, resubmit_within_s: float = 300
) -> Harness:
    def factory(settings: PaperAccount, sink: BrokerSink) -> Broker:
        return RemoteBroker(settings.id, sink, venue, crash)

    settings = PaperAccount(id="paper", resubmit_within_s=resubmit_within_s)
    return await start_harness(path, factory, settings=settings)


def buy(cid: str) -> OrderRequest:
    return request(CONTRACT.symbol, Side.BUY, 100, "42.00", cid=cid)


async def test_reconciliation_takes_what_the_broker_did_while_the_engine_was_down(
    tmp_path: Path,
) -> None:
    path, venue = tmp_path / "remote.db", Venue()
    first = await start_remote(path, venue)
    ids = {cid: (await first.account.place(buy(cid))).order.id for cid in ("a", "b", "c", "d")}
    await first.account.cancel(ids["d"])
    await stop_harness(first)
    crashed = await start_remote(path, venue, crash=True)
    with pytest.raises(Crash):
        await crashed.account.place(buy("e"))
    await stop_harness(crashed)

    venue.fill(ids["a"], 100)  # filled while the engine was down
    venue.end(ids["b"], OrderStatus.CANCELED)  # canceled by the broker (e.g. end of day)
    del venue.orders[ids["c"]]  # gone from the broker's books
    second = await start_remote(path, venue)
    try:
        account = second.account
        a, b, c = (account.get_order(ids[k]) for k in "abc")
        assert (a.status, a.filled_qty, a.avg_fill_price) == (
            OrderStatus.FILLED,
            100,
            Decimal("42.00"),
        )
        assert b.status is OrderStatus.CANCELED
        assert (c.status, c.reject_reason) == (OrderStatus.EXPIRED, "unknown_to_broker")
        e = account.get_order_by_client_id("e")
        assert (e.status, e.broker_order_id) == (OrderStatus.NEW, "B-e")
        assert venue.received.count("e") == 1  # known to the broker: not sent again
        trades = account.list_trades(ListTrades(account="paper"))
        assert [(t.order_id, t.qty) for t in trades] == [(ids["a"], 100)]
    finally:
        await stop_harness(second)

    third = await start_remote(path, venue)  # a second restart changes nothing
    try:
        assert len(third.account.list_trades(ListTrades(account="paper"))) == 1
        assert third.account.get_order(ids["a"]).filled_qty == 100
    finally:
        await stop_harness(third)


@pytest.mark.parametrize(("window", "expected"), [(300, "new"), (0, "expired")])
async def test_an_order_the_broker_never_received_is_sent_only_while_fresh(
    tmp_path: Path, window: float, expected: str
) -> None:
    path, venue = tmp_path / "unsent.db", Venue()

    class Unreachable(RemoteBroker):
        async def place_order(self, order: Order) -> None:
            raise Crash  # died after journaling, before sending

    def factory(settings: PaperAccount, sink: BrokerSink) -> Broker:
        return Unreachable(settings.id, sink, venue, False)

    first = await start_harness(path, factory, settings=MANUAL)
    with pytest.raises(Crash):
        await first.account.place(buy("late"))
    await stop_harness(first)

    second = await start_remote(path, venue, resubmit_within_s=window)
    try:
        order = second.account.get_order_by_client_id("late")
        assert order.status.value == expected
        assert venue.received == (["late"] if expected == "new" else [])
        if expected == "expired":
            assert order.reject_reason == "not_sent_before_restart"
    finally:
        await stop_harness(second)
