"""A real `tradebridge serve` with an `ib` account whose TWS is the fake, for the end-to-end
and dialect tests; and a WebSocket subscriber that collects what the stream pushes."""

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.brokers.ib.fake_support import FakeTwsProcess, fake_tws
from tests.conftest import Server, start_server, write_config
from websockets.sync.client import ClientConnection
from websockets.sync.client import connect as connect_ws

ACCOUNT = "ib"
ORDERS = f"/api/v1/accounts/{ACCOUNT}/orders"
TRADES = f"/api/v1/accounts/{ACCOUNT}/trades"
INSTANCE = "IbInstance0000000001"
TOKEN = "ib-instance-token-0001"
WAIT_S = 30.0


def ib_account(tws: FakeTwsProcess, client_id: int = 17) -> str:
    return f"""
[[accounts]]
id = "{ACCOUNT}"
broker = "ib"
base_currency = "USD"
httptrading_instance_id = "{INSTANCE}"
httptrading_tokens = ["{TOKEN}"]

[accounts.ib]
port = {tws.api_port}
client_id = {client_id}
connect_timeout_s = 3
request_timeout_s = 3
order_ack_timeout_s = 2
"""


@dataclass
class IbServe:
    server: Server
    tws: FakeTwsProcess
    api: httpx.Client
    """Logged in as the admin."""

    @property
    def token(self) -> str:
        return str(self.api.headers["Authorization"]).split(" ", 1)[1]


@contextmanager
def ib_serve(directory: Path, *tws_args: str) -> Iterator[IbServe]:
    """A fake TWS and `tradebridge serve` with the `ib` account connected to it."""
    with fake_tws(directory / "tws", *tws_args) as tws:
        server = start_server(write_config(directory, ib_account(tws)))
        try:
            with server.client(server.login()) as api:
                wait_for(lambda: connected(api), "the ib account to connect", server)
                yield IbServe(server, tws, api)
        finally:
            server.stop()
            print(f"--- serve log (tail) ---\n{server.output()[-8000:]}")


def connected(api: httpx.Client) -> bool:
    try:
        accounts = api.get("/api/v1/accounts").json()
    except httpx.HTTPError:
        return False
    return any(a["id"] == ACCOUNT and a["connected"] for a in accounts)


def wait_for(condition: Callable[[], object], what: str, server: Server) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(
                f"gave up after {WAIT_S:.0f} s waiting for {what}\n{server.output()[-6000:]}"
            )
        time.sleep(0.05)


def numbers(body: Any) -> Any:
    """A JSON body with its numbers as Decimals."""
    return json.loads(json.dumps(body), parse_float=Decimal, parse_int=Decimal)


class Subscriber:
    """A WebSocket client subscribed to the `ib` account's channels; a thread keeps every
    message it receives."""

    def __init__(self, server: Server, token: str, channels: list[str]) -> None:
        url = server.base_url.replace("http://", "ws://") + "/api/v1/stream"
        self._opened = ExitStack()
        self._ws: ClientConnection = self._opened.enter_context(
            connect_ws(url, open_timeout=WAIT_S)
        )
        self._ws.send(json.dumps({"op": "auth", "token": token}))
        self._ws.send(json.dumps({"op": "subscribe", "channels": channels, "account": ACCOUNT}))
        self.messages: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()
        self.wait(lambda m: m["type"] == "subscribed", "the subscription")

    def _read(self) -> None:
        try:
            for raw in self._ws:
                with self._lock:
                    self.messages.append(json.loads(raw, parse_float=Decimal))
        except Exception:  # closed
            return

    def of(self, kind: str) -> list[dict[str, Any]]:
        with self._lock:
            return [m for m in self.messages if m["type"] == kind]

    def wait(self, match: Callable[[dict[str, Any]], bool], what: str) -> dict[str, Any]:
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            with self._lock:
                found = next((m for m in self.messages if match(m)), None)
            if found is not None:
                return found
            time.sleep(0.02)
        raise AssertionError(f"the stream did not push {what}: {self.messages[-10:]}")

    def close(self) -> None:
        self._opened.close()
        self._thread.join(5)
