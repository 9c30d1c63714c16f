"""Engine side of the RPC link: a ROUTER socket that serves many web processes at once.

How a message is handled
    One receive loop reads ``[identity, frame]`` messages off the ROUTER socket and decodes the
    frame (see ``codec.py`` for the framing). A request is looked up and its params are decoded
    right there; the handler then runs in its own asyncio task, so a slow handler never holds up
    the others, and its answer goes back as soon as it is ready, in whatever order. Requests
    carry an integer id that the answer repeats; the client matches answers to callers by it.

Heartbeat
    Clients ping every heartbeat interval; the receive loop answers ``pong`` itself (never from
    a handler task), so a busy handler cannot make the engine look dead, but a blocked event
    loop does, which is the truth. The server also notes when it last heard from each client
    identity and forgets identities silent for about three intervals (a sweep once per
    interval); ``connected_clients`` exposes the count for health reporting.

Failure policy
    Nothing a peer sends can stop the loop. A frame that cannot be read (wrong number of frames,
    empty, not msgpack, msgpack of the wrong shape, a kind the server does not take) is logged
    with a short preview and dropped; if a request id can still be read from it, the caller gets
    ``bad_request`` instead of waiting for its timeout. Unknown method -> ``not_found``. Params
    that do not decode into the registered type -> ``validation_error`` with msgspec's message.
    A handler raising a :class:`TradebridgeError` -> that error's code, message and details.
    Any other exception -> ``internal_error`` with a generic message; the traceback is logged
    here and never sent. Answers to a client that has gone away are dropped by ZeroMQ.
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
from tradebridge.rpc._sockets import open_socket, resolve_context, sent

__all__ = ["RpcServer"]

log = logging.getLogger(__name__)

P = TypeVar("P")

#: A client silent for this many heartbeat intervals is forgotten.
SILENT_INTERVALS = 3
_INTERNAL_MESSAGE = "internal error in the engine; see the engine log"


@dataclass(frozen=True, slots=True)
class _Method:
    name: str
    decoder: msgspec.msgpack.Decoder[Any]
    handler: Callable[[Any], Awaitable[object]]


class RpcServer:
    """Serve registered async handlers over ZeroMQ ROUTER at ``address`` (e.g. ``tcp://*:5555``).

    Belongs to the event loop that starts it.
    """

    def __init__(
        self,
        address: str,
        *,
        heartbeat_ms: int = 1000,
        context: zmq.asyncio.Context | None = None,
    ) -> None:
        if heartbeat_ms <= 0:
            raise ValueError("heartbeat_ms must be positive")
        self._address = address
        self._heartbeat_s = heartbeat_ms / 1000
        self._context = resolve_context(context)
        self._methods: dict[str, _Method] = {}
        self._sock: zmq.asyncio.Socket | None = None
        self._loops: list[asyncio.Task[None]] = []
        self._handlers: set[asyncio.Task[None]] = set()
        self._last_seen: dict[bytes, float] = {}

    def register(
        self, method: str, params_type: type[P], handler: Callable[[P], Awaitable[object]]
    ) -> None:
        """Serve ``method``: params are decoded into ``params_type`` (a ``msgspec.Struct``, or
        ``type(None)`` for none) and passed to ``handler``, whose return value (anything msgspec
        can encode) is the result."""
        if method in self._methods:
            raise ValueError(f"RPC method {method!r} is already registered")
        decoder: msgspec.msgpack.Decoder[Any] = msgspec.msgpack.Decoder(params_type)
        self._methods[method] = _Method(method, decoder, handler)

    @property
    def connected_clients(self) -> int:
        """How many client sockets were heard from within the last ~3 heartbeat intervals."""
        return len(self._last_seen)

    async def start(self) -> None:
        """Bind the ROUTER socket and start serving."""
        if self._sock is not None:
            raise RuntimeError("RpcServer already started")
        sock = open_socket(self._context, zmq.ROUTER)
        try:
            sock.bind(self._address)
        except BaseException:
            sock.close(linger=0)
            raise
        self._sock = sock
        self._loops = [
            asyncio.create_task(self._receive_loop(sock), name=f"rpc-server-recv {self._address}"),
            asyncio.create_task(self._sweep_loop(), name=f"rpc-server-sweep {self._address}"),
        ]
        log.info("RPC server listening on %s", self._address)

    async def close(self) -> None:
        """Stop receiving, cancel handlers still running, close the socket. Idempotent."""
        tasks = [*self._loops, *self._handlers]
        self._loops = []
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)
        if self._sock is not None:
            self._sock.close(linger=0)
            self._sock = None
            log.info("RPC server on %s closed", self._address)
        self._last_seen.clear()

    # -- receiving ---------------------------------------------------------------------------

    async def _receive_loop(self, sock: zmq.asyncio.Socket) -> None:
        while True:
            try:
                frames = await sock.recv_multipart()
            except zmq.ZMQError as exc:
                if sock.closed or exc.errno == zmq.ETERM:
                    return
                log.error("RPC server receive failed on %s: %s", self._address, exc)
                await asyncio.sleep(self._heartbeat_s)  # do not spin on a persistent error
                continue
            try:
                self._on_frames(sock, frames)
            except Exception:  # never let one message end the loop
                log.exception("RPC server failed to process a message; dropped")

    def _on_frames(self, sock: zmq.asyncio.Socket, frames: list[bytes]) -> None:
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
            self._on_garbage(sock, identity, payload, exc)
            return
        if isinstance(message, codec.Request):
            self._on_request(sock, identity, message)
        elif isinstance(message, codec.Ping):
            self._send(sock, identity, codec.PONG)
        else:
            log.warning(
                "RPC server dropped a %s message from %s; it only takes requests and pings",
                type(message).__name__,
                identity.hex(),
            )

    def _on_garbage(
        self, sock: zmq.asyncio.Socket, identity: bytes, payload: bytes, exc: Exception
    ) -> None:
        request_id = codec.probe_request_id(payload)
        log.warning(
            "RPC server dropped an unreadable message from %s (%s): %s",
            identity.hex(),
            exc,
            codec.describe(payload),
        )
        if request_id is not None:
            self._send_error(sock, identity, request_id, "bad_request", f"malformed request: {exc}")

    def _on_request(
        self, sock: zmq.asyncio.Socket, identity: bytes, request: codec.Request
    ) -> None:
        method = self._methods.get(request.method)
        if method is None:
            name = request.method[:80]
            log.warning("RPC call to unknown method %r", name)
            self._send_error(
                sock, identity, request.id, "not_found", f"unknown RPC method {name!r}"
            )
            return
        try:
            params = method.decoder.decode(request.params)
        except msgspec.DecodeError as exc:
            log.warning("RPC call to %r with invalid params: %s", method.name, exc)
            field = codec.field_of(exc)
            self._send_error(
                sock,
                identity,
                request.id,
                "validation_error",
                str(exc),
                {"field": field} if field else {},
            )
            return
        task = asyncio.create_task(self._run(sock, identity, request.id, method, params))
        self._handlers.add(task)
        task.add_done_callback(self._handlers.discard)

    async def _run(
        self,
        sock: zmq.asyncio.Socket,
        identity: bytes,
        request_id: int,
        method: _Method,
        params: object,
    ) -> None:
        try:
            result = await method.handler(params)
        except TradebridgeError as exc:
            self._send_error(sock, identity, request_id, exc.code, exc.message, exc.details)
            return
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise  # the server is closing
            # A CancelledError escaping the handler without anyone cancelling this task.
            log.error("RPC handler for %r raised CancelledError", method.name)
            self._send_internal_error(sock, identity, request_id)
            return
        except Exception:
            log.exception("RPC handler for %r failed", method.name)
            self._send_internal_error(sock, identity, request_id)
            return
        try:
            data = codec.encode_response(request_id, result)
        except Exception:
            log.exception("RPC handler for %r returned a result msgpack cannot encode", method.name)
            self._send_internal_error(sock, identity, request_id)
            return
        self._send(sock, identity, data)

    # -- sending -----------------------------------------------------------------------------

    def _send(self, sock: zmq.asyncio.Socket, identity: bytes, data: bytes) -> None:
        # ROUTER never blocks: a message for a peer that is gone or whose queue is full is
        # dropped by ZeroMQ, which is what we want for a caller that gave up.
        try:
            sent(sock.send_multipart((identity, data), zmq.NOBLOCK))
        except zmq.ZMQError as exc:
            log.debug("RPC server could not send to %s: %s", identity.hex(), exc)

    def _send_error(
        self,
        sock: zmq.asyncio.Socket,
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
        self._send(sock, identity, data)

    def _send_internal_error(
        self, sock: zmq.asyncio.Socket, identity: bytes, request_id: int
    ) -> None:
        self._send_error(sock, identity, request_id, "internal_error", _INTERNAL_MESSAGE)

    # -- client tracking ---------------------------------------------------------------------

    async def _sweep_loop(self) -> None:
        silent_s = SILENT_INTERVALS * self._heartbeat_s
        while True:
            await asyncio.sleep(self._heartbeat_s)
            cutoff = time.monotonic() - silent_s
            stale = [identity for identity, seen in self._last_seen.items() if seen < cutoff]
            for identity in stale:
                del self._last_seen[identity]
                log.info("RPC client %s silent for %.1fs; forgotten", identity.hex(), silent_s)
