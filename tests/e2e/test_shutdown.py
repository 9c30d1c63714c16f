"""Graceful shutdown: on SIGTERM requests in progress are answered, nothing acknowledged is
lost, every process exits with status 0 and none is left behind.

A request "in progress" is made by hand: its headers and half its body are sent, and the web
process is seen to have read them (the server side of the connection has nothing unread),
before the SIGTERM; the rest of the body follows once the server logs that it is shutting
down, and the answer must still come.
"""

import json
import signal
import socket
import threading
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import websockets
from tests.conftest import Server, start_server, wait_healthy, write_config
from tests.e2e.lifecycle_support import (
    ORDERS,
    WAIT_S,
    descendants,
    is_running,
    order_body,
    port_of,
    start_alone,
    wait_until,
    web_server,
)
from websockets.sync.client import ClientConnection
from websockets.sync.client import connect as connect_ws

SHUTTING_DOWN = "Shutting down"
"""What uvicorn logs when it stops accepting connections and starts its graceful shutdown."""


def unread_bytes(server_port: int, client_port: int) -> int | None:
    """Bytes of the connection from `client_port` the server has not read yet (None: no such
    connection on the server side)."""
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote = fields[1], fields[2]
        if int(local.split(":")[1], 16) == server_port and int(remote.split(":")[1], 16) == (
            client_port
        ):
            return int(fields[4].split(":")[1], 16)
    return None


class HalfSentOrder:
    """A POST whose headers and first half of the body are sent; `finish` sends the rest."""

    def __init__(self, server: Server, token: str, client_order_id: str) -> None:
        body = json.dumps(order_body(client_order_id)).encode()
        head = (
            f"POST {ORDERS} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        self._rest = body[len(body) // 2 :]
        self.sock = socket.create_connection(("127.0.0.1", port_of(server)), timeout=WAIT_S)
        self.sock.sendall(head + body[: len(body) // 2])
        client_port = self.sock.getsockname()[1]
        wait_until(
            lambda: unread_bytes(port_of(server), client_port) == 0,
            "the web process to read the first half of the request",
            server.output,
        )

    def finish(self) -> tuple[int, dict[str, Any]]:
        """Send the rest of the body; the answer's status and JSON body."""
        self.sock.sendall(self._rest)
        with self.sock.makefile("rb") as answer:
            status = int(answer.readline().split()[1])
            length = 0
            while (line := answer.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode().partition(":")
                if name.lower() == "content-length":
                    length = int(value)
            payload = json.loads(answer.read(length))
        self.sock.close()
        return status, payload


@dataclass
class OrderStream:
    """Threads placing orders, each with a new `client_order_id`, until stopped or until the
    server is gone. `acked` maps the client id of every 2xx answer to its order id."""

    server: Server
    token: str
    threads: int = 4
    acked: dict[str, str] = field(default_factory=dict)
    statuses: Counter[int] = field(default_factory=Counter)
    unexpected: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _running: list[threading.Thread] = field(default_factory=list)

    def start(self) -> None:
        self._running = [threading.Thread(target=self._work) for _ in range(self.threads)]
        for thread in self._running:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._running:
            thread.join(WAIT_S)

    def wait_for(self, acked: int) -> None:
        wait_until(lambda: len(self.acked) >= acked, f"{acked} orders", self.server.output)

    def _work(self) -> None:
        with self.server.client(self.token) as client:
            while not self._stop.is_set():
                client_order_id = f"g-{uuid.uuid4().hex[:20]}"
                try:
                    response = client.post(ORDERS, json=order_body(client_order_id))
                except httpx.TransportError:
                    return  # the server is gone (or going): no answer, nothing to check
                with self._lock:
                    self.statuses[response.status_code] += 1
                    if response.is_success:
                        self.acked[client_order_id] = response.json()["id"]
                    elif response.status_code != 503:
                        self.unexpected.append(f"{response.status_code} {response.text}")
                if not response.is_success:
                    self._stop.wait(0.02)  # no busy loop while the engine is away


def close_code(ws: ClientConnection) -> int | None:
    """Read until the server closes the WebSocket; its close code."""
    try:
        while True:  # status messages and heartbeats may come first
            ws.recv(WAIT_S)
    except websockets.ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd is not None else None


def assert_orders_stored(server: Server, token: str, expected: dict[str, str]) -> None:
    """Each client id in `expected` names its order, as read back over REST."""
    with server.client(token) as client:
        for client_order_id, order_id in expected.items():
            response = client.get(f"{ORDERS}:by_client_id/{client_order_id}")
            assert response.status_code == 200, (client_order_id, response.text)
            assert response.json()["id"] == order_id


def test_serve_sigterm_answers_requests_in_progress_and_loses_nothing(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    server = start_server(config)
    token = server.login()
    processes = descendants(server.process.pid)
    assert len(processes) >= 2  # engine and web

    stream = OrderStream(server, token)
    stream.start()
    url = server.base_url.replace("http://", "ws://") + "/api/v1/stream"
    try:
        with connect_ws(url, open_timeout=WAIT_S) as subscriber:
            subscriber.send(json.dumps({"op": "auth", "token": token}))
            assert json.loads(subscriber.recv(WAIT_S))["type"] == "status"
            stream.wait_for(20)
            in_progress = HalfSentOrder(server, token, f"h-{uuid.uuid4().hex[:20]}")
            server.process.send_signal(signal.SIGTERM)
            wait_until(
                lambda: SHUTTING_DOWN in server.output(), "the web to shut down", server.output
            )
            status, order = in_progress.finish()
            code = close_code(subscriber)
    finally:
        stream.stop()
        server.stop()  # only if the test failed before its SIGTERM took effect
    assert status == 201, order
    # Told to reconnect: uvicorn closes WebSockets with 1012 (service restart) as it stops.
    assert code == 1012
    assert server.process.wait(WAIT_S) == 0
    wait_until(
        lambda: not any(is_running(pid) for pid in processes),
        f"every process of serve to end ({sorted(processes)})",
        server.output,
    )
    assert not stream.unexpected, stream.unexpected
    assert len(stream.acked) >= 20

    again = start_server(config)
    try:
        assert_orders_stored(again, token, {**stream.acked, order["client_order_id"]: order["id"]})
    finally:
        assert again.stop() == 0


def test_web_and_engine_alone_stop_cleanly_on_sigterm(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    engine = start_alone("engine", config)
    web = start_alone("web", config)
    try:
        server = web_server(config, web)
        token = server.login()

        # The web alone: a request in progress is answered, then it exits with 0.
        in_progress = HalfSentOrder(server, token, f"h-{uuid.uuid4().hex[:20]}")
        web.process.send_signal(signal.SIGTERM)
        wait_until(lambda: SHUTTING_DOWN in web.output(), "the web to shut down", web.output)
        status, order = in_progress.finish()
        assert status == 201, order
        assert web.terminate() == 0, web.output()

        # The engine alone, stopped while orders stream in: callers get answers or 503
        # engine_unavailable, never another error; what was acknowledged is kept.
        web = start_alone("web", config)
        server = web_server(config, web)
        stream = OrderStream(server, token)
        stream.start()
        try:
            stream.wait_for(20)
            engine.process.send_signal(signal.SIGTERM)
            assert engine.process.wait(WAIT_S) == 0, engine.output()
            wait_until(lambda: stream.statuses[503] > 0, "a 503 answer", web.output)
        finally:
            stream.stop()
        assert not stream.unexpected, stream.unexpected
        assert "engine stopping" in engine.output()

        engine = start_alone("engine", config)
        wait_healthy(server, timeout=WAIT_S)
        assert_orders_stored(server, token, {**stream.acked, order["client_order_id"]: order["id"]})
    finally:
        assert web.terminate() == 0, web.output()
        assert engine.terminate() == 0, engine.output()
