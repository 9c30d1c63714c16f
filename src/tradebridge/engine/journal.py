"""The order journal: every change to orders, trades and events, committed in groups.

Changes are staged synchronously on the engine loop and written in batches: everything staged
during one turn of the loop goes into one transaction, and while a transaction commits, new
changes gather into the next, so under load one commit carries many orders (group commit).
`commit()` returns once everything staged before it is durable; events are handed to
`on_committed` only then, so nothing is ever published that a crash could take back.

Where a commit waits on a device or the network (PostgreSQL, SQLite with
`synchronous = full`) the transaction runs on a writer thread, and the loop goes on meanwhile.
Where it only copies pages into the operating system's cache (SQLite in WAL mode with
`synchronous = normal`, which survives a killed process) it runs inline on the loop: the
hand-off to a thread and back costs more than the write, and the GIL would serialise the two
anyway. SQLite would then also copy its write-ahead log back into the database file inside
every thousandth commit, a stall of milliseconds on the order path; instead the writer thread,
idle in that mode, does it in the background about once a second after writes.
"""

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, Insert, bindparam
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect

from tradebridge.domain.errors import EngineUnavailable
from tradebridge.domain.models import Trade
from tradebridge.domain.orders import Order
from tradebridge.store.failures import database_error_reason
from tradebridge.store.records import ORDER_MUTABLE_COLUMNS, order_row, order_update_row, trade_row
from tradebridge.store.schema import broker_state, events, orders, trades
from tradebridge.store.types import decimal_text, epoch_micros

log = logging.getLogger(__name__)

WAL_CHECKPOINT_INTERVAL_S = 1.0

_INSERT_ORDER = orders.insert().values({c.name: bindparam(c.name) for c in orders.c})
_UPDATE_ORDER = (
    orders.update()
    .where(orders.c.id == bindparam("b_id"))
    .values({name: bindparam(name) for name in ORDER_MUTABLE_COLUMNS})
)
_INSERT_TRADE = trades.insert().values({c.name: bindparam(c.name) for c in trades.c})
_UPDATE_TRADE_FEE = (
    trades.update().where(trades.c.id == bindparam("b_id")).values(fee=bindparam("fee"))
)
_INSERT_EVENT = events.insert().values({c.name: bindparam(c.name) for c in events.c})


def _upsert_state(dialect: Dialect) -> Insert:
    """Insert or replace one adapter state value (SQLite and PostgreSQL share the syntax,
    SQLAlchemy builds it per dialect)."""
    insert = postgresql.insert if dialect.name == "postgresql" else sqlite.insert
    statement = insert(broker_state).values({c.name: bindparam(c.name) for c in broker_state.c})
    return statement.on_conflict_do_update(
        index_elements=[broker_state.c.account, broker_state.c.key],
        set_={
            "value": statement.excluded.value,
            "updated_at": statement.excluded.updated_at,
        },
    )


class _DriverStatement:
    """A statement compiled once for the database's dialect and run on the driver's cursor.

    The journal is the hot path of every order; going straight to the driver skips the
    per-execution work of SQLAlchemy (about two thirds of a small commit's cost on SQLite).
    Rows must already hold storage values (see `store.records`).
    """

    def __init__(self, statement: Any, dialect: Dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        self.sql = str(compiled)
        self._names = compiled.positiontup if dialect.positional else None

    def run(self, cursor: Any, rows: list[dict[str, Any]]) -> None:
        if self._names is None:
            cursor.executemany(self.sql, rows)
        else:
            names = self._names
            cursor.executemany(self.sql, [tuple(row[n] for n in names) for row in rows])


class StagedEvent:
    __slots__ = ("account", "payload", "seq", "type")

    def __init__(self, account: str, seq: int, type: str, payload: bytes) -> None:
        self.account = account
        self.seq = seq
        self.type = type
        self.payload = payload


class _Batch:
    __slots__ = ("events", "fees", "inserts", "states", "trades", "updates", "waiter")

    def __init__(self) -> None:
        self.inserts: dict[str, Order] = {}
        self.updates: dict[str, Order] = {}
        self.trades: list[dict[str, Any]] = []
        self.fees: list[dict[str, Any]] = []
        self.events: list[StagedEvent] = []
        self.states: dict[tuple[str, str], str] = {}
        self.waiter: asyncio.Future[None] | None = None

    def empty(self) -> bool:
        return not (
            self.inserts or self.updates or self.trades or self.fees or self.events or self.states
        )


class Journal:
    def __init__(
        self,
        engine: Engine,
        on_committed: Callable[[list[StagedEvent]], None],
        *,
        on_failed: Callable[[BaseException], None] | None = None,
        inline: bool = False,
    ) -> None:
        """`on_failed` is told of the first failed transaction (see `_finish`)."""
        self._engine = engine
        self._on_committed = on_committed
        self._on_failed = on_failed
        self._inline = inline
        dialect = engine.dialect
        self._insert_order = _DriverStatement(_INSERT_ORDER, dialect)
        self._update_order = _DriverStatement(_UPDATE_ORDER, dialect)
        self._insert_trade = _DriverStatement(_INSERT_TRADE, dialect)
        self._update_trade_fee = _DriverStatement(_UPDATE_TRADE_FEE, dialect)
        self._insert_event = _DriverStatement(_INSERT_EVENT, dialect)
        self._upsert_state = _DriverStatement(_upsert_state(dialect), dialect)
        self._connection: Any = None
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="journal")
        self._pending = _Batch()
        self._inflight: _Batch | None = None
        self._scheduled = False
        self._failure: BaseException | None = None
        self._checkpointing = inline and dialect.name == "sqlite"
        self._checkpoint_timer: asyncio.TimerHandle | None = None
        self._checkpoint_connection: Any = None

    def stage_new_order(self, order: Order) -> None:
        self._pending.inserts[order.id] = order
        self._schedule()

    def stage_order(self, order: Order) -> None:
        """Record the latest state of an order already staged or stored."""
        batch = self._pending
        if order.id in batch.inserts:
            batch.inserts[order.id] = order
        else:
            batch.updates[order.id] = order
        self._schedule()

    def stage_trade(self, trade: Trade, broker_trade_id: str) -> None:
        self._pending.trades.append(trade_row(trade, broker_trade_id))
        self._schedule()

    def stage_trade_fee(self, trade_id: str, fee: Decimal) -> None:
        """The fee of a trade stored (or staged) without one."""
        self._pending.fees.append({"b_id": trade_id, "fee": decimal_text(fee)})
        self._schedule()

    def stage_event(self, event: StagedEvent) -> None:
        self._pending.events.append(event)
        self._schedule()

    def stage_state(self, account: str, key: str, value: str) -> None:
        """Keep an adapter's state value (see `BrokerSink.on_state`); the last one staged
        for a key in a batch wins."""
        self._pending.states[(account, key)] = value
        self._schedule()

    async def commit(self) -> None:
        """Wait until everything staged so far is durable; raise if it cannot be.

        Batches are written in order, so waiting for the newest one (staged, or already
        being written) covers every change before it.
        """
        if self._failure is not None:
            raise self._unavailable()
        batch = self._pending if not self._pending.empty() else self._inflight
        if batch is None:
            return
        await asyncio.shield(self._waiter(batch))

    @staticmethod
    def _waiter(batch: _Batch) -> asyncio.Future[None]:
        if batch.waiter is None:
            batch.waiter = asyncio.get_running_loop().create_future()
            # A failed batch may have no one waiting; mark its error as seen.
            batch.waiter.add_done_callback(lambda f: f.cancelled() or f.exception())
        return batch.waiter

    async def drain(self) -> None:
        """Write what is staged (used at shutdown); failures were already reported."""
        if self._failure is None:
            await self.commit()

    def close(self) -> None:
        if self._checkpoint_timer is not None:
            self._checkpoint_timer.cancel()
        self._executor.submit(self._close_connections)
        self._executor.shutdown(wait=True)

    def _close_connections(self) -> None:
        for connection in (self._connection, self._checkpoint_connection):
            if connection is None:
                continue
            if self._failure is not None:
                connection.invalidate()  # may be broken: discarded, not reset into the pool
            else:
                connection.close()
        self._connection = self._checkpoint_connection = None

    def _schedule(self) -> None:
        if self._inflight is None and not self._scheduled:
            self._scheduled = True
            loop = asyncio.get_running_loop()
            loop.call_soon(self._start_write)
            if self._checkpointing and self._checkpoint_timer is None:
                self._checkpoint_timer = loop.call_later(
                    WAL_CHECKPOINT_INTERVAL_S, self._start_checkpoint
                )

    def _start_checkpoint(self) -> None:
        future = asyncio.get_running_loop().run_in_executor(self._executor, self._checkpoint)
        future.add_done_callback(self._checkpoint_done)

    def _checkpoint_done(self, future: asyncio.Future[None]) -> None:
        self._checkpoint_timer = None  # armed again by the next write
        if future.exception() is not None:
            log.warning("WAL checkpoint failed (SQLite retries it): %s", future.exception())

    def _checkpoint(self) -> None:
        """Copy the write-ahead log into the database without blocking the writer."""
        if self._checkpoint_connection is None:
            self._checkpoint_connection = self._engine.raw_connection()
        cursor = self._checkpoint_connection.cursor()
        cursor.execute("PRAGMA wal_checkpoint(PASSIVE)")
        cursor.close()

    def _start_write(self) -> None:
        self._scheduled = False
        if self._inflight is not None or self._pending.empty():
            return
        batch, self._pending = self._pending, _Batch()
        if self._failure is not None:
            self._fail(batch)
            return
        self._inflight = batch
        self._waiter(batch)
        loop = asyncio.get_running_loop()
        if self._inline:
            written: asyncio.Future[None] = loop.create_future()
            try:
                self._write(batch)
                written.set_result(None)
            except Exception as exc:
                written.set_exception(exc)
            self._finish(batch, written)
        else:
            future = loop.run_in_executor(self._executor, self._write, batch)
            future.add_done_callback(lambda f: self._finish(batch, f))

    def _fail(self, batch: _Batch) -> None:
        if batch.waiter is not None and not batch.waiter.done():
            batch.waiter.set_exception(self._unavailable())

    def _unavailable(self) -> EngineUnavailable:
        assert self._failure is not None
        reason = database_error_reason(self._failure)
        return EngineUnavailable(
            f"the order journal could not be written ({reason}); "
            "the engine restarts and recovers from the database",
            {"reason": "journal_failed", "database_error": reason},
        )

    def _write(self, batch: _Batch) -> None:
        """One transaction for the whole batch, on the writer thread's own connection."""
        if self._connection is None:
            self._connection = self._engine.raw_connection()
            if self._checkpointing:
                cursor = self._connection.cursor()
                cursor.execute("PRAGMA wal_autocheckpoint=0")  # see the module docstring
                cursor.close()
        connection = self._connection
        try:
            cursor = connection.cursor()
            if batch.inserts:
                self._insert_order.run(cursor, [order_row(o) for o in batch.inserts.values()])
            if batch.updates:
                rows = [order_update_row(o) for o in batch.updates.values()]
                self._update_order.run(cursor, rows)
            if batch.trades:
                self._insert_trade.run(cursor, batch.trades)
            if batch.fees:
                self._update_trade_fee.run(cursor, batch.fees)
            now = epoch_micros(datetime.now(UTC))
            if batch.states:
                self._upsert_state.run(
                    cursor,
                    [
                        {"account": account, "key": key, "value": value, "updated_at": now}
                        for (account, key), value in batch.states.items()
                    ],
                )
            if batch.events:
                self._insert_event.run(
                    cursor,
                    [
                        {
                            "account": e.account,
                            "seq": e.seq,
                            "type": e.type,
                            "payload": e.payload,
                            "created_at": now,
                        }
                        for e in batch.events
                    ],
                )
            cursor.close()
            connection.commit()
        except BaseException:
            try:
                connection.rollback()
            except Exception as rollback_error:  # e.g. the connection is gone: keep the cause
                log.warning("journal rollback failed too: %s", rollback_error)
            raise

    def _finish(self, batch: _Batch, future: asyncio.Future[None]) -> None:
        """After a batch's transaction. A failed one was rolled back whole, but the engine's
        memory already holds its changes: from then on every commit, waiting or later, fails
        with `EngineUnavailable`, nothing more is written or published, and `on_failed` is
        told, so that the engine stops and a restart rebuilds its state from the database."""
        self._inflight = None
        error = future.exception()
        if error is not None:
            self._failure = error
            log.critical(
                "the order journal could not be written (%s: %s); refusing further changes",
                type(error).__name__,
                database_error_reason(error),
            )
            self._fail(batch)
            if self._on_failed is not None:
                self._on_failed(error)
        else:
            if batch.waiter is not None and not batch.waiter.done():
                batch.waiter.set_result(None)
            if batch.events:
                self._on_committed(batch.events)
        if not self._pending.empty():
            self._start_write()  # after a failure, this fails the batch and its waiters
