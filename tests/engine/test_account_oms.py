"""The engine's order book of record, driven directly over a real journal and paper broker."""

import asyncio
import shutil
import sqlite3
from contextlib import closing
from decimal import Decimal
from pathlib import Path

import msgspec
import pytest
from sqlalchemy import select, text
from tests.engine.conftest import Harness, start_harness, stop_harness

from tradebridge.brokers.base import BrokerSink, Fill, OrderUpdate
from tradebridge.brokers.paper.broker import PaperBroker
from tradebridge.config import PaperAccount
from tradebridge.domain.enums import EventType, OrderStatus, OrderType, Side
from tradebridge.domain.errors import (
    DuplicateClientOrderId,
    EngineUnavailable,
    NotCancelable,
    OrderRejected,
    ValidationFailed,
)
from tradebridge.domain.orders import Order, OrderRequest
from tradebridge.engine import order_index
from tradebridge.engine.protocol import ListOrders
from tradebridge.store.schema import events, orders, trades

pytestmark = pytest.mark.anyio

SYMBOL = "600519.SH"  # paper: bid 1499.99, ask 1500.01


def buy(price: str = "1500.01", qty: int = 100, cid: str | None = None) -> OrderRequest:
    return OrderRequest(
        symbol=SYMBOL, side=Side.BUY, qty=qty, limit_price=Decimal(price), client_order_id=cid
    )


def stored_seqs(harness: Harness) -> list[int]:
    with harness.db.connect() as conn:
        return [r[0] for r in conn.execute(select(events.c.seq).order_by(events.c.seq))]


async def test_filled_order_is_journaled_with_contiguous_events(harness: Harness) -> None:
    result = await harness.account.place(buy())
    assert result.created
    assert result.order.status is OrderStatus.FILLED
    with harness.db.connect() as conn:
        row = conn.execute(select(orders).where(orders.c.id == result.order.id)).one()
        fills = conn.execute(select(trades).where(trades.c.order_id == result.order.id)).all()
    assert row.status == "filled"
    assert [(f.qty, f.price) for f in fills] == [(100, Decimal("1500.01"))]
    seqs = stored_seqs(harness)
    assert seqs == list(range(1, len(seqs) + 1))
    published = harness.published_events()
    assert [e.seq for e in published] == seqs
    types = [e.type for e in published]
    statuses = [
        msgspec.msgpack.decode(e.data, type=Order).status
        for e in published
        if e.type is EventType.ORDER
    ]
    assert statuses == [OrderStatus.PENDING_NEW, OrderStatus.NEW, OrderStatus.FILLED]
    assert EventType.TRADE in types
    assert EventType.POSITION in types
    assert EventType.ACCOUNT in types


async def test_the_order_is_committed_before_the_broker_sees_it(tmp_path: Path) -> None:
    seen_by_broker: list[str | None] = []

    class WitnessBroker(PaperBroker):
        """A broker outside the process (it does not rebuild itself from the journal)."""

        capabilities = msgspec.structs.replace(
            PaperBroker.capabilities, restores_from_journal=False
        )

        async def place_order(self, order: Order) -> None:
            with harness_db.connect() as conn:
                status = conn.execute(
                    select(orders.c.status).where(orders.c.id == order.id)
                ).scalar()
            seen_by_broker.append(status)
            await super().place_order(order)

    def factory(settings: PaperAccount, sink: BrokerSink) -> PaperBroker:
        return WitnessBroker(settings.id, settings.paper, sink)

    harness = await start_harness(tmp_path / "j.db", factory)
    harness_db = harness.db
    try:
        await harness.account.place(buy())
    finally:
        await stop_harness(harness)
    assert seen_by_broker == ["pending_new"]


async def test_a_paper_order_and_its_fill_commit_together(harness: Harness) -> None:
    """The paper broker is rebuilt from the journal: nothing outside the process can know an
    order the journal lost, so it needs no commit of its own before it is sent."""
    before = len(harness.commits)
    placed = await harness.account.place(buy())
    assert placed.order.status is OrderStatus.FILLED
    await harness.journal.drain()
    assert len(harness.commits) - before == 1


async def test_concurrent_retries_create_one_order(harness: Harness) -> None:
    results = await asyncio.gather(
        *(harness.account.place(buy("1400.00", cid="same")) for _ in range(20))
    )
    assert sum(r.created for r in results) == 1
    assert len({r.order.id for r in results}) == 1
    with harness.db.connect() as conn:
        count = conn.execute(text("select count(*) from orders where client_order_id='same'"))
        assert count.scalar() == 1


async def test_reused_client_order_id_with_other_parameters_conflicts(harness: Harness) -> None:
    first = await harness.account.place(buy("1400.00", cid="k1"))
    with pytest.raises(DuplicateClientOrderId) as caught:
        await harness.account.place(buy("1401.00", cid="k1"))
    assert caught.value.details["order_id"] == first.order.id


async def test_refused_order_is_recorded_with_its_reason(harness: Harness) -> None:
    with pytest.raises(OrderRejected) as caught:
        await harness.account.place(buy(qty=10_000))
    order_id = caught.value.details["order_id"]
    assert caught.value.details["reason"] == "insufficient_funds"
    recorded = harness.account.get_order(order_id)
    assert (recorded.status, recorded.reject_reason) == (OrderStatus.REJECTED, "insufficient_funds")


async def test_broker_refusal_is_recorded_as_rejected(harness: Harness) -> None:
    with pytest.raises(OrderRejected) as caught:
        await harness.account.place(buy(qty=150))  # the venue's lot rule, checked by paper
    assert caught.value.details["reason"] == "invalid_lot_size"
    order = harness.account.get_order(caught.value.details["order_id"])
    assert order.status is OrderStatus.REJECTED


async def test_malformed_requests_record_nothing(harness: Harness) -> None:
    bad = [
        OrderRequest(symbol=SYMBOL, side=Side.BUY, qty=0, limit_price=Decimal(1)),
        OrderRequest(symbol=SYMBOL, side=Side.BUY, qty=100),
        OrderRequest(
            symbol=SYMBOL, side=Side.BUY, qty=100, type=OrderType.MARKET, limit_price=Decimal(1)
        ),
    ]
    before = stored_seqs(harness)
    for request in bad:
        with pytest.raises(ValidationFailed):
            await harness.account.place(request)
    assert harness.account.list_orders(ListOrders(account="paper")) == []
    assert stored_seqs(harness) == before


async def test_illegal_broker_updates_are_refused(harness: Harness) -> None:
    order = (await harness.account.place(buy())).order
    before = stored_seqs(harness)
    harness.account.reports.on_order_update(OrderUpdate(order_id=order.id, status=OrderStatus.NEW))
    harness.account.reports.on_order_update(
        OrderUpdate(order_id=order.id, status=OrderStatus.CANCELED)
    )
    await harness.account.flush()
    assert harness.account.get_order(order.id).status is OrderStatus.FILLED
    assert stored_seqs(harness) == before


async def test_a_fill_reported_twice_is_applied_once(harness: Harness) -> None:
    order = (await harness.account.place(buy("1400.00", qty=200))).order
    fill = Fill(
        order_id=order.id,
        trade_id="broker-fill-1",
        qty=100,
        price=Decimal("1400.00"),
        fee=Decimal(0),
        time=order.created_at,
    )
    harness.account.reports.on_fill(fill)
    harness.account.reports.on_fill(fill)
    await harness.account.flush()
    current = harness.account.get_order(order.id)
    assert (current.status, current.filled_qty) == (OrderStatus.PARTIALLY_FILLED, 100)


async def test_cancel_and_cancel_again(harness: Harness) -> None:
    order = (await harness.account.place(buy("1400.00"))).order
    canceled = await harness.account.cancel(order.id)
    assert canceled.status is OrderStatus.CANCELED
    with pytest.raises(NotCancelable):
        await harness.account.cancel(order.id)
    statuses = [e for e in harness.published_events() if e.type is EventType.ORDER]
    assert len(statuses) == 4  # pending_new, new, pending_cancel, canceled


async def test_many_concurrent_orders_share_commits_and_keep_seq_gap_free(
    harness: Harness,
) -> None:
    harness.commits.clear()
    requests = [
        OrderRequest(
            symbol="000001.SZ",
            side=Side.BUY,
            qty=100,
            limit_price=Decimal("10.40"),
            client_order_id=f"c{i}",
        )
        for i in range(200)
    ]
    results = await asyncio.gather(*(harness.account.place(r) for r in requests))
    assert all(r.created for r in results)
    assert len(harness.commits) < 200  # group commit: far fewer transactions than orders
    seqs = stored_seqs(harness)
    assert seqs == list(range(1, len(seqs) + 1))
    assert [e.seq for e in harness.published_events()] == seqs


async def test_restart_continues_the_sequence_and_keeps_open_orders(tmp_path: Path) -> None:
    path = tmp_path / "restart.db"
    first = await start_harness(path)
    resting = (await first.account.place(buy("1400.00", cid="rest"))).order
    last = stored_seqs(first)[-1]
    await stop_harness(first)

    second = await start_harness(path)
    try:
        assert second.account.get_order(resting.id).status is OrderStatus.NEW
        again = await second.account.place(buy("1400.00", cid="rest"))
        assert (again.created, again.order.id) == (False, resting.id)
        await second.account.place(buy())
        seqs = stored_seqs(second)
        assert seqs == list(range(1, len(seqs) + 1))
        assert seqs[-1] > last
    finally:
        await stop_harness(second)


async def test_a_failing_journal_refuses_orders_and_keeps_nothing(harness: Harness) -> None:
    with harness.db.begin() as conn:
        conn.execute(text("DROP TABLE events"))
    with pytest.raises(EngineUnavailable):
        await harness.account.place(buy("1400.00", cid="lost"))
    with pytest.raises(EngineUnavailable):
        await harness.account.place(buy("1400.00", cid="lost"))
    assert harness.account.list_orders(ListOrders(account="paper", status="open")) == []


async def test_inline_journal_moves_the_wal_into_the_database_in_the_background(
    tmp_path: Path,
) -> None:
    harness = await start_harness(tmp_path / "j.db", inline=True)
    try:
        for i in range(5):
            await harness.account.place(buy("1400.00", cid=f"w{i}"))
        await asyncio.sleep(1.5)
        # The database file alone, without its write-ahead log, holds the orders only once
        # they were checkpointed (SQLite's own checkpoint waits for 1,000 pages).
        shutil.copy(tmp_path / "j.db", tmp_path / "copy.db")
        with closing(sqlite3.connect(tmp_path / "copy.db")) as copy:
            assert copy.execute("select count(*) from orders").fetchone()[0] == 5
    finally:
        await stop_harness(harness)


async def test_a_closed_order_read_from_the_database_is_kept_for_the_next_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past the recent closed orders kept in memory, an order is read from the database once
    and then kept again: a strategy polling an old order does not query it each time."""
    monkeypatch.setattr(order_index, "RECENT_CLOSED_ORDERS", 2)
    harness = await start_harness(tmp_path / "j.db")
    try:
        oldest = (await harness.account.place(buy())).order
        for _ in range(3):
            await harness.account.place(buy())
        await harness.journal.drain()
        assert harness.account.get_order(oldest.id) == oldest  # from the database
        with harness.db.begin() as conn:  # gone from the database: only memory has it now
            conn.execute(trades.delete().where(trades.c.order_id == oldest.id))
            conn.execute(orders.delete().where(orders.c.id == oldest.id))
        assert harness.account.get_order(oldest.id) == oldest
    finally:
        await stop_harness(harness)
