"""Web side of the RPC link: an asyncio client that keeps many calls in flight on one socket.

Calls
    A DEALER socket talks to the engine's ROUTER. Each call gets an integer id and a future;
    the event loop's reader callback (``_sockets.SocketReader``) decodes answers and resolves
    the future with the same id, so any number of calls share the socket and answers may come
    back in any order. A call costs one future and one timer, no task. Sends never wait: if
    ZeroMQ cannot take the message at once (no live connection, queue full) the call fails with
    ``EngineUnavailable`` on the spot.

Timeouts
    Each call has a deadline (``timeout_ms`` of the constructor, or per call). When it passes,
    the caller gets ``Timeout`` and the pending entry is dropped; an answer that turns up later
    finds no entry and is ignored (debug log). Nothing else is affected: the client keeps
    serving other and later calls as usual. (vnpy's RPC client wedges for good after its first
    timeout; this one must not.)

Heartbeat and failure policy
    The client pings every heartbeat interval; the server answers pong straight from its
    reader. ``connected`` is False until the first pong. The link is declared down when
    nothing at all has come from the server for about three intervals (a dead host, a stuck
    engine loop), or at once when the TCP connection to the engine closes (the engine exited
    or closed its socket; a ZeroMQ socket monitor reports it). Then every pending call fails
    at once with ``EngineUnavailable`` (callers do not sit out their full timeout), new calls
    fail immediately with ``EngineUnavailable`` until a pong is seen again, and the DEALER
    socket is closed (linger 0) and replaced by a fresh one connected to the same address,
    which keeps pinging. A fresh socket means a fresh identity and empty queues, so a restarted
    engine (new process or new ``RpcServer`` on the same address) is picked up cleanly without
    any action from the owner of the client, and no stale request can reach it. The DEALER has
    ZMQ_IMMEDIATE set, so nothing is queued while there is no live connection.

Security
    Given ``curve`` keys (:class:`~tradebridge.rpc.curve.CurveClient`), the DEALER is a CURVE
    client: the link is encrypted and the engine checks the web's key. An engine that refuses
    the handshake (an unknown key, a wrong engine public key, CURVE on one side only) never
    answers, so the link stays down and calls fail with ``EngineUnavailable``; the cause is
    logged once.

An ``RpcClient`` belongs to the event loop that started it (one per uvicorn worker).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

import msgspec
import zmq
import zmq.asyncio

from tradebridge.domain.errors import EngineUnavailable, InternalError, Timeout
from tradebridge.rpc import codec
from tradebridge.rpc._sockets import SocketMonitor, SocketReader, open_socket, resolve_context
from tradebridge.rpc.curve import HANDSHAKE_FAILURES, CurveClient, describe_handshake_failure

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
        curve: CurveClient | None = None,
    ) -> None:
        if heartbeat_ms <= 0 or timeout_ms <= 0:
            raise ValueError("heartbeat_ms and timeout_ms must be positive")
        self._address = address
        self._heartbeat_s = heartbeat_ms / 1000
        self._timeout_s = timeout_ms / 1000
        self._context = resolve_context(context)
        self._curve = curve
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[msgspec.Raw]] = {}
        self._decoders: dict[Any, msgspec.msgpack.Decoder[Any]] = {}
        self._link: _Link | None = None
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
        self._link = self._new_link()
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
        link, self._link = self._link, None
        if link is not None:
            link.close()

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
        link = self._link
        if not self._connected or link is None:
            raise EngineUnavailable(_UNAVAILABLE)
        request_id = next(self._ids)
        if not link.send(codec.encode_request(request_id, method, params)):
            raise EngineUnavailable(_UNAVAILABLE)

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
                f"engine returned a malformed result for '{method}': {exc}"
            ) from None
        return result

    # -- link lifecycle ----------------------------------------------------------------------

    def _new_link(self) -> _Link:
        return _Link(
            self._context, self._address, self._curve, self._on_frames, self._on_disconnected
        )

    def _set_down(self, reason: str) -> None:
        """Mark the link down and fail every pending call with ``EngineUnavailable``."""
        self._connected = False
        self._up.clear()
        for future in self._pending.values():  # the callers remove their own entries
            if not future.done():
                future.set_exception(EngineUnavailable(_UNAVAILABLE, {"reason": reason}))

    def _replace_link(self, reason: str) -> None:
        log.warning(
            "RPC link to %s down (%s); failing %d pending calls",
            self._address,
            reason,
            len(self._pending),
        )
        self._set_down(reason)
        if self._link is not None:
            self._link.close()
            self._link = self._new_link()

    def _on_disconnected(self, link: _Link) -> None:
        # The TCP connection to the engine closed (it exited, or its socket was closed): the
        # calls sent on it can never be answered, so fail them now rather than after 3
        # heartbeats. Done on the next loop turn, not inside the monitor's reader callback,
        # and after reading the answers that came before the close (the monitor's event can
        # overtake them: an engine answers its last calls, then exits).
        if link is self._link and self._connected:
            link.read_waiting()
            asyncio.get_running_loop().call_soon(self._replace_link_if_current, link)

    def _replace_link_if_current(self, link: _Link) -> None:
        if link is self._link and self._connected:
            self._replace_link("connection closed")

    # -- heartbeat and receiving -------------------------------------------------------------

    async def _heartbeat_loop(self) -> None:
        silent_s = SILENT_INTERVALS * self._heartbeat_s
        while True:
            if self._connected and time.monotonic() - self._last_heard > silent_s:
                self._replace_link(f"nothing heard for {silent_s:.1f}s")
            if self._link is not None:
                self._link.send(codec.PING)  # not queued while there is no live connection
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


class _Link:
    """One DEALER socket to the engine, plus a monitor that reports its disconnection.

    Replaced as a whole when the link is lost: a new socket has a new identity and empty queues.
    """

    def __init__(
        self,
        context: zmq.asyncio.Context,
        address: str,
        curve: CurveClient | None,
        on_frames: Callable[[list[bytes]], None],
        on_disconnected: Callable[[_Link], None],
    ) -> None:
        self._address = address
        self._on_disconnected = on_disconnected
        self._refusal_logged = False
        # IMMEDIATE: queue nothing unless a connection is up, so a send fails (zmq.Again) at
        # once when the engine is not there, instead of piling up for a later connection.
        self._sock = open_socket(context, zmq.DEALER, {zmq.IMMEDIATE: 1})
        try:
            if curve is not None:
                curve.secure(self._sock)
            self._monitor = SocketMonitor(
                context,
                self._sock,
                zmq.EVENT_DISCONNECTED | HANDSHAKE_FAILURES,
                self._on_monitor_event,
                f"RPC client monitor {address}",
            )
        except BaseException:
            self._sock.close(linger=0)
            raise
        try:
            self._sock.connect(address)
            self._reader = SocketReader(self._sock, on_frames, f"RPC client {address}")
        except BaseException:
            self._monitor.close()
            self._sock.close(linger=0)
            raise

    def send(self, data: bytes) -> bool:
        """Queue ``data`` without waiting; False if there is no live connection (or the queue
        is full)."""
        try:
            self._sock.send(data, zmq.NOBLOCK)
        except zmq.Again:
            return False
        except zmq.ZMQError as exc:
            log.warning("RPC client could not send to %s: %s", self._address, exc)
            return False
        finally:
            self._reader.recheck()
        return True

    def read_waiting(self) -> None:
        """Have the messages already waiting on the socket read before later callbacks."""
        self._reader.recheck()

    def close(self) -> None:
        self._reader.close()
        self._monitor.close()
        self._sock.close(linger=0)

    def _on_monitor_event(self, event: int, value: int) -> None:
        if event == zmq.EVENT_DISCONNECTED:
            self._on_disconnected(self)
        elif not self._refusal_logged:  # a wrong server key fails again at every retry
            self._refusal_logged = True
            log.error(
                "RPC link to %s cannot be set up: %s",
                self._address,
                describe_handshake_failure(event, value),
            )


def _expire(future: asyncio.Future[msgspec.Raw], method: str, timeout_s: float) -> None:
    if not future.done():
        future.set_exception(
            Timeout(
                f"no answer from the engine to '{method}' within {timeout_s * 1000:.0f} ms",
                {"method": str(method), "timeout_ms": round(timeout_s * 1000)},
            )
        )
