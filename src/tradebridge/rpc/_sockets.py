"""Socket plumbing shared by the RPC server, client and event bus.

Why not ``zmq.asyncio`` sockets for reading: they resolve one Future per received message and
wake the awaiting task on a later loop iteration, which costs an extra loop iteration (and
several ZMQ_EVENTS reads) per message on each side of the link. Here the event loop calls
:class:`SocketReader` straight from its reader callback, which reads every waiting message and
hands it to a plain function, so an answer reaches the waiting caller's future in the same
loop iteration that noticed it. Sockets are still created from the (``zmq.asyncio``) context,
as plain pyzmq sockets, and all sends are non-blocking, so nothing ever blocks the loop.

The one subtlety is that ZeroMQ's file descriptor is edge-triggered and shared by sends and
receives: it signals when the socket's state *changes*, and a send can swallow the signal for
messages that arrived meanwhile. Hence the two rules :class:`SocketReader` follows: on every
wake-up read until EAGAIN, and after a send made outside the reader callback, look at
ZMQ_EVENTS again (:meth:`SocketReader.recheck`).

This needs an event loop with ``add_reader``: any loop on Linux and macOS (asyncio, uvloop); on
Windows the selector loop (``asyncio.WindowsSelectorEventLoopPolicy``), not the proactor.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import struct
from collections.abc import Callable
from typing import cast

import zmq
import zmq.asyncio

log = logging.getLogger(__name__)

SEND_MORE = int(zmq.SNDMORE | zmq.NOBLOCK)
NOBLOCK = int(zmq.NOBLOCK)
_RCVMORE = int(zmq.RCVMORE)
"""pyzmq's flags as plain ints: they are enum members, and `send_multipart` combines them
(`|`) and `recv_multipart` looks `RCVMORE` up for every frame, building enum members each
time (2 µs of a 5 µs two-frame message). `send_frames` and `recv_frames` do the same without."""


def send_frames(sock: zmq.Socket[bytes], frames: list[bytes]) -> None:
    """`send_multipart(frames, NOBLOCK)`."""
    for frame in frames[:-1]:
        sock.send(frame, SEND_MORE)
    sock.send(frames[-1], NOBLOCK)


def recv_frames(sock: zmq.Socket[bytes]) -> list[bytes]:
    """`recv_multipart(NOBLOCK)`."""
    frames = [sock.recv(NOBLOCK)]
    while sock.get(_RCVMORE):
        frames.append(sock.recv(NOBLOCK))
    return frames


#: Messages read per wake-up before yielding to other callbacks (a flood must not starve them).
READ_BUDGET = 256


def resolve_context(context: zmq.asyncio.Context | None) -> zmq.asyncio.Context:
    """The given context, or the process-wide one (which nobody here ever terminates)."""
    return context if context is not None else zmq.asyncio.Context.instance()


def open_socket(
    context: zmq.asyncio.Context, kind: int, options: dict[int, int] | None = None
) -> zmq.Socket[bytes]:
    """A new plain (non-asyncio) socket with LINGER 0: closing never waits for unsent data.

    Made by ``context.socket`` so that defaults set on the context (``context.setsockopt``,
    e.g. CURVE keys) apply to it as well.
    """
    make_plain = cast("Callable[[zmq.asyncio.Context, int], zmq.asyncio.Socket]", zmq.Socket)
    sock = cast("zmq.Socket[bytes]", context.socket(kind, socket_class=make_plain))
    sock.setsockopt(zmq.LINGER, 0)
    for option, value in (options or {}).items():
        sock.setsockopt(option, value)
    return sock


class SocketReader:
    """Call ``on_message(frames)`` for every message that arrives on ``sock``.

    Runs on the event loop that is running when it is created, until :meth:`close`.
    An exception from ``on_message`` is logged and the next message is read.
    """

    def __init__(
        self, sock: zmq.Socket[bytes], on_message: Callable[[list[bytes]], None], name: str
    ) -> None:
        self._sock = sock
        self._on_message = on_message
        self._name = name
        self._loop = asyncio.get_running_loop()
        self._fd = sock.FD
        self._scheduled = False
        self._closed = False
        try:
            self._loop.add_reader(self._fd, self._read)
        except NotImplementedError as exc:  # pragma: no cover - Windows proactor loop
            raise RuntimeError(
                "tradebridge.rpc needs an event loop with add_reader; on Windows use "
                "asyncio.WindowsSelectorEventLoopPolicy()"
            ) from exc
        self._schedule()  # messages may already be waiting, with no edge to come

    def recheck(self) -> None:
        """Call after sending on the socket outside ``on_message``: the send may have swallowed
        the wake-up for messages that arrived meanwhile."""
        if self._scheduled or self._closed:
            return
        if cast(int, self._sock.get(zmq.EVENTS)) & zmq.POLLIN:
            self._schedule()

    def close(self) -> None:
        """Stop reading (call before closing the socket)."""
        if not self._closed:
            self._closed = True
            self._loop.remove_reader(self._fd)

    def _schedule(self) -> None:
        if not self._scheduled:
            self._scheduled = True
            self._loop.call_soon(self._scheduled_read)

    def _scheduled_read(self) -> None:
        self._scheduled = False
        self._read()

    def _read(self) -> None:
        if self._closed:
            return
        sock = self._sock
        on_message = self._on_message
        for _ in range(READ_BUDGET):
            try:
                frames = recv_frames(sock)
            except zmq.Again:
                return
            except zmq.ZMQError as exc:
                if not self._closed and exc.errno != zmq.ETERM:
                    log.error("%s: receive failed: %s", self._name, exc)
                return
            try:
                on_message(frames)
            except Exception:  # one bad message must not stop the reader
                log.exception("%s: failed to process a message; dropped", self._name)
        self._schedule()  # more may be waiting: read them after the other ready callbacks


class SocketMonitor:
    """Call ``on_event(event, value)`` for each ZeroMQ monitor event in the mask ``events``
    that happens on ``sock``, from the event loop (a ``zmq_socket_monitor`` PAIR socket read by
    a :class:`SocketReader`).

    Start it before the socket binds or connects, so no event is missed. Close it before or
    after the socket.
    """

    def __init__(
        self,
        context: zmq.asyncio.Context,
        sock: zmq.Socket[bytes],
        events: int,
        on_event: Callable[[int, int], None],
        name: str,
    ) -> None:
        self._sock = sock
        self._on_event = on_event
        self._pair = open_socket(context, zmq.PAIR)
        try:
            address = f"inproc://tradebridge-monitor-{next(_monitor_ids)}"
            sock.monitor(address, events)
            self._pair.connect(address)
            self._reader = SocketReader(self._pair, self._on_frames, name)
        except BaseException:
            self._pair.close(linger=0)
            raise

    def close(self) -> None:
        self._reader.close()
        if not self._sock.closed:  # a closed socket has stopped its monitor itself
            self._sock.disable_monitor()
        self._pair.close(linger=0)

    def _on_frames(self, frames: list[bytes]) -> None:
        # First frame: the event (uint16) and its value (uint32); second: the endpoint.
        event, value = struct.unpack_from("=HI", frames[0])
        self._on_event(event, value)


_monitor_ids = itertools.count(1)
