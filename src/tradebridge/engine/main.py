"""`tradebridge engine`: host the configured accounts and serve them over ZeroMQ."""

import asyncio
import contextlib
import functools
import logging
import signal
from datetime import UTC, datetime, timedelta

import msgspec
import zmq
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from tradebridge.brokers.registry import create_broker
from tradebridge.config import Settings
from tradebridge.domain.enums import ConnectionState
from tradebridge.domain.errors import EngineUnavailable
from tradebridge.domain.models import Quote
from tradebridge.engine.account import AccountRuntime
from tradebridge.engine.journal import Journal, StagedEvent
from tradebridge.engine.protocol import (
    STATUS_TOPIC,
    ConnectionEvent,
    account_topic,
    quote_topic,
)
from tradebridge.engine.service import EngineService
from tradebridge.exits import ExitStatus
from tradebridge.heap import freeze_startup_objects
from tradebridge.ids import IdGenerator
from tradebridge.rpc import EventPublisher, RpcServer
from tradebridge.rpc.link import EngineEnd, bind_error, engine_end, lock_ipc_address
from tradebridge.store import queries
from tradebridge.store.database import create_db_engine
from tradebridge.store.failures import DATABASE_ERRORS, DatabaseUnavailable
from tradebridge.store.migrate import upgrade
from tradebridge.strategies.host import StrategyHost

log = logging.getLogger(__name__)

_encode = msgspec.msgpack.Encoder().encode

PRUNE_INTERVAL_S = 3600.0
"""How often events older than `engine.event_retention_days` are deleted."""
PRUNE_BATCH = 5_000
"""Events deleted per transaction, so the journal never waits long for the database."""
DRAIN_S = 10.0
"""At shutdown, how long calls in progress get to finish and answer (below the 15 s after
which `tradebridge serve` kills a child that has not stopped)."""


async def run_engine(settings: Settings, stop: asyncio.Event | None = None) -> ExitStatus:
    """Run until `stop` is set, SIGTERM/SIGINT arrives or the journal fails; then shut down
    in order and return the process's exit status.

    Raises `ConfigError` if the engine link's addresses or keys cannot be used (a
    `LinkBindError` if an address cannot be bound), and `DatabaseUnavailable` if the database
    cannot be used at start. Both sockets are bound first, so that an address taken by
    another process stops the engine before it touches anything. Shutdown: calls in progress
    finish and are answered (new ones are refused), the brokers close, whatever they and the
    calls staged is committed, and only then do the sockets close.
    """
    end = engine_end(settings)  # before anything: a config error stops it all
    stop = stop or _stop_on_signals()
    heartbeat_ms = settings.engine.heartbeat_ms
    publisher = EventPublisher(end.events_address, heartbeat_ms=heartbeat_ms, curve=end.curve)
    server = RpcServer(end.rpc_address, heartbeat_ms=heartbeat_ms, curve=end.curve)
    async with contextlib.AsyncExitStack() as link:
        await _bind_link(link, end, publisher, server)
        db = _open_database(settings)
        link.callback(db.dispose)
        status = await _serve(settings, stop, db, publisher, server, end)
    return status


async def _bind_link(
    link: contextlib.AsyncExitStack, end: EngineEnd, publisher: EventPublisher, server: RpcServer
) -> None:
    """Lock and bind the event and RPC addresses; `link` closes and unlocks them at exit."""
    binds = (
        ("engine.events_address", end.events_address, publisher.start, publisher.close),
        ("engine.rpc_address", end.rpc_address, server.bind, server.close),
    )
    for setting, address, bind, close in binds:
        lock = lock_ipc_address(setting, address)
        if lock is not None:
            link.callback(lock.release)
        try:
            await bind()
        except zmq.ZMQError as exc:
            raise bind_error(setting, address, exc) from None
        link.push_async_callback(close)


async def _serve(
    settings: Settings,
    stop: asyncio.Event,
    db: Engine,
    publisher: EventPublisher,
    server: RpcServer,
    end: EngineEnd,
) -> ExitStatus:
    """Start the accounts, serve until `stop`, and shut down in order (but for the sockets
    and the database, which `run_engine` closes last)."""

    def publish_events(events: list[StagedEvent]) -> None:
        """One message per account for the events of one commit (in their order)."""
        by_account: dict[str, list[bytes]] = {}
        for event in events:
            by_account.setdefault(event.account, []).append(event.payload)
        for account, payloads in by_account.items():
            publisher.publish_batch(account_topic(account), payloads)

    def publish_quote(account: str, quote: Quote) -> None:
        publisher.publish(quote_topic(account, quote.symbol), _encode(quote))

    def publish_connection(account: str, state: ConnectionState, message: str) -> None:
        event = ConnectionEvent(account=account, state=state, message=message)
        publisher.publish(STATUS_TOPIC, _encode(event))

    journal_failed: list[BaseException] = []

    def stop_after_journal_failure(error: BaseException) -> None:
        journal_failed.append(error)
        stop.set()

    journal = Journal(
        db,
        on_committed=publish_events,
        on_failed=stop_after_journal_failure,
        inline=commits_in_memory(settings),
    )
    ids = IdGenerator()
    accounts = {
        a.id: AccountRuntime(
            a,
            broker_factory=functools.partial(create_broker, data_dir=settings.data_dir),
            journal=journal,
            db=db,
            ids=ids,
            publish_quote=publish_quote,
            publish_connection=publish_connection,
        )
        for a in settings.accounts
    }
    strategies = StrategyHost(settings, db)
    pruning: asyncio.Task[None] | None = None
    try:
        try:
            await _start_accounts(accounts, settings.database_url)
        except EngineUnavailable:
            if not journal_failed:
                raise
        if not journal_failed:  # recovery could not write: stop at once (below)
            EngineService(accounts, strategies).register(server)
            await server.start()
            await strategies.start()
            if settings.engine.event_retention_days:
                pruning = asyncio.create_task(
                    prune_events_periodically(
                        db, list(accounts), settings.engine.event_retention_days
                    ),
                    name="event-retention",
                )
            freeze_startup_objects()
            log.info(
                "engine ready: rpc %s, events %s, accounts %s",
                end.rpc_address,
                end.events_address,
                ", ".join(accounts),
            )
        await stop.wait()
        if journal_failed:
            log.critical(
                "engine stopping because the order journal failed; "
                "on restart it rebuilds its state from the database"
            )
        else:
            log.info("engine stopping")
    finally:
        if pruning is not None:
            pruning.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pruning
        await strategies.close()
        await server.close(drain_s=DRAIN_S)
        for account in accounts.values():
            await account.close()
        with contextlib.suppress(EngineUnavailable):  # logged by the journal; status 74
            await journal.drain()
        journal.close()
    return ExitStatus.JOURNAL_FAILED if journal_failed else ExitStatus.OK


def _open_database(settings: Settings) -> Engine:
    """The database engine, with the schema brought up to date."""
    db: Engine | None = None
    try:
        db = create_db_engine(
            settings.database_url,
            sqlite_synchronous=settings.database.sqlite_synchronous,
            busy_timeout_ms=settings.database.busy_timeout_ms,
        )
        upgrade(db)
    except DATABASE_ERRORS as exc:
        if db is not None:
            db.dispose()
        raise DatabaseUnavailable(settings.database_url, exc) from exc
    return db


async def _start_accounts(accounts: dict[str, AccountRuntime], database_url: str) -> None:
    """Rebuild each account from the database and its broker."""
    try:
        for account in accounts.values():
            await account.start()
    except DBAPIError as exc:
        raise DatabaseUnavailable(database_url, exc) from exc


def prune_events(db: Engine, accounts: list[str], retention_days: int, now: datetime) -> int:
    """Delete the events stored more than `retention_days` before `now`, except each
    account's last one; returns how many were deleted."""
    before = now - timedelta(days=retention_days)
    removed = 0
    for account in accounts:
        while True:
            with db.begin() as conn:
                count = queries.prune_events(conn, account, before, PRUNE_BATCH)
            removed += count
            if not count:
                break
    return removed


async def prune_events_periodically(db: Engine, accounts: list[str], retention_days: int) -> None:
    """At start and then every `PRUNE_INTERVAL_S`, on a thread so the loop goes on."""
    while True:
        try:
            now = datetime.now(UTC)
            removed = await asyncio.to_thread(prune_events, db, accounts, retention_days, now)
            if removed:
                log.info("deleted %d events older than %d days", removed, retention_days)
        except Exception:
            log.exception("deleting old events failed; trying again later")
        await asyncio.sleep(PRUNE_INTERVAL_S)


def commits_in_memory(settings: Settings) -> bool:
    """Whether a commit only copies pages into the OS cache (SQLite WAL, synchronous=normal)."""
    return (
        settings.database_url.startswith("sqlite")
        and settings.database.sqlite_synchronous == "normal"
    )


def _stop_on_signals() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(sig, stop.set)
        except NotImplementedError:  # Windows: no loop signal handlers; Ctrl+C still stops it
            signal.signal(sig, lambda signum, frame: loop.call_soon_threadsafe(stop.set))
    return stop
