"""What the suites that run a real `tradebridge serve` in front of a broker's fake share: the
server with its log shown at the end, a client logged in once the account connected, waiting,
and the account's orders and trades over REST."""

import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.conftest import Server, start_server

WAIT_S = 60.0


@contextmanager
def serving(config: Path, env: dict[str, str] | None = None) -> Iterator[Server]:
    """`serve` on `config`; it must stop cleanly, and its log is printed either way."""
    server = start_server(config, env=env)
    try:
        yield server
    finally:
        code = server.stop()
        print(f"--- serve log ---\n{server.output()[-8000:]}")
        assert code == 0


def wait_for(condition: Callable[[], Any], what: str, server: Server) -> Any:
    """What `condition` returns once it is truthy; fails after `WAIT_S` with the serve log."""
    deadline = time.monotonic() + WAIT_S
    while not (found := condition()):
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}\n{server.output()[-6000:]}")
        time.sleep(0.05)
    return found


class AccountApi:
    """One account's routes, for a test's client."""

    def __init__(self, account: str, symbol: str, id_prefix: str) -> None:
        self.account = account
        self.orders = f"/api/v1/accounts/{account}/orders"
        self.trades = f"/api/v1/accounts/{account}/trades"
        self._symbol = symbol
        self._id_prefix = id_prefix

    @contextmanager
    def client(self, server: Server) -> Iterator[httpx.Client]:
        """Logged in as the admin, once the account is connected."""
        with server.client(server.login()) as client:
            wait_for(lambda: self.connected(client), f"the {self.account} account", server)
            yield client

    def connected(self, client: httpx.Client) -> bool:
        try:
            accounts = client.get("/api/v1/accounts").json()
        except httpx.TransportError:
            return False
        return any(a["id"] == self.account and a["connected"] for a in accounts)

    def buy(self, client: httpx.Client, qty: int, price: str, **fields: Any) -> httpx.Response:
        """A limit buy of the account's usual symbol (or `symbol=`) with a fresh client id."""
        body = {
            "symbol": self._symbol,
            "side": "buy",
            "qty": qty,
            "limit_price": price,
            "client_order_id": f"{self._id_prefix}-{uuid.uuid4().hex[:16]}",
        } | fields
        return client.post(self.orders, json=body)

    def order_of(self, client: httpx.Client, order_id: str) -> dict[str, Any]:
        response = client.get(f"{self.orders}/{order_id}")
        assert response.status_code == 200, response.text
        found: dict[str, Any] = response.json()
        return found

    def trades_of(self, client: httpx.Client, order_id: str) -> list[dict[str, Any]]:
        response = client.get(self.trades, params={"order_id": order_id, "limit": 1000})
        assert response.status_code == 200, response.text
        found: list[dict[str, Any]] = response.json()
        return found
