"""Web side of the RPC link: an asyncio client that keeps many calls in flight on one socket.

Calls
    A DEALER socket talks to the engine's ROUTER. Each call gets an integer id and a future;
    the event loop's reader callback (``_sockets.SocketReader``) decodes answers and resolves
    the future with the same id, so any number of calls share the socket and answers may come
    back in any order. A call costs one future and one timer, no task. Sends never wait: if
    ZeroMQ cannot take the message at once (no live connection, queue full) the call fails with
    ``EngineUnavailable`` on the spot.

What a failure means: never sent, or outcome unknown
    A call that was never handed to a live connection (the link is down, the send was refused)
    fails with ``EngineUnavailable``: the engine never saw it, so nothing was done and it is
    safe to send again. A call that was sent and got no answer (its timeout passed, the link was
    lost while it was pending, the client closed) fails with ``Timeout``: the engine may have
    carried it out (e.g. placed the order and then stopped before answering), so the caller
    must look before doing it again (an order: by its ``client_order_id``).

Deadlines and timeouts
    Each call has a timeout (``timeout_ms`` of the constructor, or per call), sent with the
    request as its deadline in the engine's clock. When it passes, the caller gets ``Timeout``
    and the pending entry is dropped; an answer that turns up later finds no entry and is
    ignored (debug log). The engine does not start a request whose deadline has passed, so a
    request that waited out its timeout in a paused or stuck engine is never carried out
    after its caller was answered. Nothing else is affected: the client keeps serving other
    and later calls as usual. (vnpy's RPC client wedges for good after its first timeout;
    this one must not.) The engine's clock is learnt from the heartbeats (each pong carries
    it; the offset is taken from the quickest round trips), so the two hosts' clocks need not
    agree.

Heartbeat and failure policy
    The client pings every heartbeat interval; the server answers pong straight from its
    reader. ``connected`` is False until the first pong. The link is declared down when
    nothing at all has come from the server for about three intervals (a dead host, a stuck
    engine loop), or at once when the connection to the engine closes (the engine exited
    or closed its socket; a ZeroMQ socket monitor reports it). Then every pending call fails
    at once with ``Timeout`` (callers do not sit out their full timeout; the outcome is
    unknown), new calls fail immediately with ``EngineUnavailable`` until a pong is seen
    again, and the DEALER socket is closed (linger 0) and replaced by a fresh one connected to
    the same address, which keeps pinging. A fresh socket means a fresh identity and empty
    queues, so a restarted engine (new process or new ``RpcServer`` on the same address) is
    picked up cleanly without any action from the owner of the client, and no stale request
    can reach it. The DEALER has ZMQ_IMMEDIATE set, so nothing is queued while there is no
    live connection.

Security
    Given ``curve`` keys (:class:`~tradebridge.rpc.curve.CurveClient`), the DEALER is a CURVE
    client: the link is encrypted and the engine checks the web's key. An engine that refuses
    the handshake (an unknown key, a wrong engine public key, CURVE on one side only) never
    answers, so the link stays down and calls fail with ``EngineUnavailable`` naming the cause,
    which is logged once. That is also how the web knows the engine it reached is its own:
    the handshake succeeds only with the engine that holds the secret key of the public key the
    web was given (its instance's), so a web never talks to another instance's engine.

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
from tradebridge.rpc._sockets import (
    NOBLOCK,
    SocketMonitor,
    SocketReader,
    open_socket,
    resolve_context,
)
from tradebridge.rpc.curve import HANDSHAKE_FAILURES, CurveClient, describe_handshake_failure

__all__ = ["RpcClient"]

log = logging.getLogger(__name__)

R = TypeVar("R")

#: The link is declared down after this many heartbeat intervals without any message.
SILENT_INTERVALS = 3
#: While the link is down, ping at least this often so a returning engine is seen quickly.
_DOWN_PING_S = 0.05
#: A heartbeat round trip this quick (or at most twice the quickest) updates the clock offset.
_QUICK_ROUND_TRIP_S = 0.005

_UNAVAILABLE = "engine unavailable"
_UNKNOWN_OUTCOME = (
    "it may have been carried out: look it up (an order by its client_order_id) "
    "before sending it again"
)


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
        self._down_reason = "not connected yet"
        self._refused: str | None = None
        # The engine's wall clock minus this process's monotonic clock; until a pong says
        # otherwise, the two processes are taken to share a host clock.
        self._clock_offset = time.time() - time.monotonic()
        self._offset_round_trip = float("inf")

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

        Raises ``EngineUnavailable`` if the call could not be sent (the link is not up): the
        engine never saw it. Raises ``Timeout`` if it was sent but no answer came, in time or
        at all (the link went down while waiting): it may have been carried out. Otherwise the
        ``TradebridgeError`` the handler raised.
        """
        link = self._link
        if not self._connected or link is None:
            raise self._unavailable()
        loop = asyncio.get_running_loop()
        timeout_s = self._timeout_s if timeout_ms is None else timeout_ms / 1000
        deadline = loop.time() + self._clock_offset + timeout_s  # in the engine's clock
        request_id = next(self._ids)
        if not link.send(codec.encode_request(request_id, method, params, deadline)):
            raise self._unavailable()

        future: asyncio.Future[msgspec.Raw] = loop.create_future()
        self._pending[request_id] = future
        timer = loop.call_later(timeout_s, _expire, future, method, timeout_s)
        try:
            raw = await future
        except _LinkLost as lost:
            raise Timeout(
                f"the link to the engine was lost while '{method}' was under way "
                f"({lost.reason}); {_UNKNOWN_OUTCOME}",
                {"method": str(method), "reason": lost.reason},
            ) from None
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

    def _unavailable(self) -> EngineUnavailable:
        """The error of a call that could not be sent, naming why the link is not up."""
        if self._refused is not None:
            return EngineUnavailable(
                f"the engine at {self._address} refused this web's link: {self._refused}. "
                "It is not this instance's engine, or its CURVE keys are not the ones this "
                "web was given",
                {"reason": "handshake_failed", "address": self._address, "cause": self._refused},
            )
        return EngineUnavailable(
            _UNAVAILABLE, {"reason": self._down_reason, "address": self._address}
        )

    def _new_link(self) -> _Link:
        return _Link(
            self._context,
            self._address,
            self._curve,
            self._on_frames,
            self._on_disconnected,
            self._on_refused,
        )

    def _set_down(self, reason: str) -> None:
        """Mark the link down; every pending call fails with ``Timeout`` (it was sent, so it
        may have been carried out)."""
        self._connected = False
        self._down_reason = reason
        self._up.clear()
        for future in self._pending.values():  # the callers remove their own entries
            if not future.done():
                future.set_exception(_LinkLost(reason))

    def _on_refused(self, link: _Link, cause: str) -> None:
        if link is self._link:
            self._refused = cause

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
                # Not queued while there is no live connection.
                self._link.send(codec.encode(codec.Ping(time.monotonic())))
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
            self._learn_clock(message)
            if not self._connected:
                self._connected = True
                self._refused = None
                self._up.set()
                log.info("RPC link to %s up", self._address)
        else:
            log.warning("RPC client dropped a %s message", type(message).__name__)

    def _learn_clock(self, pong: codec.Pong) -> None:
        """Update the engine's clock offset from a quick enough heartbeat round trip (its error
        is at most half the round trip)."""
        received = time.monotonic()
        round_trip = received - pong.sent
        if pong.now and 0 <= round_trip <= max(2 * self._offset_round_trip, _QUICK_ROUND_TRIP_S):
            self._clock_offset = pong.now - (pong.sent + received) / 2
            self._offset_round_trip = round_trip


class _LinkLost(Exception):
    """Set on the pending calls when the link goes down; ``call`` makes it a ``Timeout``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


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
        on_refused: Callable[[_Link, str], None],
    ) -> None:
        self._address = address
        self._on_disconnected = on_disconnected
        self._on_refused = on_refused
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
            self._sock.send(data, NOBLOCK)
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
            return
        cause = describe_handshake_failure(event, value)
        self._on_refused(self, cause)
        if not self._refusal_logged:  # a wrong server key fails again at every retry
            self._refusal_logged = True
            log.error(
                "RPC link to %s cannot be set up: %s. The engine there is not this instance's "
                "engine, or its CURVE keys are not the ones this web was given",
                self._address,
                cause,
            )


def _expire(future: asyncio.Future[msgspec.Raw], method: str, timeout_s: float) -> None:
    if not future.done():
        future.set_exception(
            Timeout(
                f"no answer from the engine to '{method}' within {timeout_s * 1000:.0f} ms; "
                f"{_UNKNOWN_OUTCOME}",
                {"method": str(method), "timeout_ms": round(timeout_s * 1000)},
            )
        )
