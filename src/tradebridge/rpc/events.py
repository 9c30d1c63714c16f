"""Engine -> web event bus over ZeroMQ PUB/SUB.

Framing
    A message is the topic (UTF-8) followed by one or more payloads (opaque bytes, encoded by
    the caller), each one event of that topic: the events an account's journal commit made go
    out as one message (``publish_batch``), so the publisher wakes ZeroMQ's I/O thread once
    for them, not once per event. ZeroMQ filters on topic prefixes at the publisher, so a
    subscriber only receives the topics it asked for (``""`` means everything).

Heartbeat
    The publisher sends an empty payload on the reserved topic ``"\\x00hb"`` every heartbeat
    interval (topics starting with ``"\\x00"`` are reserved). Every subscriber always subscribes
    to it, and never returns it from ``receive()``; it only feeds ``alive``, which is true while
    a message or heartbeat was seen within about three intervals, and turns false at once when
    the connection to the publisher closes (the engine exited or was killed; a socket monitor
    reports it, and ``disconnects`` counts it, so an owner that looks now and then does not
    miss a loss the publisher's restart has already made good). SUB sockets reconnect and
    resubscribe by themselves, so a restarted publisher on the same address is picked up and
    ``alive`` turns true again without any action.

Failure policy: drop, never block
    ``publish`` never waits, so a slow or stuck web process can never stall the engine loop.
    ZeroMQ keeps a bounded queue per subscriber and drops what does not fit for that subscriber
    alone (one slow reader never costs the others anything); a send ZeroMQ refuses outright is
    dropped too, with one warning per episode. The subscriber reads its socket from the event
    loop's reader callback (so ``alive`` stays true even while its owner is busy with something
    else) into a bounded queue, and drops on overflow the same way. Events that matter carry a
    gap-free ``seq`` in their payload, so a consumer that sees a gap repairs it from the store;
    the bus itself does not retransmit.
"""

from __future__ import annotations

import asyncio
import logging
import time

import zmq
import zmq.asyncio

from tradebridge.rpc._sockets import (
    SocketMonitor,
    SocketReader,
    open_socket,
    resolve_context,
    send_frames,
)
from tradebridge.rpc.curve import (
    HANDSHAKE_FAILURES,
    CurveClient,
    CurveServer,
    ServerAttachment,
    describe_handshake_failure,
)

__all__ = ["HEARTBEAT_TOPIC", "EventPublisher", "EventSubscriber"]

log = logging.getLogger(__name__)

HEARTBEAT_TOPIC = "\x00hb"
_HEARTBEAT_FRAME = HEARTBEAT_TOPIC.encode()
#: ``alive`` turns false after this many heartbeat intervals without any message.
SILENT_INTERVALS = 3
#: Messages ZeroMQ queues per subscriber (publisher side) and per subscriber socket.
HIGH_WATER_MARK = 10_000
#: Events a subscriber holds for its owner before it starts dropping.
SUBSCRIBER_QUEUE = 10_000


class EventPublisher:
    """Publish events on ``address`` (bound), e.g. ``tcp://*:5556``.

    With ``curve``, only subscribers with an authorized CURVE key receive anything.
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
        self._heartbeat_s = heartbeat_ms / 1000
        self._context = resolve_context(context)
        self._curve = curve
        self._curve_attachment: ServerAttachment | None = None
        self._sock: zmq.Socket[bytes] | None = None
        self._sender: zmq.Socket[bytes] | None = None
        self._heartbeat: asyncio.Task[None] | None = None
        self._dropped = 0

    async def start(self) -> None:
        """Bind the PUB socket and start the heartbeat."""
        if self._sock is not None:
            raise RuntimeError("EventPublisher already started")
        sock = open_socket(self._context, zmq.PUB, {zmq.SNDHWM: HIGH_WATER_MARK})
        attachment = None
        try:
            if self._curve is not None:
                name = f"event publisher {self._address}"
                attachment = self._curve.attach(self._context, sock, name)
            sock.bind(self._address)
        except BaseException:
            sock.close(linger=0)
            if attachment is not None:
                attachment.detach()
            raise
        self._sock = sock
        # Sends never wait (NOBLOCK), so they go through a plain socket sharing the same
        # ZeroMQ socket: the asyncio wrapper's send makes a future per frame, four times the
        # cost on a path taken by every event.
        self._sender = zmq.Socket.shadow(sock.underlying)
        self._curve_attachment = attachment
        self._heartbeat = asyncio.create_task(
            self._heartbeat_loop(), name=f"event-publisher-heartbeat {self._address}"
        )

    def publish(self, topic: str, payload: bytes) -> None:
        """Queue one event for every subscriber of ``topic``; never blocks, drops if it must."""
        self.publish_batch(topic, [payload])

    def publish_batch(self, topic: str, payloads: list[bytes]) -> None:
        """Queue events of one ``topic`` as one message (kept or dropped together)."""
        sender = self._sender
        if sender is None:
            raise RuntimeError("EventPublisher is not started")
        self._send(sender, topic.encode(), *payloads)

    async def close(self) -> None:
        """Stop the heartbeat and close the socket. Idempotent."""
        heartbeat, self._heartbeat = self._heartbeat, None
        if heartbeat is not None:
            heartbeat.cancel()
            await asyncio.wait([heartbeat])
        self._sender = None
        if self._sock is not None:
            self._sock.close(linger=0)
            self._sock = None
        if self._curve_attachment is not None:
            self._curve_attachment.detach()  # after the socket: never a moment unguarded
            self._curve_attachment = None

    def _send(self, sock: zmq.Socket[bytes], topic: bytes, *payloads: bytes) -> None:
        try:
            send_frames(sock, [topic, *payloads])
            ok = True
        except zmq.Again:
            ok = False
        except zmq.ZMQError as exc:
            log.error("event publisher on %s failed to send: %s", self._address, exc)
            ok = False
        if not ok:
            if not self._dropped:
                log.warning("event publisher on %s is dropping events", self._address)
            self._dropped += 1
        elif self._dropped:
            log.warning(
                "event publisher on %s sending again after dropping %d events",
                self._address,
                self._dropped,
            )
            self._dropped = 0

    async def _heartbeat_loop(self) -> None:
        while True:
            if self._sender is not None:
                self._send(self._sender, _HEARTBEAT_FRAME, b"")
            await asyncio.sleep(self._heartbeat_s)


class EventSubscriber:
    """Receive events for the topic prefixes ``topics`` from a publisher at ``address``.

    With ``curve``, the subscriber authenticates with CURVE keys; a publisher that refuses it
    sends nothing, and the cause is logged once.
    """

    def __init__(
        self,
        address: str,
        topics: list[str],
        *,
        heartbeat_ms: int = 1000,
        context: zmq.asyncio.Context | None = None,
        curve: CurveClient | None = None,
    ) -> None:
        if heartbeat_ms <= 0:
            raise ValueError("heartbeat_ms must be positive")
        self._address = address
        self._topics = list(topics)
        self._silent_s = SILENT_INTERVALS * heartbeat_ms / 1000
        self._context = resolve_context(context)
        self._curve = curve
        self._sock: zmq.Socket[bytes] | None = None
        self._reader: SocketReader | None = None
        self._monitor: SocketMonitor | None = None
        self._refusal_logged = False
        # None is the "closed" marker that wakes every waiting receive().
        self._queue: asyncio.Queue[tuple[str, bytes] | None] = asyncio.Queue(SUBSCRIBER_QUEUE)
        self._last_heard = float("-inf")
        self._disconnects = 0
        self._dropped = 0
        self._closed = False

    @property
    def alive(self) -> bool:
        """A message or heartbeat from the publisher was seen within ~3 heartbeat intervals,
        and the connection has not closed since."""
        return time.monotonic() - self._last_heard < self._silent_s

    @property
    def disconnects(self) -> int:
        """How many times the connection to the publisher has closed."""
        return self._disconnects

    async def start(self) -> None:
        """Connect, subscribe, and start reading in the background."""
        if self._sock is not None or self._closed:
            raise RuntimeError("EventSubscriber already started")
        name = f"event subscriber {self._address}"
        sock = open_socket(self._context, zmq.SUB, {zmq.RCVHWM: HIGH_WATER_MARK})
        monitor = None
        try:
            if self._curve is not None:
                self._curve.secure(sock)
            for topic in {HEARTBEAT_TOPIC, *self._topics}:
                sock.setsockopt(zmq.SUBSCRIBE, topic.encode())
            monitor = SocketMonitor(
                self._context,
                sock,
                HANDSHAKE_FAILURES | zmq.EVENT_DISCONNECTED,
                self._on_monitor_event,
                f"{name} monitor",
            )
            sock.connect(self._address)
        except BaseException:
            if monitor is not None:
                monitor.close()
            sock.close(linger=0)
            raise
        self._sock = sock
        self._monitor = monitor
        self._reader = SocketReader(sock, self._on_frames, name)

    async def receive(self) -> tuple[str, bytes]:
        """The next event as ``(topic, payload)``, in publishing order.

        Raises ``RuntimeError`` once the subscriber is closed.
        """
        item = await self._queue.get()
        if item is None:
            self._queue.put_nowait(None)  # keep waking any other waiter
            raise RuntimeError("EventSubscriber is closed")
        return item

    async def close(self) -> None:
        """Stop reading, close the socket, wake pending ``receive()`` calls. Idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        if self._monitor is not None:
            self._monitor.close()
            self._monitor = None
        if self._sock is not None:
            self._sock.close(linger=0)
            self._sock = None
        while not self._queue.empty():
            self._queue.get_nowait()
        self._queue.put_nowait(None)

    def _on_monitor_event(self, event: int, value: int) -> None:
        if event == zmq.EVENT_DISCONNECTED:
            self._disconnects += 1
            self._last_heard = float("-inf")
            return
        if not self._refusal_logged:  # a wrong server key fails again at every retry
            self._refusal_logged = True
            log.error(
                "event subscriber on %s cannot connect: %s. The engine there is not this "
                "instance's engine, or its CURVE keys are not the ones this web was given",
                self._address,
                describe_handshake_failure(event, value),
            )

    def _on_frames(self, frames: list[bytes]) -> None:
        self._last_heard = time.monotonic()
        if len(frames) < 2:
            log.warning("event subscriber dropped a message without a payload")
            return
        topic = frames[0]
        if topic == _HEARTBEAT_FRAME:
            return
        try:
            name = topic.decode()
        except UnicodeDecodeError:
            log.warning("event subscriber dropped an event with a non-UTF-8 topic %r", topic[:48])
            return
        for payload in frames[1:]:
            self._enqueue((name, payload))

    def _enqueue(self, event: tuple[str, bytes]) -> None:
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            if not self._dropped:
                log.warning(
                    "event subscriber on %s is dropping events: its owner is not keeping up",
                    self._address,
                )
            self._dropped += 1
            return
        if self._dropped:
            log.warning(
                "event subscriber on %s delivering again after dropping %d events",
                self._address,
                self._dropped,
            )
            self._dropped = 0
