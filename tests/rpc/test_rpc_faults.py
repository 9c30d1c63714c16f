"""RPC link under abuse: garbage both ways, lost peers, restarts, client churn."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import msgspec
import pytest
import zmq
import zmq.asyncio

from tradebridge.domain.errors import EngineUnavailable, InternalError, Timeout
from tradebridge.rpc import RpcClient, codec

from .support import HEARTBEAT_MS, Echo, Echoed, Net, start_binding, wait_for

pytestmark = pytest.mark.anyio

pack = msgspec.msgpack.encode
PING = codec.encode(codec.Ping())
PONG = codec.encode(codec.Pong())


@asynccontextmanager
async def raw_socket(
    kind: int, address: str, *, bind: bool = False
) -> AsyncIterator[zmq.asyncio.Socket]:
    sock = zmq.asyncio.Context.instance().socket(kind)
    sock.setsockopt(zmq.LINGER, 0)
    try:
        if bind:
            await start_binding(lambda: _bind(sock, address))
        else:
            sock.connect(address)
        yield sock
    finally:
        sock.close(linger=0)


async def _bind(sock: zmq.asyncio.Socket, address: str) -> None:
    sock.bind(address)


async def recv_decoded(sock: zmq.asyncio.Socket, within: float = 1.0) -> codec.Message:
    frames = await asyncio.wait_for(sock.recv_multipart(), within)
    return codec.decode_message(frames[-1])


async def call_eventually(client: RpcClient, params: Echo, within: float = 2.0) -> Echoed:
    """Call echo, retrying while the link is (still) down.

    A call sent just before the client notices that the old connection closed fails as a
    `Timeout` for the lost link (it may have been carried out); echo is safe to send again.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        try:
            return await client.call("echo", params, Echoed)
        except (EngineUnavailable, Timeout) as failed:
            if isinstance(failed, Timeout) and "reason" not in failed.details:
                raise  # a plain timeout, not the lost link
            if loop.time() > deadline:
                raise
            await asyncio.sleep(0.01)


async def test_garbage_to_the_server_is_dropped_and_it_keeps_serving(
    net: Net, address: str, caplog: pytest.LogCaptureFixture
) -> None:
    server = await net.server(address)
    client = await net.client(address)
    rng = random.Random(7)
    caplog.set_level(logging.WARNING, logger="tradebridge.rpc.server")

    async with raw_socket(zmq.DEALER, address) as raw:
        garbage: list[list[bytes]] = [
            [b""],  # empty frame
            [rng.randbytes(64)],  # random bytes
            [b"\xc1"],  # the one byte msgpack never uses
            [b"\xff" * 1_000_000],  # big and unreadable
            [PING, PING],  # two frames
            [b"", b"", b""],  # three empty frames
            [pack({"id": 1, "method": "echo"})],  # msgpack of the wrong shape
            [pack(["zzz", 5, "echo", None])],  # unknown kind
            [pack(["res", 6, None])],  # a kind the server does not take
            [PONG],
            [codec.encode_request(3, "echo", Echo(1))[:-2]],  # truncated
            [pack(["req", 7, 123, None])],  # a request with a bad method: id readable
            [pack(["req", 8, "echo"])],  # a request without params: id readable
        ]
        for frames in garbage:
            await raw.send_multipart(frames)
        # Still serving, to the other client and to the sender of the garbage.
        assert await client.call("echo", Echo(9), Echoed) == Echoed(9, "server")
        answers = [await recv_decoded(raw), await recv_decoded(raw)]
        await raw.send(codec.encode_request(10, "echo", Echo(10)))
        answers.append(await recv_decoded(raw))

    errors = [a for a in answers if isinstance(a, codec.ErrorResponse)]
    assert sorted((e.id, e.error.code) for e in errors) == [(7, "bad_request"), (8, "bad_request")]
    assert answers[-1] == codec.Response(10, msgspec.Raw(pack(Echoed(10, "server"))))
    # Every bad message was logged, briefly.
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) >= len(garbage)
    assert max(len(w) for w in warnings) < 600
    assert server.connected_clients == 2


async def test_garbage_from_the_server_does_not_kill_the_client(
    net: Net, address: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A fake engine (raw ROUTER) answers with junk; the client survives it, and then works
    against a real server on the same address."""
    caplog.set_level(logging.WARNING, logger="tradebridge.rpc.client")
    junk: list[list[bytes]] = [
        [b""],
        [b"\x93\x01\x02"],  # truncated array
        [random.Random(3).randbytes(200)],
        [b"a", b"b"],  # two frames
        [pack({"not": "a message"})],
        [pack(["res", 999_999, None])],  # answer to a request nobody made
        [pack(["err", 999_998, ["timeout", "late", {}]])],
        [PING],  # a kind the client does not take
    ]

    async def fake_engine(router: zmq.asyncio.Socket) -> None:
        junk_sent = False
        while True:
            identity, payload = await router.recv_multipart()
            message = codec.decode_message(payload)
            if not junk_sent:
                junk_sent = True
                for frames in junk:
                    await router.send_multipart([identity, *frames])
            if isinstance(message, codec.Ping):
                await router.send_multipart([identity, PONG])
            elif isinstance(message, codec.Request):
                if message.method == "weird_code":
                    reply = codec.encode_error(message.id, "no_such_code", "odd", {"k": 1})
                elif message.method == "wrong_result":
                    reply = codec.encode_response(message.id, "not an Echoed")
                else:  # junk instead of an answer
                    reply = b"\xc1junk"
                await router.send_multipart([identity, reply])

    client = await net.client(address, timeout_ms=300, wait=False)
    async with raw_socket(zmq.ROUTER, address, bind=True) as router:
        fake = asyncio.create_task(fake_engine(router))
        try:
            assert await client.wait_connected(2000)
            with pytest.raises(Timeout):
                await client.call("echo", Echo(1), Echoed)
            with pytest.raises(InternalError) as weird:
                await client.call("weird_code", None, type(None))
            assert (weird.value.message, weird.value.details) == ("odd", {"k": 1})
            with pytest.raises(InternalError, match="malformed result"):
                await client.call("wrong_result", None, Echoed)
        finally:
            fake.cancel()
            await asyncio.wait([fake])
    assert "dropped" in caplog.text

    # A real engine takes over the address; the client picks it up by itself (whether or not
    # it noticed the gap, depending on timing).
    await net.server(address, name="real")
    assert await call_eventually(client, Echo(2)) == Echoed(2, "real")


async def test_server_gone_calls_fail_fast_then_the_same_client_recovers(
    net: Net, address: str
) -> None:
    loop = asyncio.get_running_loop()
    first = await net.server(address, name="first")
    client = await net.client(address, timeout_ms=5000)
    pending = asyncio.create_task(client.call("echo", Echo(1, delay_ms=10_000), Echoed))
    await asyncio.sleep(0.05)

    await first.close()
    started = loop.time()
    with pytest.raises(Timeout) as caught:  # sent: the engine may have carried it out
        await pending  # long before its 5 s timeout
    assert loop.time() - started < 1.0
    # Noticed from the closed TCP connection, not only after 3 silent heartbeats.
    assert caught.value.details == {"method": "echo", "reason": "connection closed"}
    assert "look it up" in caught.value.message
    assert not client.connected
    for _ in range(5):
        started = loop.time()
        with pytest.raises(EngineUnavailable) as refused:  # never sent: nothing was done
            await client.call("echo", Echo(2), Echoed)
        assert loop.time() - started < 0.05
    assert refused.value.details == {"reason": "connection closed", "address": address}

    await net.server(address, name="second")
    assert await client.wait_connected(2000)
    assert await client.call("echo", Echo(3), Echoed) == Echoed(3, "second")


async def test_silent_server_is_detected_by_heartbeat_and_pending_calls_fail(
    net: Net, address: str
) -> None:
    """The engine's TCP connection stays up but it stops answering (a stuck loop)."""
    loop = asyncio.get_running_loop()
    answering = asyncio.Event()
    answering.set()
    identities: list[bytes] = []

    async def stuck_engine(router: zmq.asyncio.Socket) -> None:
        while True:
            identity, payload = await router.recv_multipart()
            if identity not in identities:
                identities.append(identity)
            if answering.is_set() and isinstance(codec.decode_message(payload), codec.Ping):
                await router.send_multipart([identity, PONG])

    async with raw_socket(zmq.ROUTER, address, bind=True) as router:
        fake = asyncio.create_task(stuck_engine(router))
        try:
            client = await net.client(address, timeout_ms=10_000)
            pending = asyncio.create_task(client.call("echo", Echo(1), Echoed))
            await asyncio.sleep(0.05)
            answering.clear()
            started = loop.time()
            with pytest.raises(Timeout) as caught:
                await pending
            elapsed = loop.time() - started
            assert 2 * HEARTBEAT_MS / 1000 < elapsed < 1.0
            assert caught.value.details == {"method": "echo", "reason": "nothing heard for 0.3s"}
            assert not client.connected
            with pytest.raises(EngineUnavailable):
                await client.call("echo", Echo(2), Echoed)

            answering.set()  # it comes back: the client notices by itself
            assert await client.wait_connected(2000)
            # ... on a fresh socket (new identity), as the link-down policy says.
            assert len(identities) == 2
        finally:
            fake.cancel()
            await asyncio.wait([fake])


async def test_closed_client_fails_its_calls_and_others_keep_working(
    net: Net, address: str
) -> None:
    server = await net.server(address)
    leaving = RpcClient(address, heartbeat_ms=HEARTBEAT_MS)
    await leaving.start()
    net.later(leaving.close)
    assert await leaving.wait_connected(2000)
    staying = await net.client(address)
    await wait_for(lambda: server.connected_clients == 2)

    pending = asyncio.create_task(leaving.call("echo", Echo(1, delay_ms=300), Echoed))
    await asyncio.sleep(0.05)
    await leaving.close()
    with pytest.raises(Timeout):  # it was sent
        await pending
    with pytest.raises(EngineUnavailable):
        await leaving.call("echo", Echo(1), Echoed)

    replacement = await net.client(address)
    results = await asyncio.gather(
        staying.call("echo", Echo(2), Echoed), replacement.call("echo", Echo(3), Echoed)
    )
    assert [r.value for r in results] == [2, 3]
    # The server forgets the closed client after ~3 silent heartbeat intervals.
    await wait_for(lambda: server.connected_clients == 2, within=1.0)
    await asyncio.sleep(0.5)  # the answer for the closed client went nowhere, harmlessly
    assert await staying.call("echo", Echo(4), Echoed) == Echoed(4, "server")


async def test_server_close_cancels_handlers_in_flight(net: Net, address: str) -> None:
    server = await net.server(address)
    client = await net.client(address, timeout_ms=5000)
    started, cancelled = asyncio.Event(), asyncio.Event()

    async def forever(_: None) -> None:
        started.set()
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    server.register("forever", type(None), forever)
    pending = asyncio.create_task(client.call("forever", None, type(None)))
    await asyncio.wait_for(started.wait(), 1)
    await server.close()
    assert cancelled.is_set()
    with pytest.raises(Timeout):  # it had started: nobody can say what it did
        await asyncio.wait_for(pending, 2)


async def test_handler_leaking_cancelled_error_is_an_internal_error(net: Net, address: str) -> None:
    server = await net.server(address)
    client = await net.client(address)

    async def leaky(_: None) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        future.cancel()
        await future  # raises CancelledError although nobody cancelled the handler's task

    server.register("leaky", type(None), leaky)
    with pytest.raises(InternalError):
        await client.call("leaky", None, type(None))
    assert await client.call("echo", Echo(1), Echoed) == Echoed(1, "server")
