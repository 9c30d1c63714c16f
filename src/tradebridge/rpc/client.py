"""Web side of the RPC link: an asyncio client that keeps many calls in flight on one socket.

Calls
    A DEALER socket talks to the engine's ROUTER. Each call gets an integer id and a future;
    the event loop's reader callback (``_sockets.SocketReader``) decodes answers and resolves
    the future with the same id, so any number of
    calls share the socket and answers may come back in any order. A call costs one future and
    one timer, no task. Sends never wait: if ZeroMQ cannot take the message at once (no live
    connection, queue full) the call fails with ``EngineUnavailable`` on the spot.

Timeouts
    Each call has a deadline (``timeout_ms`` of the constructor, or per call). When it passes,
    the caller gets ``Timeout`` and the pending entry is dropped; an answer that turns up later
    finds no entry and is ignored (debug log). Nothing else is affected: the client keeps
    serving other and later calls as usual. (vnpy's RPC client wedges for good after its first
    timeout; this one must not.)

Heartbeat and failure policy
    The client pings every heartbeat interval; the server answers pong from its receive loop.
    ``connected`` is False until the first pong. When nothing at all has come from the server
    for about three intervals, the link is declared down: every pending call fails at once with
    ``EngineUnavailable`` (callers do not sit out their full timeout), new calls fail
    immediately with ``EngineUnavailable`` until a pong is seen again, and the DEALER socket is
    closed (linger 0) and replaced by a fresh one connected to the same address, which keeps
    pinging. A fresh socket means a fresh identity and empty queues, so a restarted engine
    (new process or new ``RpcServer`` on the same address) is picked up cleanly without any
    action from the owner of the client, and no stale request can reach it.
    The DEALER has ZMQ_IMMEDIATE set, so nothing is queued while there is no live connection.

An ``RpcClient`` belongs to the event loop that started it (one per uvicorn worker).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from typing import Any, TypeVar

import msgspec
import zmq
import zmq.asyncio

from tradebridge.domain.errors import EngineUnavailable, InternalError, Timeout
from tradebridge.rpc import codec
from tradebridge.rpc._sockets import SocketReader, open_socket, resolve_context

__all__ = ["RpcClient"]

log = logging.getLogger(__name__)

R = TypeVar("R")

#: The link is declared down after this many heartbeat intervals without any message.
SILENT_INTERVALS = 3
#: While the link is down, ping at least this often so a returning engine is seen quickly.
_DOWN_PING_S = 0.05

_UNAVAILABLE = "engine unavailable"


class RpcClient:
    """Call methods of an :class:`~tradebridge.rpc.server.RpcServer` at ``address``."""

    def __init__(
        self,
        address: str,
        *,
        heartbeat_ms: int = 1000,
        timeout_ms: int = 5000,
        context: zmq.asyncio.Context | None = None,
    ) -> None:
        if heartbeat_ms <= 0 or timeout_ms <= 0:
            raise ValueError("heartbeat_ms and timeout_ms must be positive")
        self._address = address
        self._heartbeat_s = heartbeat_ms / 1000
        self._timeout_s = timeout_ms / 1000
        self._context = resolve_context(context)
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[msgspec.Raw]] = {}
        self._decoders: dict[Any, msgspec.msgpack.Decoder[Any]] = {}
        self._sock: zmq.Socket[bytes] | None = None
        self._reader: SocketReader | None = None
        self._heartbeat: asyncio.Task[None] | None = None
        self._connected = False
        self._up = asyncio.Event()
        self._last_heard = 0.0

    @property
    def connected(self) -> bool:
        """True from the first pong until the link is declared down."""
        return self._connected

    async def start(self) -> None:
        """Connect (in the background) and start pinging; returns at once."""
        if self._heartbeat is not None:
            raise RuntimeError("RpcClient already started")
        self._open_socket()
        self._heartbeat = asyncio.create_task(
            self._heartbeat_loop(), name=f"rpc-client-heartbeat {self._address}"
        )

    async def wait_connected(self, timeout_ms: int | None = None) -> bool:
        """Wait until the link is up (at most ``timeout_ms``, default: the call timeout).

        Returns whether it is. Useful at start-up, so the first calls do not fail fast.
        """
        timeout = self._timeout_s if timeout_ms is None else timeout_ms / 1000
        try:
            async with asyncio.timeout(timeout):
                await self._up.wait()
        except TimeoutError:
            return False
        return True

    async def close(self) -> None:
        """Stop pinging, fail pending calls with ``EngineUnavailable``, close the socket."""
        heartbeat, self._heartbeat = self._heartbeat, None
        if heartbeat is not None:
            heartbeat.cancel()
            await asyncio.wait([heartbeat])
        self._set_down("client closed")
        self._close_socket()

    async def call(
        self,
        method: str,
        params: msgspec.Struct | None,
        result_type: type[R],
        *,
        timeout_ms: int | None = None,
    ) -> R:
        """Call ``method`` and decode its result into ``result_type``.

        Raises ``EngineUnavailable`` if the link is not up or goes down while waiting,
        ``Timeout`` if no answer comes in time, or the ``TradebridgeError`` the handler raised.
        """
        sock, reader = self._sock, self._reader
        if not self._connected or sock is None or reader is None:
            raise EngineUnavailable(_UNAVAILABLE)
        request_id = next(self._ids)
        data = codec.encode_request(request_id, method, params)
        try:
            sock.send(data, zmq.NOBLOCK)  # zmq.Again: no live connection, or queue full
        except zmq.ZMQError as exc:
            raise EngineUnavailable(_UNAVAILABLE) from exc
        reader.recheck()

        loop = asyncio.get_running_loop()
        future: asyncio.Future[msgspec.Raw] = loop.create_future()
        self._pending[request_id] = future
        timeout_s = self._timeout_s if timeout_ms is None else timeout_ms / 1000
        timer = loop.call_later(timeout_s, _expire, future, method, timeout_s)
        try:
            raw = await future
        finally:
            timer.cancel()
            del self._pending[request_id]

        decoder = self._decoders.get(result_type)
        if decoder is None:
            decoder = self._decoders[result_type] = msgspec.msgpack.Decoder(result_type)
        try:
            result: R = decoder.decode(raw)
        except msgspec.DecodeError as exc:
            raise InternalError(
                f"engine returned a malformed result for {method!r}: {exc}"
            ) from None
        return result

    # -- socket lifecycle --------------------------------------------------------------------

    def _open_socket(self) -> None:
        sock = open_socket(self._context, zmq.DEALER, {zmq.IMMEDIATE: 1})
        try:
            sock.connect(self._address)
        except BaseException:
            sock.close(linger=0)
            raise
        self._sock = sock
        self._reader = SocketReader(sock, self._on_frames, f"RPC client {self._address}")

    def _close_socket(self) -> None:
        sock, self._sock = self._sock, None
        reader, self._reader = self._reader, None
        if reader is not None:
            reader.close()
        if sock is not None:
            sock.close(linger=0)

    def _set_down(self, reason: str) -> None:
        """Mark the link down and fail every pending call with ``EngineUnavailable``."""
        self._connected = False
        self._up.clear()
        pending = list(self._pending.values())
        for future in pending:  # the callers remove their own entries
            if not future.done():
                future.set_exception(EngineUnavailable(_UNAVAILABLE, {"reason": reason}))

    # -- background tasks --------------------------------------------------------------------

    async def _heartbeat_loop(self) -> None:
        silent_s = SILENT_INTERVALS * self._heartbeat_s
        while True:
            if self._connected and time.monotonic() - self._last_heard > silent_s:
                log.warning(
                    "RPC link to %s down: nothing heard for %.1fs; failing %d pending calls",
                    self._address,
                    silent_s,
                    len(self._pending),
                )
                self._set_down("link lost")
                self._close_socket()
                self._open_socket()
            sock, reader = self._sock, self._reader
            if sock is not None and reader is not None:
                try:
                    sock.send(codec.PING, zmq.NOBLOCK)
                except zmq.Again:
                    pass  # no live connection (IMMEDIATE): nothing is queued
                except zmq.ZMQError as exc:
                    log.warning("RPC client could not ping %s: %s", self._address, exc)
                reader.recheck()
            await asyncio.sleep(
                self._heartbeat_s if self._connected else min(self._heartbeat_s, _DOWN_PING_S)
            )

    def _on_frames(self, frames: list[bytes]) -> None:
        if len(frames) != 1:
            log.warning("RPC client dropped a message of %d frames (want 1)", len(frames))
            return
        data = frames[0]
        try:
            message = codec.decode_message(data)
        except msgspec.DecodeError as exc:
            log.warning(
                "RPC client dropped an unreadable message (%s): %s", exc, codec.describe(data)
            )
            return
        self._last_heard = time.monotonic()
        if isinstance(message, codec.Response):
            future = self._pending.get(message.id)
            if future is None:
                log.debug("RPC client ignored an answer to unknown request %d", message.id)
            elif not future.done():
                future.set_result(message.result)
        elif isinstance(message, codec.ErrorResponse):
            future = self._pending.get(message.id)
            if future is None:
                log.debug("RPC client ignored an error for unknown request %d", message.id)
            elif not future.done():
                future.set_exception(codec.error_from_wire(message.error))
        elif isinstance(message, codec.Pong):
            if not self._connected:
                self._connected = True
                self._up.set()
                log.info("RPC link to %s up", self._address)
        else:
            log.warning("RPC client dropped a %s message", type(message).__name__)


def _expire(future: asyncio.Future[msgspec.Raw], method: str, timeout_s: float) -> None:
    if not future.done():
        future.set_exception(
            Timeout(
                f"no answer from the engine to {method!r} within {timeout_s * 1000:.0f} ms",
                {"method": method, "timeout_ms": round(timeout_s * 1000)},
            )
        )
