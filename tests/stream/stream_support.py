"""Helpers for the WebSocket stream tests: a config writer, a client, REST shortcuts."""

from __future__ import annotations

import asyncio
import collections
import json
import os
import socket
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import websockets
from tests.conftest import Server, free_port
from websockets.client import ClientProtocol
from websockets.frames import Frame, Opcode
from websockets.protocol import State
from websockets.uri import parse_uri

ACCOUNT_CHANNELS = ["orders", "trades", "positions", "account"]
SYMBOL = "600519.SH"  # paper pre_close 1500.00: bid 1499.99, ask 1500.01


def write_stream_config(
    directory: Path,
    *,
    server: dict[str, int] | None = None,
    engine: dict[str, int] | None = None,
    accounts: tuple[str, ...] = ("paper",),
    database_url: str | None = None,
) -> Path:
    """A config with free ports and short stream timings (`server` and `engine` add or
    override keys of those sections), and paper `accounts` with plenty of cash whose prices
    move only when a test sets them; the database is `database_url`, or SQLite in the data
    dir."""
    server_keys = {"workers": 1, "stream_heartbeat_ms": 1000, "stream_auth_timeout_ms": 1000} | (
        server or {}
    )
    engine_keys = {"heartbeat_ms": 200} | (engine or {})
    server_lines = "\n".join(f"{k} = {v}" for k, v in server_keys.items())
    engine_lines = "\n".join(f"{k} = {v}" for k, v in engine_keys.items())
    account_tables = "".join(
        f'\n[[accounts]]\nid = "{a}"\n[accounts.paper]\nmarket = "manual"\n'
        "cash = { CNY = 1000000000000 }\n"
        for a in accounts
    )
    database = f'[database]\nurl = "{database_url}"' if database_url else ""
    path = directory / "tradebridge.toml"
    path.write_text(
        f"""
data_dir = "{directory / "data"}"
{database}

[rate_limits]
enabled = false

[server]
host = "127.0.0.1"
port = {free_port()}
{server_lines}

[engine]
rpc_address = "tcp://127.0.0.1:{free_port()}"
events_address = "tcp://127.0.0.1:{free_port()}"
{engine_lines}
{account_tables}
"""
    )
    return path


def deep_market(server: Server, token: str, account: str = "paper") -> None:
    """A quote on `SYMBOL` deep enough that every marketable buy of the tests fills at once."""
    with server.client(token) as api:
        response = api.post(
            f"/api/v1/paper/{account}/quotes",
            json={
                "symbol": SYMBOL,
                "last": "1500.00",
                "bid": "1499.99",
                "ask": "1500.01",
                "bid_size": 10**12,
                "ask_size": 10**12,
            },
        )
    response.raise_for_status()


def ws_url(server: Server) -> str:
    return server.base_url.replace("http://", "ws://") + "/api/v1/stream"


def cid() -> str:
    return f"s-{uuid.uuid4().hex[:20]}"


def small_buffer_socket(server: Server, size: int = 4096) -> socket.socket:
    """A connected TCP socket with a small receive buffer: a client that does not read fills
    it, and then the server's, quickly."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, size)
    sock.connect(("127.0.0.1", int(server.base_url.rsplit(":", 1)[1])))
    return sock


def child_pids(parent: int) -> list[int]:
    """Processes whose parent is `parent`."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == parent:
                found.append(int(entry.name))
    return found


def role_pid(server: Server, role: str) -> int:
    """pid of the `engine` or `web` child of `tradebridge serve`."""
    for pid in child_pids(server.process.pid):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if f"tradebridge {role}" in cmdline:
            return pid
    raise LookupError(f"no {role} process")


def socket_owner(pids: list[int], server_port: int, client_port: int) -> int | None:
    """Which of `pids` holds the server side of the TCP connection from `client_port`."""
    inode = None
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote = fields[1], fields[2]
        if int(local.split(":")[1], 16) == server_port and int(remote.split(":")[1], 16) == (
            client_port
        ):
            inode = fields[9]
    if inode is None:
        return None
    for pid in pids:
        try:
            links = [os.readlink(fd) for fd in Path(f"/proc/{pid}/fd").iterdir()]
        except OSError:
            continue
        if f"socket:[{inode}]" in links:
            return pid
    return None


class StalledClient:
    """A client that reads its socket only when told to: its small receive buffer fills, then
    the server's send buffer, and then the server's own queues (a client library would keep
    reading into memory, hiding the slowness). Framing by websockets' sans-I/O protocol."""

    def __init__(self, sock: socket.socket, protocol: ClientProtocol) -> None:
        self.sock = sock
        self.protocol = protocol
        self.pending: list[dict[str, Any]] = []
        OPEN.append(self)

    @classmethod
    async def open(cls, server: Server, token: str, channels: list[str]) -> StalledClient:
        sock = small_buffer_socket(server)
        sock.setblocking(False)
        protocol = ClientProtocol(parse_uri(ws_url(server)), max_size=None)
        protocol.send_request(protocol.connect())
        client = cls(sock, protocol)
        await client._flush()
        while protocol.state is State.CONNECTING:
            await client._read(5)
        protocol.events_received()  # the handshake response
        await client.send(op="auth", token=token)
        await client.send(op="subscribe", channels=channels)
        while not any(m["type"] == "subscribed" for m in client.pending):
            await client._read(5)
        return client

    async def send(self, **op: Any) -> None:
        self.protocol.send_text(json.dumps(op).encode())
        await self._flush()

    async def read_until_closed(self, within: float = 15) -> tuple[list[dict[str, Any]], int]:
        """Read everything until the server's close frame: (messages, close code)."""
        deadline = time.monotonic() + within
        while self.protocol.close_rcvd is None:
            await self._read(max(deadline - time.monotonic(), 0.01))
        return self.pending, self.protocol.close_rcvd.code

    @property
    def close_reason(self) -> str:
        assert self.protocol.close_rcvd is not None
        return self.protocol.close_rcvd.reason

    async def read_until(
        self, predicate: Callable[[dict[str, Any]], bool], within: float = 15
    ) -> list[dict[str, Any]]:
        deadline = time.monotonic() + within
        while not any(predicate(m) for m in self.pending):
            await self._read(max(deadline - time.monotonic(), 0.01))
        return self.pending

    async def _read(self, within: float) -> None:
        loop = asyncio.get_running_loop()
        data = await asyncio.wait_for(loop.sock_recv(self.sock, 65536), within)
        if data:
            self.protocol.receive_data(data)
        else:
            self.protocol.receive_eof()
        for event in self.protocol.events_received():
            if isinstance(event, Frame) and event.opcode is Opcode.TEXT:
                self.pending.append(json.loads(event.data))
        await self._flush()  # pongs, the close answer

    async def _flush(self) -> None:
        data = b"".join(self.protocol.data_to_send())
        if data:
            await asyncio.get_running_loop().sock_sendall(self.sock, data)

    async def close(self) -> None:
        self.sock.close()


OPEN: list[StreamClient | StalledClient] = []
"""Clients a test opened; the `close_clients` fixture closes what is left after each test."""


class StreamClient:
    """A stream connection that answers the server's pings and remembers every message."""

    decode: Callable[[str | bytes], Any] = staticmethod(json.loads)
    """How a message is read (a subclass may keep the text of numbers)."""

    def __init__(self, ws: websockets.ClientConnection) -> None:
        self.ws = ws
        self.received: list[dict[str, Any]] = []
        self.held: collections.deque[dict[str, Any]] = collections.deque()
        """Account events `until` read past, given out again by the next reads."""
        OPEN.append(self)

    @classmethod
    async def open(
        cls,
        server: Server,
        token: str | None = None,
        *,
        query: bool = False,
        **options: Any,
    ) -> StreamClient:
        """Connected and, given a token, authenticated (first message, or `?token=`), with the
        first status message read."""
        url = ws_url(server) + (f"?token={token}" if token and query else "")
        options.setdefault("max_queue", None)
        ws = await websockets.connect(url, ping_interval=None, **options)
        client = cls(ws)
        if token is not None:
            if not query:
                await client.send(op="auth", token=token)
            status = await client.recv()
            assert status["type"] == "status", status
        return client

    async def send(self, **op: Any) -> None:
        await self.ws.send(json.dumps(op))

    async def recv(self, within: float = 5) -> dict[str, Any]:
        """The next message other than a server ping (which is answered)."""
        if self.held:
            return self.held.popleft()
        deadline = time.monotonic() + within
        while True:
            raw = await asyncio.wait_for(self.ws.recv(), max(deadline - time.monotonic(), 0))
            message: dict[str, Any] = self.decode(raw)
            if message["type"] == "ping":
                await self.send(op="pong")
                continue
            self.received.append(message)
            return message

    async def request(self, within: float = 5, **op: Any) -> dict[str, Any]:
        """Send `op` and return the next message of type subscribed, pong or error."""
        await self.send(**op)
        return await self.until(lambda m: m["type"] in ("subscribed", "pong", "error"), within)

    async def subscribe(self, channels: list[str], account: str = "paper") -> dict[str, Any]:
        reply = await self.request(op="subscribe", channels=channels, account=account)
        assert reply["type"] == "subscribed", reply
        return reply

    async def until(
        self, predicate: Callable[[dict[str, Any]], bool], within: float = 5
    ) -> dict[str, Any]:
        """Read until a message satisfies `predicate`; return it. Account events read on the
        way are held for the next reads (waiting for a status must not lose an event that came
        before it); other messages passed over are dropped."""
        deadline = time.monotonic() + within
        passed: list[dict[str, Any]] = []
        try:
            while True:
                message = await self.recv(max(deadline - time.monotonic(), 0.01))
                if predicate(message):
                    return message
                if message["type"] in ACCOUNT_TYPES:
                    passed.append(message)
        finally:
            self.held.extendleft(reversed(passed))

    async def events_until(
        self, predicate: Callable[[dict[str, Any]], bool], within: float = 10
    ) -> list[dict[str, Any]]:
        """Account events read until one satisfies `predicate` (included)."""
        events: list[dict[str, Any]] = []
        deadline = time.monotonic() + within
        while True:
            message = await self.recv(max(deadline - time.monotonic(), 0.01))
            if "seq" in message and message["type"] != "subscribed":
                events.append(message)
                if predicate(message):
                    return events

    async def quiet(self, seconds: float = 0.5) -> list[dict[str, Any]]:
        """Everything (but pings) that arrives within `seconds`."""
        found = []
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                found.append(await self.recv(left))
            except TimeoutError:
                break
        return found

    async def closed(self, within: float = 10) -> tuple[int, str, list[dict[str, Any]]]:
        """Read until the server closes: (code, reason, messages read meanwhile)."""
        messages: list[dict[str, Any]] = []
        deadline = time.monotonic() + within
        try:
            while True:
                raw = await asyncio.wait_for(self.ws.recv(), max(deadline - time.monotonic(), 0))
                messages.append(json.loads(raw))
        except websockets.ConnectionClosed as exc:
            closed = exc.rcvd
        assert closed is not None, "closed without a close frame"
        return closed.code, closed.reason, messages

    async def close(self) -> None:
        await self.ws.close()


def order_body(**fields: Any) -> dict[str, Any]:
    """A marketable buy of 100 600519.SH: fills at once."""
    return {
        "symbol": SYMBOL,
        "side": "buy",
        "qty": 100,
        "limit_price": "1510.00",
        "client_order_id": cid(),
    } | fields


async def place(api: httpx.AsyncClient, account: str = "paper", **fields: Any) -> dict[str, Any]:
    response = await api.post(f"/api/v1/accounts/{account}/orders", json=order_body(**fields))
    assert response.status_code == 201, response.text
    order: dict[str, Any] = response.json()
    return order


def filled(order_id: str) -> Callable[[dict[str, Any]], bool]:
    """Matches the event of `order_id` reaching `filled`."""
    return lambda m: (
        m["type"] == "order" and m["data"]["id"] == order_id and m["data"]["status"] == "filled"
    )


ACCOUNT_TYPES = frozenset({"order", "trade", "position", "account"})


async def settle(client: StreamClient, quiet: float = 0.4) -> list[dict[str, Any]]:
    """The account events that arrive until none has for `quiet` seconds."""
    return [m for m in await client.quiet(quiet) if m["type"] in ACCOUNT_TYPES]


def assert_contiguous(events: list[dict[str, Any]], after: int) -> None:
    """`seq` runs after+1, after+2, ... and each `prev_seq` is the previous `seq`."""
    seqs = [e["seq"] for e in events]
    assert seqs == list(range(after + 1, after + 1 + len(events))), seqs
    prevs = [e["prev_seq"] for e in events]
    assert prevs == [after, *seqs[:-1]], prevs
