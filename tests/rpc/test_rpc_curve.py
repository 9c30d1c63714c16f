"""CURVE on the engine link, over real sockets: an authorized client gets answers and events;
a client with an unknown key pair, a wrong engine key or no CURVE at all gets nothing, and the
engine logs each refusal once. Also the key files and the `[engine]` settings that pick them.

Each test runs on a ZeroMQ context of its own, since a context has one ZAP handler.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack
from pathlib import Path

import msgspec
import pytest
import zmq
import zmq.asyncio
from zmq.utils.monitor import recv_monitor_message

from tradebridge.config import ConfigError, EngineSettings
from tradebridge.domain.errors import EngineUnavailable
from tradebridge.rpc import EventPublisher, EventSubscriber, RpcClient, RpcServer, codec
from tradebridge.rpc.curve import (
    CurveClient,
    CurveKeyError,
    CurveServer,
    GeneratedKeys,
    KeyPair,
    create_key_pairs,
    load_authorized_keys,
    load_key_pair,
    load_public_key,
)
from tradebridge.rpc.link import engine_curve, web_curve

from .support import HEARTBEAT_MS, Echo, Echoed, free_address, register_test_service, wait_for

pytestmark = pytest.mark.anyio

WITHIN_S = 10.0
"""Bound of every wait (generous: the machine may be busy)."""
UNKNOWN_KEY_LOG = "is not authorized"
NO_CURVE_LOG = "one side uses CURVE and the other does not"


class Noted(msgspec.Struct):
    caller: str


@pytest.fixture
def keys(tmp_path: Path) -> GeneratedKeys:
    return create_key_pairs(tmp_path / "curve")


@pytest.fixture
def context() -> Iterator[zmq.asyncio.Context]:
    context = zmq.asyncio.Context()
    yield context
    context.destroy(linger=0)


@pytest.fixture
async def stack() -> AsyncIterator[AsyncExitStack]:
    async with AsyncExitStack() as stack:
        yield stack


def engine_side(keys: GeneratedKeys) -> CurveServer:
    return CurveServer(load_key_pair(keys.engine_secret), load_authorized_keys(keys.authorized_dir))


def web_side(keys: GeneratedKeys) -> CurveClient:
    return CurveClient(load_key_pair(keys.web_secret), load_public_key(keys.engine_public))


def stranger(keys: GeneratedKeys) -> CurveClient:
    """A client that knows the engine's public key but has a key pair of its own."""
    public, secret = zmq.curve_keypair()
    return CurveClient(KeyPair(public, secret), load_public_key(keys.engine_public))


class Engine:
    """An RPC server and an event publisher sharing one `CurveServer`, like the engine's.

    `noted` lists the callers of the `note` method, as the server saw them.
    """

    def __init__(self, rpc: RpcServer, events: EventPublisher, noted: list[str]) -> None:
        self.rpc = rpc
        self.events = events
        self.noted = noted
        self.rpc_address = ""
        self.events_address = ""

    @classmethod
    async def start(
        cls, stack: AsyncExitStack, context: zmq.asyncio.Context, curve: CurveServer
    ) -> Engine:
        rpc_address, events_address = free_address(), free_address()
        rpc = RpcServer(rpc_address, heartbeat_ms=HEARTBEAT_MS, context=context, curve=curve)
        register_test_service(rpc)
        noted: list[str] = []

        async def note(params: Noted) -> None:
            noted.append(params.caller)

        rpc.register("note", Noted, note)
        events = EventPublisher(
            events_address, heartbeat_ms=HEARTBEAT_MS, context=context, curve=curve
        )
        await events.start()
        stack.push_async_callback(events.close)
        await rpc.start()
        stack.push_async_callback(rpc.close)
        engine = cls(rpc, events, noted)
        engine.rpc_address, engine.events_address = rpc_address, events_address
        return engine


async def rpc_client(
    stack: AsyncExitStack, context: zmq.asyncio.Context, address: str, curve: CurveClient | None
) -> RpcClient:
    client = RpcClient(address, heartbeat_ms=HEARTBEAT_MS, context=context, curve=curve)
    await client.start()
    stack.push_async_callback(client.close)
    return client


async def subscriber(
    stack: AsyncExitStack, context: zmq.asyncio.Context, address: str, curve: CurveClient | None
) -> EventSubscriber:
    sub = EventSubscriber(
        address, ["acct."], heartbeat_ms=HEARTBEAT_MS, context=context, curve=curve
    )
    await sub.start()
    stack.push_async_callback(sub.close)
    return sub


def raw_socket(
    stack: AsyncExitStack, context: zmq.asyncio.Context, kind: int, curve: CurveClient | None
) -> tuple[zmq.asyncio.Socket, zmq.asyncio.Socket]:
    """A bare client socket (no IMMEDIATE: it queues what it sends for the connection to
    come) and a monitor of its handshake failures."""
    sock = context.socket(kind)
    sock.linger = 0
    if curve is not None:
        sock.curve_serverkey = curve.server_key
        sock.curve_publickey = curve.keys.public
        sock.curve_secretkey = curve.keys.secret
    monitor = sock.get_monitor_socket(
        zmq.EVENT_HANDSHAKE_FAILED_AUTH
        | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL
        | zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL
        | zmq.EVENT_HANDSHAKE_SUCCEEDED
    )
    stack.callback(sock.close, 0)
    stack.callback(monitor.close, 0)
    return sock, monitor


async def handshake_events(monitor: zmq.asyncio.Socket, count: int) -> list[int]:
    """The first `count` handshake events of a `raw_socket` monitor."""
    found = []
    async with asyncio.timeout(WITHIN_S):
        while len(found) < count:
            found.append(int((await recv_monitor_message(monitor))["event"]))
    return found


def log_lines(caplog: pytest.LogCaptureFixture, text: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if text in r.getMessage()]


def assert_no_secret_logged(caplog: pytest.LogCaptureFixture, *secrets: bytes) -> None:
    for secret in secrets:
        assert secret.decode() not in caplog.text


async def published_until_received(engine: Engine, sub: EventSubscriber) -> tuple[str, bytes]:
    """Publish numbered events until `sub` receives one (its subscription takes a moment to
    reach the publisher); the event it received."""
    async with asyncio.timeout(WITHIN_S):
        for n in range(1_000_000):
            engine.events.publish("acct.paper", str(n).encode())
            try:
                return await asyncio.wait_for(sub.receive(), 0.05)
            except TimeoutError:
                continue
    raise AssertionError("unreachable")


# -- an authorized client --------------------------------------------------------------------


async def test_authorized_client_gets_answers_and_events(
    keys: GeneratedKeys, context: zmq.asyncio.Context, stack: AsyncExitStack
) -> None:
    engine = await Engine.start(stack, context, engine_side(keys))
    client = await rpc_client(stack, context, engine.rpc_address, web_side(keys))
    events = await subscriber(stack, context, engine.events_address, web_side(keys))

    assert await client.wait_connected(round(WITHIN_S * 1000))
    assert await client.call("echo", Echo(7), Echoed) == Echoed(7, "server")
    await client.call("note", Noted("web"), type(None))
    assert engine.noted == ["web"]

    topic, payload = await published_until_received(engine, events)
    assert topic == "acct.paper"
    assert payload.isdigit()
    engine.events.publish("acct.paper", b"next")
    assert await asyncio.wait_for(events.receive(), WITHIN_S) == ("acct.paper", b"next")
    await wait_for(lambda: events.alive, WITHIN_S)  # heartbeats come through CURVE too


async def test_heartbeats_keep_the_link_up_and_it_comes_back_after_an_engine_restart(
    keys: GeneratedKeys, context: zmq.asyncio.Context, stack: AsyncExitStack
) -> None:
    curve = engine_side(keys)
    engine = await Engine.start(stack, context, curve)
    client = await rpc_client(stack, context, engine.rpc_address, web_side(keys))
    assert await client.wait_connected(round(WITHIN_S * 1000))
    for n in range(5):  # several heartbeat intervals
        await asyncio.sleep(HEARTBEAT_MS / 1000)
        assert client.connected
        assert await client.call("echo", Echo(n), Echoed) == Echoed(n, "server")

    await engine.rpc.close()
    await engine.events.close()  # the last socket: the ZAP handler stops, and can start again
    await wait_for(lambda: not client.connected, WITHIN_S)
    restarted = RpcServer(
        engine.rpc_address, heartbeat_ms=HEARTBEAT_MS, context=context, curve=curve
    )
    register_test_service(restarted, "restarted")
    await restarted.start()
    stack.push_async_callback(restarted.close)
    assert await client.wait_connected(round(WITHIN_S * 1000))
    assert await client.call("echo", Echo(1), Echoed) == Echoed(1, "restarted")


# -- clients the engine refuses ----------------------------------------------------------------


async def test_unknown_key_pair_gets_no_answer_and_no_event(
    keys: GeneratedKeys,
    context: zmq.asyncio.Context,
    stack: AsyncExitStack,
    caplog: pytest.LogCaptureFixture,
) -> None:
    engine = await Engine.start(stack, context, engine_side(keys))
    intruder = stranger(keys)

    # A bare DEALER queues its request for the connection: it would be delivered if the
    # handshake succeeded. The handshake is refused, which ends that connection for good.
    dealer, dealer_monitor = raw_socket(stack, context, zmq.DEALER, intruder)
    dealer.connect(engine.rpc_address)
    await dealer.send(codec.encode_request(1, "note", Noted("intruder")))
    sub, sub_monitor = raw_socket(stack, context, zmq.SUB, intruder)
    sub.subscribe(b"")
    sub.connect(engine.events_address)
    assert await handshake_events(dealer_monitor, 1) == [zmq.EVENT_HANDSHAKE_FAILED_AUTH]
    assert await handshake_events(sub_monitor, 1) == [zmq.EVENT_HANDSHAKE_FAILED_AUTH]

    # The RpcClient and EventSubscriber with that key: never up, calls fail at once.
    client = await rpc_client(stack, context, engine.rpc_address, intruder)
    events = await subscriber(stack, context, engine.events_address, intruder)
    await wait_for(lambda: len(log_lines(caplog, "cannot")) == 2, WITHIN_S)

    # An authorized client is served meanwhile, and receives events.
    web = await rpc_client(stack, context, engine.rpc_address, web_side(keys))
    assert await web.wait_connected(round(WITHIN_S * 1000))
    await web.call("note", Noted("web"), type(None))
    web_events = await subscriber(stack, context, engine.events_address, web_side(keys))
    await published_until_received(engine, web_events)

    assert engine.noted == ["web"]
    assert await dealer.poll(0) == 0
    assert await sub.poll(0) == 0
    assert not client.connected
    assert not events.alive
    with pytest.raises(EngineUnavailable):
        await client.call("echo", Echo(1), Echoed)

    refusals = log_lines(caplog, UNKNOWN_KEY_LOG)
    assert len(refusals) == 1, refusals  # the same key, four times: logged once
    assert intruder.keys.public.decode() in refusals[0]
    assert "refused" in log_lines(caplog, "RPC link to")[0]
    assert_no_secret_logged(caplog, intruder.keys.secret, web_side(keys).keys.secret)


async def test_plain_client_gets_no_answer_and_no_event(
    keys: GeneratedKeys,
    context: zmq.asyncio.Context,
    stack: AsyncExitStack,
    caplog: pytest.LogCaptureFixture,
) -> None:
    engine = await Engine.start(stack, context, engine_side(keys))
    dealer, dealer_monitor = raw_socket(stack, context, zmq.DEALER, None)
    dealer.connect(engine.rpc_address)
    await dealer.send(codec.encode_request(1, "note", Noted("plain")))
    sub, sub_monitor = raw_socket(stack, context, zmq.SUB, None)
    sub.subscribe(b"")
    sub.connect(engine.events_address)
    assert await handshake_events(dealer_monitor, 1) == [zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL]
    assert await handshake_events(sub_monitor, 1) == [zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL]

    client = await rpc_client(stack, context, engine.rpc_address, None)
    events = await subscriber(stack, context, engine.events_address, None)
    await wait_for(lambda: len(log_lines(caplog, "cannot")) == 2, WITHIN_S)
    web_events = await subscriber(stack, context, engine.events_address, web_side(keys))
    await published_until_received(engine, web_events)

    assert engine.noted == []
    assert await dealer.poll(0) == 0
    assert await sub.poll(0) == 0
    assert not client.connected
    assert not events.alive
    with pytest.raises(EngineUnavailable):
        await client.call("echo", Echo(1), Echoed)
    # Logged once per engine socket, though two clients tried each.
    refusals = log_lines(caplog, NO_CURVE_LOG)
    engine_refusals = [line for line in refusals if "refused a client" in line]
    assert len(engine_refusals) == 2, refusals
    assert any(line.startswith(f"RPC server {engine.rpc_address}") for line in engine_refusals)
    assert any(
        line.startswith(f"event publisher {engine.events_address}") for line in engine_refusals
    )


async def test_wrong_engine_key_is_refused_and_logged_once(
    keys: GeneratedKeys,
    context: zmq.asyncio.Context,
    stack: AsyncExitStack,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A client with another server public key fails the handshake and retries all the time;
    the engine says so once."""
    engine = await Engine.start(stack, context, engine_side(keys))
    other_engine, _ = zmq.curve_keypair()
    confused = CurveClient(web_side(keys).keys, other_engine)
    dealer, monitor = raw_socket(stack, context, zmq.DEALER, confused)
    dealer.connect(engine.rpc_address)
    await dealer.send(codec.encode_request(1, "note", Noted("confused")))
    failures = await handshake_events(monitor, 3)
    assert set(failures) == {zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL}, failures
    await wait_for(lambda: bool(log_lines(caplog, "another server public key")), WITHIN_S)

    assert len(log_lines(caplog, "another server public key")) == 1
    web = await rpc_client(stack, context, engine.rpc_address, web_side(keys))
    assert await web.wait_connected(round(WITHIN_S * 1000))
    await web.call("note", Noted("web"), type(None))
    assert engine.noted == ["web"]


# -- keys and settings -----------------------------------------------------------------------


def test_generated_files_keep_secrets_private(keys: GeneratedKeys) -> None:
    for secret in (keys.engine_secret, keys.web_secret):
        assert secret.stat().st_mode & 0o777 == 0o600
        assert load_key_pair(secret).secret
    for public in (keys.engine_public, keys.web_public, keys.authorized_dir / "web.key"):
        assert "secret-key" not in public.read_text()
    assert load_authorized_keys(keys.authorized_dir) == {load_public_key(keys.web_public)}
    assert load_key_pair(keys.engine_secret).public == load_public_key(keys.engine_public)
    assert "secret" not in repr(load_key_pair(keys.web_secret))
    with pytest.raises(FileExistsError, match=r"engine\.key"):
        create_key_pairs(keys.engine_public.parent)


def test_unusable_key_files_are_named(keys: GeneratedKeys, tmp_path: Path) -> None:
    with pytest.raises(CurveKeyError, match=r"engine\.key holds no secret key"):
        load_key_pair(keys.engine_public)
    with pytest.raises(CurveKeyError, match=r"cannot read the key file .*missing\.key_secret"):
        load_key_pair(tmp_path / "missing.key_secret")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(CurveKeyError, match="holds no public key files"):
        load_authorized_keys(empty)
    garbled = tmp_path / "garbled.key"
    garbled.write_text('curve\n    public-key = "short"\n')
    with pytest.raises(CurveKeyError, match=r"garbled\.key holds a malformed key"):
        load_public_key(garbled)


def test_each_end_takes_its_keys_from_the_settings(keys: GeneratedKeys) -> None:
    assert engine_curve(EngineSettings()) is None
    assert web_curve(EngineSettings()) is None
    both = EngineSettings(
        curve_secret_key=keys.engine_secret,
        curve_authorized_keys=keys.authorized_dir,
        curve_server_key=keys.engine_public,
        curve_client_secret_key=keys.web_secret,
    )
    server = engine_curve(both)
    assert server is not None
    assert server.keys == load_key_pair(keys.engine_secret)
    assert web_curve(both) == web_side(keys)


def test_an_end_without_its_keys_refuses_to_start(keys: GeneratedKeys) -> None:
    web_only = EngineSettings(
        rpc_address="tcp://192.0.2.10:7001",
        events_address="tcp://192.0.2.10:7002",
        curve_server_key=keys.engine_public,
        curve_client_secret_key=keys.web_secret,
    )
    assert web_curve(web_only) is not None
    with pytest.raises(ConfigError, match=r"^engine\.curve_secret_key and"):
        engine_curve(web_only)
    engine_only = EngineSettings(
        curve_secret_key=keys.engine_secret, curve_authorized_keys=keys.authorized_dir
    )
    assert engine_curve(engine_only) is not None
    with pytest.raises(ConfigError, match=r"^engine\.curve_server_key and"):
        web_curve(engine_only)  # CURVE is on: on loopback too
    unreadable = EngineSettings(
        curve_secret_key=keys.engine_public, curve_authorized_keys=keys.authorized_dir
    )
    with pytest.raises(ConfigError, match=r"^engine\.curve_secret_key: .*holds no secret key"):
        engine_curve(unreadable)


@pytest.mark.parametrize(
    ("address", "loopback"),
    [
        ("tcp://127.0.0.1:7001", True),
        ("tcp://localhost:7001", True),
        ("tcp://[::1]:7001", True),
        ("ipc:///tmp/tradebridge-rpc", True),
        ("inproc://engine", True),
        ("tcp://0.0.0.0:7001", False),
        ("tcp://*:7001", False),
        ("tcp://192.168.1.20:7001", False),
        ("tcp://eth0:7001", False),
        ("tcp://127.0.0.1;192.168.1.20:7001", False),
    ],
)
def test_plain_links_stay_on_loopback(address: str, loopback: bool) -> None:
    if loopback:
        assert EngineSettings(rpc_address=address).loopback_only
        return
    with pytest.raises(ValueError, match=f"rpc_address '{re.escape(address)}' is not a loopback"):
        EngineSettings(rpc_address=address)
    with pytest.raises(ValueError, match=r"events_address .* needs CURVE"):
        EngineSettings(events_address=address)


def test_curve_keys_come_in_pairs(keys: GeneratedKeys) -> None:
    with pytest.raises(ValueError, match="curve_secret_key and curve_authorized_keys are set"):
        EngineSettings(curve_secret_key=keys.engine_secret)
    with pytest.raises(ValueError, match="curve_server_key and curve_client_secret_key are set"):
        EngineSettings(curve_client_secret_key=keys.web_secret)
