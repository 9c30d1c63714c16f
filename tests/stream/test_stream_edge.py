"""The WebSocket edge of a real server: sockets that have not authenticated have places of
their own, frames over the message limit are refused before they are read, and messages
nested too deep are answered, never a dropped socket (`/api/v1/stream` and vnpy's `/ws/`)."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import time
from collections.abc import Iterator

import pytest
import websockets
from tests.conftest import Server, start_server
from tests.stream.stream_support import StreamClient, write_stream_config, ws_url
from websockets.client import ClientProtocol
from websockets.protocol import State
from websockets.uri import parse_uri

from tradebridge.api.stream.messages import MAX_CLIENT_MESSAGE

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("close_clients")]

MIB = 1024 * 1024
DEEP = 5000
TOO_LARGE = 1009
TRY_AGAIN_LATER = 1013
BAD_MESSAGE = 4400
TIMEOUT = 4408


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Room for 2 sockets waiting to authenticate and 2 authenticated ones; auth within 1 s;
    the vnpy dialect on."""
    config = write_stream_config(
        tmp_path_factory.mktemp("ws-edge"),
        server={"stream_max_pending": 2, "stream_max_connections": 2},
    )
    config.write_text(config.read_text() + "\n[compat.vnpy]\nenabled = true\n")
    server = start_server(config)
    yield server
    assert server.stop() == 0


@pytest.fixture(scope="module")
def token(guarded: Server) -> str:
    return guarded.login()


def deep(depth: int = DEEP) -> str:
    return '{"op": "ping", "id": ' + "[" * depth + "]" * depth + "}"


async def wait_until_admitted(server: Server, token: str, within: float = 10) -> StreamClient:
    """A client authenticated by its first message, once the server has a place for it."""
    deadline = time.monotonic() + within
    while True:
        client = await StreamClient.open(server)
        await client.send(op="auth", token=token)
        first = await client.recv()
        if first["type"] == "status":
            return client
        assert first["data"]["code"] == "too_many_connections", first
        await client.closed()
        assert time.monotonic() < deadline, "never admitted"
        await asyncio.sleep(0.2)


async def test_unauthenticated_sockets_do_not_take_the_places_of_authenticated_ones(
    guarded: Server, token: str
) -> None:
    idle = [await StreamClient.open(guarded) for _ in range(2)]  # never authenticate
    crowded = await StreamClient.open(guarded)
    code, _, messages = await crowded.closed()
    assert code == TRY_AGAIN_LATER
    assert messages[0]["data"]["code"] == "too_many_connections"
    # While both places for unauthenticated sockets are taken, callers with credentials in
    # the upgrade request still get in, up to the limit of authenticated connections.
    by_query = await StreamClient.open(guarded, token, query=True)
    by_header = await StreamClient.open(
        guarded, additional_headers={"Authorization": f"Bearer {token}"}
    )
    assert (await by_header.recv())["type"] == "status"
    third = StreamClient(
        await websockets.connect(ws_url(guarded) + f"?token={token}", ping_interval=None)
    )
    code, _, messages = await third.closed()
    assert code == TRY_AGAIN_LATER
    assert messages[0]["data"]["code"] == "too_many_connections"
    # The idle sockets are closed at the auth timeout; then an auth message gets its turn.
    for socket_ in idle:
        code, _, _ = await socket_.closed()
        assert code == TIMEOUT
    await by_query.close()
    late = await wait_until_admitted(guarded, token)
    pong = await late.request(op="ping")
    assert pong["type"] == "pong"
    await by_header.close()
    await late.close()


def handshake(server: Server) -> tuple[socket.socket, ClientProtocol]:
    """A raw socket that has opened `/api/v1/stream` (not authenticated)."""
    sock = socket.create_connection(("127.0.0.1", int(server.base_url.rsplit(":", 1)[1])))
    sock.settimeout(10)
    protocol = ClientProtocol(parse_uri(ws_url(server)), max_size=None)
    protocol.send_request(protocol.connect())
    sock.sendall(b"".join(protocol.data_to_send()))
    while protocol.state is State.CONNECTING:
        protocol.receive_data(sock.recv(65536))
    protocol.events_received()
    return sock, protocol


def close_code(sock: socket.socket, protocol: ClientProtocol) -> int:
    """The code of the close frame the server sends next (fails if it sends none)."""
    while protocol.close_rcvd is None:
        data = sock.recv(65536)
        if not data:
            protocol.receive_eof()
            break
        protocol.receive_data(data)
    assert protocol.close_rcvd is not None, "closed without a close frame"
    return protocol.close_rcvd.code


def frame_head(length: int) -> bytes:
    """The head of one masked text frame of `length` bytes."""
    return b"\x81" + bytes([0x80 | 127]) + length.to_bytes(8, "big") + os.urandom(4)


async def test_a_frame_over_the_message_limit_is_refused_before_it_is_read(
    guarded: Server,
) -> None:
    """A 15 MiB frame from a socket that has not authenticated: the server closes with 1009
    on reading the frame's head, without waiting for (or keeping) its payload."""

    def send_head_only() -> int:
        sock, protocol = handshake(guarded)
        with sock:
            sock.sendall(frame_head(15 * MIB) + b"\0" * 65536)  # 64 KiB of the 15 MiB
            return close_code(sock, protocol)

    assert await asyncio.to_thread(send_head_only) == TOO_LARGE


async def test_an_authenticated_message_over_the_limit_is_closed_1009(
    guarded: Server, token: str
) -> None:
    client = await wait_until_admitted(guarded, token)
    await client.ws.send(json.dumps({"op": "ping", "id": "x" * MAX_CLIENT_MESSAGE}))
    code, _, _ = await client.closed()
    assert code == TOO_LARGE


async def test_a_deeply_nested_message_is_an_error_and_the_socket_stays(
    guarded: Server, token: str
) -> None:
    client = await wait_until_admitted(guarded, token)
    await client.ws.send(deep())
    error = await client.until(lambda m: m["type"] == "error")
    assert error["data"]["code"] == "bad_request"
    assert "nested" in error["data"]["message"]
    assert (await client.request(op="ping", id=7)) == {"type": "pong", "id": 7}
    await client.close()


async def test_a_deeply_nested_first_message_is_refused_with_a_close_frame(
    guarded: Server,
) -> None:
    client = await StreamClient.open(guarded)
    await client.ws.send(deep())
    code, _, messages = await client.closed()
    assert code == BAD_MESSAGE
    assert messages[-1]["data"]["code"] == "bad_request"


async def test_a_resume_beyond_64_bits_is_an_error(guarded: Server, token: str) -> None:
    client = await wait_until_admitted(guarded, token)
    reply = await client.request(op="resume", account="paper", since_seq=2**64)
    assert (reply["type"], reply["data"]["code"]) == ("error", "bad_request")
    assert (await client.request(op="ping", id=1))["type"] == "pong"
    await client.close()


async def test_vnpy_push_channel_survives_a_deeply_nested_message(
    guarded: Server, token: str
) -> None:
    url = guarded.base_url.replace("http://", "ws://") + f"/ws/?token={token}"
    async with websockets.connect(url, ping_interval=None) as ws:
        await ws.send(deep())
        pong = await ws.ping()
        await asyncio.wait_for(pong, 10)  # still served
    assert ws.close_code == 1000  # and closed properly, by both sides
