"""Placing an order from a dialect whose clients send no client order id (vnpy WebTrader,
the QMT dialects, API.md §5), so that neither a lost answer nor the caller's retry places it
twice.

On /api/v1 a caller who got no answer sends its `client_order_id` again, which finds the
order instead of placing a second one. These clients have no such id, so the dialect gives
each order one (`<dialect>-<hex>`) and:

1. **Settles an unknown outcome itself** (`settle`, every dialect). A send the engine got but
   did not answer (`Timeout`: it was slow, or stopped and came back) is sent again with the
   same client order id, which finds the order if it was placed and places it once if not,
   until the engine answers or `settle_s` has passed (then 504, naming the client order id).
   A first send the engine never got (`EngineUnavailable`) is answered 503 at once: nothing
   was placed. What was answered 503 or 504 is never carried out later: the engine starts no
   call after its deadline.
2. **Remembers what it could not settle** (`Placer`, the QMT dialects). From its first
   unanswered send until its caller is told the outcome, the placement is kept in
   `unsettled_placements` under a digest of the caller and the order's parameters. Within
   `RETRY_WINDOW`, the same caller placing the same order is taken to retry it: the client
   order id is reused, so the retry answers the order the first attempt placed, or places it
   once. A placement is forgotten once a caller is told its outcome: answered to a caller
   still connected, or shown in one of the dialects' order lists.

So a legitimate second identical order, sent by the same caller within `RETRY_WINDOW` of a
504 for the first and before seeing that one listed, is taken for the first's retry.
"""

import asyncio
import hashlib
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import msgspec
from sqlalchemy import Engine

from tradebridge.api.compat.aliases import alias_of, transact
from tradebridge.api.engine_client import EngineClient
from tradebridge.api.security import Principal
from tradebridge.domain.enums import OrderStatus
from tradebridge.domain.errors import EngineUnavailable, OrderRejected, Timeout, TradebridgeError
from tradebridge.domain.orders import Order, OrderRequest
from tradebridge.engine.protocol import PlaceResult
from tradebridge.store import dialect_orders
from tradebridge.store.failures import DATABASE_ERRORS, database_error_reason

log = logging.getLogger(__name__)

RETRY_WINDOW = timedelta(minutes=5)
"""How long an unsettled placement is taken for the retry of the same order."""
PAUSE_S = 0.25
"""Between sends while the engine is away (it restarts in about a second)."""


@dataclass(frozen=True, slots=True)
class Taken:
    """The account took the order (it may have filled already)."""

    order: Order
    alias: int


@dataclass(frozen=True, slots=True)
class Refused:
    """The account refused the order; it is recorded as rejected."""

    order_id: str
    alias: int
    reason: str
    """`reject_reason` (API.md §3)."""
    message: str


StillConnected = Callable[[], Awaitable[bool]]


class Placer:
    """Places the orders of one dialect on its account."""

    def __init__(self, account: str, dialect: str, settle_s: float) -> None:
        self.account = account
        self._dialect = dialect
        self._settle_s = settle_s

    async def place(
        self,
        engine: EngineClient,
        db: Engine,
        request: OrderRequest,
        caller: Principal,
        still_connected: StillConnected,
    ) -> Taken | Refused:
        """Raises the engine's errors but `OrderRejected` (a `Refused`), and `Timeout` when
        the outcome is still unknown after `settle_s` (its `details.client_order_id`)."""
        memory: _Memory | None = None
        if request.client_order_id is None:
            key = request_key(self.account, caller, request)
            since = datetime.now(UTC) - RETRY_WINDOW
            earlier = await transact(
                db, lambda conn: dialect_orders.unsettled_placement(conn, self.account, key, since)
            )
            client_order_id = earlier or new_client_order_id(self._dialect)
            memory = _Memory(db, self.account, key, client_order_id, kept=earlier is not None)
            request = msgspec.structs.replace(request, client_order_id=client_order_id)
        try:
            result = await self._send(engine, request, memory)
        except OrderRejected as refused:
            order_id = refused.details.get("order_id")
            if not isinstance(order_id, str):
                raise
            alias = await self._alias(db, order_id, request)
            if memory is not None:
                await memory.told(still_connected)
            return Refused(order_id, alias, refused.reason.value, refused.message)
        except (Timeout, EngineUnavailable):
            raise
        except TradebridgeError:  # the engine answered: nothing was placed
            if memory is not None:
                await memory.told(still_connected)
            raise
        order = result.order
        alias = await self._alias(db, order.id, request)
        if memory is not None:
            await memory.told(still_connected)
        if order.status is OrderStatus.REJECTED:  # a retry of an order refused before
            reason = order.reject_reason or "rejected"
            return Refused(order.id, alias, reason, f"order {order.id} was rejected: {reason}")
        return Taken(order, alias)

    async def _alias(self, db: Engine, order_id: str, request: OrderRequest) -> int:
        """The alias of an order just placed or refused. If the database cannot give one,
        the caller must not take the order for not placed: 504, as for a lost answer (the
        placement stays remembered, if it was)."""
        try:
            return await alias_of(db, self.account, order_id)
        except DATABASE_ERRORS as exc:
            log.error(
                "account %s: order %s has no integer id: %s",
                self.account,
                order_id,
                database_error_reason(exc),
            )
            raise Timeout(
                f"order {order_id} was placed, but the database cannot be reached to give it "
                "its integer id; look for it in the orders once it is back",
                {"order_id": order_id, "client_order_id": request.client_order_id},
            ) from None

    async def _send(
        self, engine: EngineClient, request: OrderRequest, memory: "_Memory | None"
    ) -> PlaceResult:
        """A retry of an unsettled placement starts out unknown: what its first attempt did
        is not known yet."""
        if memory is None:
            return await settle(engine, self.account, request, self._settle_s)
        try:
            return await settle(
                engine,
                self.account,
                request,
                self._settle_s,
                unknown=memory.kept,
                on_unknown=memory.keep,
            )
        except Timeout as lost:
            raise Timeout(
                f"{lost.message}, or send the same order again: within "
                f"{RETRY_WINDOW.seconds // 60} minutes it is taken for this one's retry",
                lost.details,
            ) from None


def new_client_order_id(dialect: str) -> str:
    return f"{dialect}-{uuid.uuid4().hex}"


def dialect_client_order_id(client_order_id: str | None, dialect: str) -> bool:
    """Whether `client_order_id` is one made for `dialect` (not the caller's own)."""
    return client_order_id is not None and client_order_id.startswith(f"{dialect}-")


async def place_without_client_id(
    engine: EngineClient, account: str, request: OrderRequest, dialect: str, settle_s: float
) -> PlaceResult:
    """Place `request` under a client order id of `dialect`'s, settling a lost answer."""
    request = msgspec.structs.replace(request, client_order_id=new_client_order_id(dialect))
    return await settle(engine, account, request, settle_s)


async def settle(
    engine: EngineClient,
    account: str,
    request: OrderRequest,
    settle_s: float,
    *,
    unknown: bool = False,
    on_unknown: Callable[[], Awaitable[None]] | None = None,
) -> PlaceResult:
    """Send `request` (which has a client order id) until the engine answers; `unknown`:
    an earlier send's outcome is not known yet; `on_unknown`: called at each lost answer."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + settle_s
    while True:
        try:
            return await engine.place(account, request)
        except Timeout:
            unknown = True
            if on_unknown is not None:
                await on_unknown()
        except EngineUnavailable:
            if not unknown:
                raise  # never reached the engine: nothing was done, a retry is safe
            await asyncio.sleep(PAUSE_S)
        if loop.time() >= deadline:
            raise Timeout(
                "the engine did not answer in time; the order may have been placed: look for "
                "it (by its client_order_id) before placing it again",
                {"account": account, "client_order_id": request.client_order_id},
            )


class _Memory:
    """The unsettled placement of one request, kept from its first unanswered send."""

    def __init__(
        self, db: Engine, account: str, key: str, client_order_id: str, *, kept: bool
    ) -> None:
        self._db = db
        self._account = account
        self._key = key
        self.client_order_id = client_order_id
        self.kept = kept

    async def keep(self) -> None:
        """Best effort: the placement goes on if the database cannot be written."""
        if self.kept:
            return
        now = datetime.now(UTC)
        try:
            await transact(
                self._db,
                lambda conn: dialect_orders.remember_placement(
                    conn, self._account, self._key, self.client_order_id, now, now - RETRY_WINDOW
                ),
            )
        except DATABASE_ERRORS as exc:
            log.warning(
                "account %s: an unanswered placement could not be remembered (%s); a retry "
                "of it is a new order",
                self._account,
                database_error_reason(exc),
            )
            return
        self.kept = True

    async def told(self, still_connected: StillConnected) -> None:
        """The outcome is known: forget the placement if its caller will hear it (best
        effort: a placement left behind is forgotten after `RETRY_WINDOW`)."""
        if not self.kept or not await still_connected():
            return
        try:
            await transact(
                self._db,
                lambda conn: dialect_orders.forget_placement(conn, self._account, self._key),
            )
        except DATABASE_ERRORS as exc:
            log.warning(
                "account %s: a settled placement could not be forgotten (%s)",
                self._account,
                database_error_reason(exc),
            )
            return
        self.kept = False


def request_key(account: str, caller: Principal, order: OrderRequest | Order) -> str:
    """A digest of who places what: the same for a retry of the same order by the same
    caller (API key, else user), and for the order it placed (`forget_shown`)."""
    who = f"key:{caller.key_id}" if caller.key_id is not None else f"user:{caller.username}"
    price = None if order.limit_price is None else format(order.limit_price.normalize(), "f")
    parts = (
        account,
        who,
        order.symbol,
        order.side,
        order.qty,
        order.type,
        price,
        order.time_in_force,
        order.offset,
    )
    return hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()


async def forget_shown(db: Engine, account: str, caller: Principal, orders: list[Order]) -> None:
    """A dialect's order list told `caller` these orders' outcome: its own unsettled
    placements of them are settled (another caller's are not: it was not told)."""
    shown = {
        o.client_order_id: request_key(account, caller, o)
        for o in orders
        if o.client_order_id is not None
    }
    await transact(db, lambda conn: dialect_orders.forget_shown(conn, account, shown))
