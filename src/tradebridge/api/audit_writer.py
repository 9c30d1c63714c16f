"""Writes audit rows off the request path: a thread per web worker, in batches.

A request only appends its row to a list on the event loop. What gathers over `LINGER_S` (or
`BATCH_ROWS`) is handed to the writer thread as one batch and inserted in one transaction: the
thread wakes a few times a second, not once per request (each wake-up would take the GIL from
the loop), and on SQLite the web takes the database's write lock that seldom too, so the
engine's journal rarely waits for it. A failed write is retried with backoff (the rows wait in
memory, up to `MAX_WAITING_ROWS`); `stop` writes what is left before the worker exits.
"""

import asyncio
import concurrent.futures
import logging
import queue
import threading
from collections.abc import Callable

from sqlalchemy import Engine

from tradebridge.store.audit import AuditRecord, insert_audit
from tradebridge.store.failures import DATABASE_ERRORS, database_error_reason

log = logging.getLogger(__name__)

LINGER_S = 0.1
BATCH_ROWS = 500
MAX_WAITING_ROWS = 100_000
"""Beyond this many unwritten rows (a database away for long), new rows are dropped and
counted, rather than let the worker's memory grow without bound."""
RETRY_START_S = 0.5
RETRY_MAX_S = 10.0
STOP_TIMEOUT_S = 10.0
FLUSH_TIMEOUT_S = 2.0


class _Stop:
    """Asks the thread to write what is queued and end."""


_Item = list[AuditRecord] | concurrent.futures.Future[None] | _Stop


class AuditWriter:
    def __init__(
        self,
        db: Engine,
        on_written: Callable[[int], None] = lambda rows: None,
        on_dropped: Callable[[int], None] = lambda rows: None,
    ) -> None:
        self._db = db
        self._on_written = on_written
        self._on_dropped = on_dropped
        self._queue: queue.SimpleQueue[_Item] = queue.SimpleQueue()
        self._batch: list[AuditRecord] = []
        """Rows not yet handed to the thread (event loop only)."""
        self._hand_off_timer: asyncio.TimerHandle | None = None
        self._queued = 0
        """Rows queued, counted by the event loop only."""
        self._done = 0
        """Rows written or given up, counted by the thread only."""
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="audit-writer", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def record(self, row: AuditRecord) -> None:
        """Queue `row`; never waits. Called on the event loop."""
        if self._queued - self._done >= MAX_WAITING_ROWS:
            self._on_dropped(1)
            return
        self._queued += 1
        self._batch.append(row)
        if len(self._batch) >= BATCH_ROWS:
            self._hand_off()
        elif self._hand_off_timer is None:
            self._hand_off_timer = asyncio.get_running_loop().call_later(LINGER_S, self._hand_off)

    def _hand_off(self) -> None:
        """Give the rows gathered so far to the thread, as one batch."""
        if self._hand_off_timer is not None:
            self._hand_off_timer.cancel()
            self._hand_off_timer = None
        if self._batch:
            batch, self._batch = self._batch, []
            self._queue.put(batch)

    async def flush(self, timeout_s: float = FLUSH_TIMEOUT_S) -> None:
        """Wait (at most `timeout_s`) until the rows queued so far are written, so a reader
        of this worker sees its own rows."""
        done: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._hand_off()
        self._queue.put(done)
        try:
            async with asyncio.timeout(timeout_s):
                await asyncio.wrap_future(done)
        except TimeoutError:
            log.warning("audit: rows not yet written after %.1f s; reading without them", timeout_s)

    def stop(self) -> None:
        """Write every queued row (trying once more if the database fails), then end the
        thread. Blocks; at most `STOP_TIMEOUT_S`."""
        self._stopping.set()
        self._hand_off()
        self._queue.put(_Stop())
        self._thread.join(STOP_TIMEOUT_S)

    # ------------------------------------------------------------------ the thread

    def _run(self) -> None:
        stop = False
        while not stop:
            rows, flushes, stop = self._gather()
            self._write(rows)
            for done in flushes:
                done.set_result(None)

    def _gather(self) -> tuple[list[AuditRecord], list[concurrent.futures.Future[None]], bool]:
        """Wait for the next batch, flush or stop, then take whatever else is waiting."""
        rows: list[AuditRecord] = []
        flushes: list[concurrent.futures.Future[None]] = []
        item = self._queue.get()
        while True:
            if isinstance(item, _Stop):
                return rows, flushes, True
            if isinstance(item, list):
                rows.extend(item)
            else:
                flushes.append(item)
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return rows, flushes, False

    def _write(self, rows: list[AuditRecord]) -> None:
        delay = RETRY_START_S
        while rows:
            try:
                with self._db.begin() as conn:
                    insert_audit(conn, rows)
            except DATABASE_ERRORS as exc:
                reason = database_error_reason(exc)
                if self._stopping.is_set():
                    log.error("audit: %d rows lost at shutdown: %s", len(rows), reason)
                    self._done += len(rows)
                    self._on_dropped(len(rows))
                    return
                log.error(
                    "audit: cannot write %d rows (%s); again in %.1f s", len(rows), reason, delay
                )
                self._stopping.wait(delay)
                delay = min(delay * 2, RETRY_MAX_S)
            else:
                self._done += len(rows)
                self._on_written(len(rows))
                return
