"""Engine side of the RPC link: a ROUTER socket that serves many web processes at once.

How a message is handled
    The event loop's reader callback (``_sockets.SocketReader``) reads ``[identity, frame]``
    messages off the ROUTER socket and decodes the frame (see ``codec.py`` for the framing).
    A request is looked up and its params are decoded right there; the handler then runs in
    its own asyncio task, so a slow handler never holds up the others, and its answer goes back
    as soon as it is ready, in whatever order. Requests carry an integer id that the answer
    repeats; the client matches answers to callers by it.

Heartbeat
    Clients ping every heartbeat interval; the reader answers ``pong`` itself (never a handler
    task), so a busy handler cannot make the engine look dead, but a blocked event loop does,
    which is the truth. The server also notes when it last heard from each client identity and
    forgets identities silent for about three intervals (a sweep once per interval);
    ``connected_clients`` exposes the count for health reporting.

Deadlines
    A request whose deadline (``codec.Request.deadline``, the engine's wall clock) has passed
    when its handler would start is not run: its caller has been answered already (``timeout``,
    or the link was declared lost), so carrying it out now would do something nobody waits
    for, e.g. place an order its sender believes failed. It is answered ``timeout`` (which the
    client ignores, having given up) and counted in the log. A handler that has started runs to
    its end.

Failure policy
    Nothing a peer sends can stop the reader. A frame that cannot be read (wrong number of
    frames, empty, not msgpack, msgpack of the wrong shape, a kind the server does not take) is
    logged with a short preview and dropped; if a request id can still be read from it, the
    caller gets ``bad_request`` instead of waiting for its timeout. Unknown method ->
    ``not_found``. Params that do not decode into the registered type -> ``validation_error``
    with msgspec's message. A handler raising a :class:`TradebridgeError` -> that error's code,
    message and details. Any other exception -> ``internal_error`` with a generic message; the
    traceback is logged here and never sent. Answers to a client that has gone away are dropped
    by ZeroMQ.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import msgspec
import zmq
import zmq.asyncio

from tradebridge.domain.errors import TradebridgeError
from tradebridge.rpc import codec
from tradebridge.rpc._sockets import SocketReader, open_socket, resolve_context, send_frames
from tradebridge.rpc.curve import CurveServer, ServerAttachment

__all__ = ["RpcServer"]

log = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 4 * 1024 * 1024
"""A peer sending a bigger frame is disconnected by ZeroMQ before it reaches memory."""

P = TypeVar("P")

#: A client silent for this many heartbeat intervals is forgotten.
SILENT_INTERVALS = 3
#: How long a closed socket keeps sending the answers queued on it.
ANSWER_LINGER_MS = 1000
#: How long a draining server stays connected after its last answer. A client drops answers
#: it has not read when the connection closes (ZMQ_IMMEDIATE), so they need time to be read.
ANSWER_READ_S = 0.5
_INTERNAL_MESSAGE = "internal error in the engine; see the engine log"


@dataclass(frozen=True, slots=True)
class _Method:
    name: str
    decoder: msgspec.msgpack.Decoder[Any]
    handler: Callable[[Any], Awaitable[object]]


class RpcServer:
    """Serve registered async handlers over ZeroMQ ROUTER at ``address`` (e.g. ``tcp://*:5555``).

    With ``curve``, only clients with an authorized CURVE key get through (``curve.py``).
    Belongs to the event loop that starts it.
    """

    def __init__(
        self,
        address: str,
        *,
        heartbeat_ms: int = 1000,
        context: zmq.asyncio.Context | None = None,
        curve: CurveServer | None = None,
    ) -> None:
        if heartbeat_ms <= 0:
            raise ValueError("heartbeat_ms must be positive")
        self._address = address
        self._name = f"RPC server {address}"
        self._heartbeat_s = heartbeat_ms / 1000
        self._context = resolve_context(context)
        self._curve = curve
        self._late = _LateCalls()
        self._methods: dict[str, _Method] = {}
        self._sock: zmq.Socket[bytes] | None = None
        self._curve_attachment: ServerAttachment | None = None
        self._reader: SocketReader | None = None
        self._sweeper: asyncio.Task[None] | None = None
        self._handlers: set[asyncio.Task[None]] = set()
        self._last_seen: dict[bytes, float] = {}
        self._draining = False
        self._last_answer = 0.0

    def register(
        self, method: str, params_type: type[P], handler: Callable[[P], Awaitable[object]]
    ) -> None:
        """Serve ``method``: params are decoded into ``params_type`` (a ``msgspec.Struct``, or
        ``type(None)`` for none) and passed to ``handler``, whose return value (anything msgspec
        can encode) is the result."""
        method = str(method)  # a StrEnum member becomes its plain value
        if method in self._methods:
            raise ValueError(f"RPC method {method!r} is already registered")
        decoder: msgspec.msgpack.Decoder[Any] = msgspec.msgpack.Decoder(params_type)
        self._methods[method] = _Method(method, decoder, handler)

    @property
    def connected_clients(self) -> int:
        """How many client sockets were heard from within the last ~3 heartbeat intervals."""
        return len(self._last_seen)

    async def bind(self) -> None:
        """Bind the ROUTER socket without serving yet: clients may connect, and what they send
        waits until :meth:`start`. Raises ``zmq.ZMQError`` if the address cannot be bound."""
        if self._sock is not None:
            raise RuntimeError("RpcServer already bound")
        sock = open_socket(self._context, zmq.ROUTER, {zmq.MAXMSGSIZE: MAX_MESSAGE_BYTES})
        attachment = None
        try:
            if self._curve is not None:
                attachment = self._curve.attach(self._context, sock, self._name)
            sock.bind(self._address)
        except BaseException:
            sock.close(linger=0)
            if attachment is not None:
                attachment.detach()
            raise
        self._sock = sock
        self._curve_attachment = attachment

    async def start(self) -> None:
        """Bind the ROUTER socket (unless :meth:`bind` did) and start serving."""
        if self._reader is not None or self._sweeper is not None:
            raise RuntimeError("RpcServer already started")
        if self._sock is None:
            await self.bind()
        assert self._sock is not None
        self._reader = SocketReader(self._sock, self._on_frames, self._name)
        self._sweeper = asyncio.create_task(
            self._sweep_loop(), name=f"rpc-server-sweep {self._address}"
        )
        log.info("RPC server listening on %s", self._address)

    async def close(self, drain_s: float = 0.0) -> None:
        """Stop serving and close the socket. Idempotent.

        Calls still running get up to `drain_s` to finish and send their answers; meanwhile
        new calls are refused with `engine_unavailable` and pings are still answered, so
        clients neither wait for nothing nor take the engine for dead. Calls still running
        after that are cancelled unanswered.
        """
        if drain_s > 0:
            self._draining = True
            if self._handlers:
                log.info("RPC server waiting for %d calls to finish", len(self._handlers))
                await asyncio.wait(list(self._handlers), timeout=drain_s)
            unread_for = self._last_answer + ANSWER_READ_S - time.monotonic()
            if unread_for > 0:
                await asyncio.sleep(unread_for)
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        tasks = list(self._handlers)
        if self._sweeper is not None:
            tasks.append(self._sweeper)
            self._sweeper = None
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)
        if self._sock is not None:
            self._sock.close(linger=ANSWER_LINGER_MS)
            self._sock = None
            log.info("RPC server on %s closed", self._address)
        if self._curve_attachment is not None:
            self._curve_attachment.detach()  # after the socket: never a moment unguarded
            self._curve_attachment = None
        self._last_seen.clear()

    # -- receiving (called by the SocketReader, on the event loop) -------------------------

    def _on_frames(self, frames: list[bytes]) -> None:
        if len(frames) != 2:
            log.warning(
                "RPC server dropped a message of %d frames (want 1 after the identity)",
                len(frames) - 1,
            )
            return
        identity, payload = frames
        if identity not in self._last_seen:
            log.info("RPC client %s connected", identity.hex())
        self._last_seen[identity] = time.monotonic()
        try:
            message = codec.decode_message(payload)
        except msgspec.DecodeError as exc:
            self._on_garbage(identity, payload, exc)
            return
        if isinstance(message, codec.Request):
            self._on_request(identity, message)
        elif isinstance(message, codec.Ping):
            self._send(identity, codec.encode(codec.Pong(message.sent, time.time())))
        else:
            log.warning(
                "RPC server dropped a %s message from %s; it only takes requests and pings",
                type(message).__name__,
                identity.hex(),
            )

    def _on_garbage(self, identity: bytes, payload: bytes, exc: Exception) -> None:
        log.warning(
            "RPC server dropped an unreadable message from %s (%s): %s",
            identity.hex(),
            exc,
            codec.describe(payload),
        )
        request_id = codec.probe_request_id(payload)
        if request_id is not None:
            self._send_error(identity, request_id, "bad_request", f"malformed request: {exc}")

    def _on_request(self, identity: bytes, request: codec.Request) -> None:
        if self._draining:
            message = "the engine is shutting down; retry shortly"
            self._send_error(identity, request.id, "engine_unavailable", message)
            self._last_answer = time.monotonic()
            return
        method = self._methods.get(request.method)
        if method is None:
            name = request.method[:80]
            log.warning("RPC call to unknown method %r", name)
            self._send_error(identity, request.id, "not_found", f"unknown RPC method {name!r}")
            return
        try:
            params = method.decoder.decode(request.params)
        except msgspec.DecodeError as exc:
            log.warning("RPC call to %r with invalid params: %s", method.name, exc)
            field = codec.field_of(exc)
            details = {"field": field} if field else {}
            self._send_error(identity, request.id, "validation_error", str(exc), details)
            return
        task = asyncio.create_task(
            self._run(identity, request.id, method, params, request.deadline)
        )
        self._handlers.add(task)
        task.add_done_callback(self._handlers.discard)

    # -- handler tasks -----------------------------------------------------------------------

    async def _run(
        self, identity: bytes, request_id: int, method: _Method, params: object, deadline: float
    ) -> None:
        late_s = time.time() - deadline
        if late_s > 0:
            self._late.note(method.name, late_s)
            message = f"the engine received '{method.name}' after its deadline; not carried out"
            details = {"method": method.name, "late_ms": round(late_s * 1000)}
            self._send_error(identity, request_id, "timeout", message, details)
            return
        try:
            result = await method.handler(params)
        except TradebridgeError as exc:
            self._send_error(identity, request_id, exc.code, exc.message, exc.details)
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise  # the server is closing
            # A CancelledError escaped the handler without anyone cancelling this task.
            log.error("RPC handler for %r raised CancelledError", method.name)
            self._send_internal_error(identity, request_id)
        except Exception:
            log.exception("RPC handler for %r failed", method.name)
            self._send_internal_error(identity, request_id)
        else:
            try:
                data = codec.encode_response(request_id, result)
            except Exception:
                log.exception(
                    "RPC handler for %r returned a result msgpack cannot encode", method.name
                )
                self._send_internal_error(identity, request_id)
            else:
                self._send(identity, data)
        self._last_answer = time.monotonic()
        if self._reader is not None:
            self._reader.recheck()  # this send happened outside the reader

    # -- sending -----------------------------------------------------------------------------

    def _send(self, identity: bytes, data: bytes) -> None:
        # ROUTER never blocks: a message for a peer that is gone or whose queue is full is
        # dropped by ZeroMQ, which is what we want for a caller that gave up.
        sock = self._sock
        if sock is None:
            return
        try:
            send_frames(sock, [identity, data])
        except zmq.ZMQError as exc:
            log.debug("RPC server could not send to %s: %s", identity.hex(), exc)

    def _send_error(
        self,
        identity: bytes,
        request_id: int,
        code: str,
        message: str,
        details: dict[str, Any] | None = None,
    ) -> None:
        try:
            data = codec.encode_error(request_id, code, message, details or {})
        except Exception:
            log.exception("RPC error %r has details msgpack cannot encode", code)
            data = codec.encode_error(request_id, "internal_error", _INTERNAL_MESSAGE, {})
        self._send(identity, data)

    def _send_internal_error(self, identity: bytes, request_id: int) -> None:
        self._send_error(identity, request_id, "internal_error", _INTERNAL_MESSAGE)

    # -- client tracking ---------------------------------------------------------------------

    async def _sweep_loop(self) -> None:
        silent_s = SILENT_INTERVALS * self._heartbeat_s
        while True:
            await asyncio.sleep(self._heartbeat_s)
            self._late.report()
            cutoff = time.monotonic() - silent_s
            stale = [identity for identity, seen in self._last_seen.items() if seen < cutoff]
            for identity in stale:
                del self._last_seen[identity]
                log.info("RPC client %s silent for %.1fs; forgotten", identity.hex(), silent_s)


class _LateCalls:
    """Logs the calls not carried out because their deadline had passed: the first of a burst
    (e.g. the calls that queued up while the engine was paused) with its details, the rest as
    one count per heartbeat interval."""

    def __init__(self) -> None:
        self._unreported = 0
        self._in_burst = False

    def note(self, method: str, late_s: float) -> None:
        if self._in_burst:
            self._unreported += 1
            return
        self._in_burst = True
        log.warning(
            "RPC call to %r arrived %.1f s after its deadline (its caller had given up); "
            "not carried out",
            method,
            late_s,
        )

    def report(self) -> None:
        if self._unreported:
            log.warning(
                "RPC server did not carry out %d more calls that arrived after their deadline",
                self._unreported,
            )
        self._unreported = 0
        self._in_burst = False
