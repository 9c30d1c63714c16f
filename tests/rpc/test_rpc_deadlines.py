"""Deadlines on the RPC link: a call its caller has given up on is never carried out, whatever
the engine's clock says."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Iterator

import pytest
import zmq
import zmq.asyncio

from tradebridge.domain.errors import Timeout
from tradebridge.rpc import RpcServer, codec

from .support import Echo, Echoed, Net, register_test_service, start_binding, wait_for

pytestmark = pytest.mark.anyio


class ThreadedServer:
    """An `RpcServer` on an event loop of its own thread, which the test can pause (as a
    SIGSTOP pauses an engine process) while the client's loop goes on."""

    def __init__(self, address: str) -> None:
        self.address = address
        self.ran: list[int] = []
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._server: RpcServer | None = None

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)

        async def start() -> None:
            server = RpcServer(self.address, heartbeat_ms=100)
            register_test_service(server)

            async def record(params: Echo) -> Echoed:
                self.ran.append(params.value)
                return Echoed(params.value, "threaded")

            server.register("record", Echo, record)
            await start_binding(server.start)
            self._server = server
            self._ready.set()

        self._loop.run_until_complete(start())
        self._loop.run_forever()

    def start(self) -> None:
        self._thread.start()
        assert self._ready.wait(5)

    def pause(self, seconds: float) -> None:
        """Block the server's loop for `seconds`: nothing is read or answered meanwhile."""
        self._loop.call_soon_threadsafe(time.sleep, seconds)

    def stop(self) -> None:
        async def close() -> None:
            if self._server is not None:
                await self._server.close()

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()


@pytest.fixture
def threaded(address: str) -> Iterator[ThreadedServer]:
    server = ThreadedServer(address)
    server.start()
    yield server
    server.stop()


async def test_a_call_that_timed_out_in_a_paused_engine_is_never_carried_out(
    net: Net, threaded: ThreadedServer, caplog: pytest.LogCaptureFixture
) -> None:
    # Heartbeats slow enough that a loaded machine's hiccup is not a lost link: the calls
    # below must end by their own deadline.
    client = await net.client(threaded.address, timeout_ms=300, heartbeat_ms=1000)
    assert await client.call("record", Echo(1), Echoed, timeout_ms=5000) == Echoed(1, "threaded")

    caplog.set_level(logging.WARNING, logger="tradebridge.rpc.server")
    threaded.pause(1.5)
    await asyncio.sleep(0.05)  # the pause has begun
    late = [asyncio.create_task(client.call("record", Echo(n), Echoed)) for n in (2, 3, 4)]
    for call in late:
        with pytest.raises(Timeout):  # sent, no answer: the outcome is unknown to the caller
            await call
    # The engine wakes up and reads the three requests: their callers were answered, so they
    # are not carried out.
    assert await client.wait_connected(6000)
    assert await client.call("record", Echo(5), Echoed, timeout_ms=5000) == Echoed(5, "threaded")
    assert threaded.ran == [1, 5]
    await wait_for(lambda: "after its deadline" in caplog.text)


async def test_a_request_past_its_deadline_is_answered_timeout_and_not_run(
    net: Net, threaded: ThreadedServer
) -> None:
    sock = zmq.asyncio.Context.instance().socket(zmq.DEALER)
    sock.linger = 0
    sock.connect(threaded.address)
    try:
        await sock.send(codec.encode_request(1, "record", Echo(7), time.time() - 2))
        await sock.send(codec.encode_request(2, "record", Echo(8), time.time() + 5))
        answers = [codec.decode_message(await asyncio.wait_for(sock.recv(), 5)) for _ in (1, 2)]
    finally:
        sock.close(0)
    by_id = {a.id: a for a in answers if isinstance(a, codec.ErrorResponse | codec.Response)}
    refused = by_id[1]
    assert isinstance(refused, codec.ErrorResponse)
    assert refused.error.code == "timeout"
    assert refused.error.details["method"] == "record"
    assert refused.error.details["late_ms"] >= 2000
    assert isinstance(by_id[2], codec.Response)
    assert threaded.ran == [8]


@pytest.mark.parametrize("engine_ahead_s", [100.0, -100.0])
async def test_deadlines_are_sent_in_the_engines_clock(
    net: Net, address: str, engine_ahead_s: float
) -> None:
    """A fake engine whose clock is far off: the deadline the client sends is its timeout
    from now in that engine's clock, not in the client's."""
    router = zmq.asyncio.Context.instance().socket(zmq.ROUTER)
    router.linger = 0
    await start_binding(lambda: _bind(router, address))
    requests: list[codec.Request] = []

    async def engine() -> None:
        while True:
            identity, payload = await router.recv_multipart()
            message = codec.decode_message(payload)
            if isinstance(message, codec.Ping):
                pong = codec.Pong(message.sent, time.time() + engine_ahead_s)
                await router.send_multipart([identity, codec.encode(pong)])
            elif isinstance(message, codec.Request):
                requests.append(message)
                answer = codec.encode_response(message.id, Echoed(1, "fake"))
                await router.send_multipart([identity, answer])

    serving = asyncio.create_task(engine())
    try:
        client = await net.client(address, timeout_ms=2000)
        await asyncio.sleep(0.3)  # a few heartbeats
        await client.call("echo", Echo(1), Echoed)
        sent_at = time.time()
    finally:
        serving.cancel()
        await asyncio.wait([serving])
        router.close(0)
    (request,) = requests
    assert request.deadline == pytest.approx(sent_at + engine_ahead_s + 2.0, abs=0.2)


async def _bind(sock: zmq.asyncio.Socket, address: str) -> None:
    sock.bind(address)
