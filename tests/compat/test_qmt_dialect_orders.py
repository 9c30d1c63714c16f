"""What the two QMT dialects do with orders beyond one request: integer ids that survive a
restart and are the same in both; lost answers and retries without a client order id that
never place an order twice; the order rate limit."""

import os
import signal
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from tests.compat.qmt_support import BOND, QMT, XT, dialects_config, key_of, v1_orders
from tests.conftest import Server, start_server
from tests.e2e.lifecycle_support import with_settings
from tests.stream.stream_support import role_pid

from tradebridge.store import dialect_orders
from tradebridge.store.database import create_db_engine
from tradebridge.store.migrate import upgrade
from tradebridge.store.schema import unsettled_placements

ORDER = {"stock_code": BOND, "price": "300", "volumn": "10"}
QMT_ORDER = {"stock_code": BOND, "action": "BUY", "quantity": 10, "price": 300.0}


def order_at(price: str) -> dict[str, str]:
    """A resting buy of the bond; each test of the shared server its own price."""
    return {**ORDER, "price": price}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Calls to the engine time out after 1 s, so a dialect settles for 3 s at most."""
    directory = tmp_path_factory.mktemp("qmt-orders")
    running = start_server(with_settings(dialects_config(directory), "engine", rpc_timeout_ms=1000))
    yield running
    if running.process.poll() is None:
        os.kill(running.process.pid, signal.SIGCONT)  # a test that failed while it was stopped
    assert running.stop() == 0


@pytest.fixture(scope="module")
def token(server: Server) -> str:
    return server.login()


@pytest.fixture
def admin(server: Server, token: str) -> Iterator[httpx.Client]:
    with server.client(token) as client:
        yield client


@pytest.fixture(scope="module")
def key(server: Server, token: str) -> str:
    return key_of(server, token, "read", "trade")


def xt_client(server: Server, key: str, timeout: float = 30) -> httpx.Client:
    return httpx.Client(base_url=server.base_url + XT, headers={"X-API-Key": key}, timeout=timeout)


class EnginePaused:
    """The engine stopped (SIGSTOP) for `seconds`, from a thread, while the test calls."""

    def __init__(self, server: Server, seconds: float) -> None:
        self._pid = role_pid(server, "engine")
        self._seconds = seconds
        self._thread = threading.Thread(target=self._resume_later)

    def __enter__(self) -> "EnginePaused":
        os.kill(self._pid, signal.SIGSTOP)
        self._thread.start()
        return self

    def _resume_later(self) -> None:
        time.sleep(self._seconds)
        os.kill(self._pid, signal.SIGCONT)

    def __exit__(self, *exc: object) -> None:
        self._thread.join()


def new_orders(admin: httpx.Client, before: set[str]) -> list[dict[str, Any]]:
    return [o for o in v1_orders(admin) if o["id"] not in before]


def wait_for_engine(admin: httpx.Client) -> None:
    deadline = time.monotonic() + 30
    while admin.get("/api/v1/accounts").status_code != 200:
        assert time.monotonic() < deadline, "the engine did not come back"
        time.sleep(0.1)


# --------------------------------------------------------------------------- aliases


def test_integer_ids_are_shared_by_both_dialects_and_survive_a_restart(tmp_path: Path) -> None:
    first_run = start_server(dialects_config(tmp_path))
    try:
        key = key_of(first_run, first_run.login(), "read", "trade")
        before = _three_orders(first_run, key)
    finally:
        assert first_run.stop() == 0
    restarted = start_server(first_run.config)
    try:
        qmt_headers = {"X-API-Key": key}
        again = httpx.get(restarted.base_url + QMT + "/orders", headers=qmt_headers).json()
        assert {o["client_order_id"]: o["order_id"] for o in again} == before
        with xt_client(restarted, key) as xt:
            (shown,) = xt.get("/query/order", params={"order_id": 3}).json()
            assert (shown["委托数量"], shown["委托价格"]) == (20, 299.0)
            assert xt.get("/place_order", params=ORDER).json()["order_id"] == 4
    finally:
        assert restarted.stop() == 0


def _three_orders(server: Server, key: str) -> dict[str, int]:
    """An order through each dialect and one through /api/v1; their aliases by client
    order id, as `orders` shows them."""
    qmt_headers = {"X-API-Key": key}
    with xt_client(server, key) as xt:
        first = xt.get("/place_order", params=ORDER).json()["order_id"]
    second = httpx.post(server.base_url + QMT + "/order", json=QMT_ORDER, headers=qmt_headers)
    body = {"symbol": BOND, "side": "buy", "qty": 20, "limit_price": "299.000"}
    with server.client(server.login()) as admin:
        v1 = admin.post("/api/v1/accounts/paper/orders", json=body).json()
    assert (first, second.json()["order_id"]) == (1, 2)
    qmt_orders = httpx.get(server.base_url + QMT + "/orders", headers=qmt_headers).json()
    aliases = {o["client_order_id"]: o["order_id"] for o in qmt_orders}
    assert aliases[v1["client_order_id"]] == 3
    with xt_client(server, key) as xt:
        xt_orders = xt.get("/query/order").json()
    assert [o["订单编号"] for o in xt_orders] == [1, 2, 3]
    return aliases


def test_aliases_in_the_database(tmp_path: Path) -> None:
    """Per account from 1, in the order first shown, the same when shown again."""
    db = create_db_engine(f"sqlite:///{tmp_path / 'aliases.db'}")
    upgrade(db)
    with db.begin() as conn:
        assert dialect_orders.give_aliases(conn, "a", ["X", "Y"]) == {"X": 1, "Y": 2}
        assert dialect_orders.give_aliases(conn, "a", ["Z", "Y", "Z"]) == {"Z": 3, "Y": 2}
        assert dialect_orders.give_aliases(conn, "b", ["Q"]) == {"Q": 1}
        assert dialect_orders.order_of_alias(conn, "a", 3) == "Z"
        assert dialect_orders.order_of_alias(conn, "b", 3) is None
        assert dialect_orders.aliases_of(conn, "a", []) == {}
    db.dispose()


def test_unsettled_placements_in_the_database(tmp_path: Path) -> None:
    db = create_db_engine(f"sqlite:///{tmp_path / 'placements.db'}")
    upgrade(db)
    now = datetime.now(UTC)
    window = timedelta(minutes=5)
    with db.begin() as conn:
        dialect_orders.remember_placement(
            conn, "a", "k1", "xt-1", now - window * 2, now - window * 3
        )
        dialect_orders.remember_placement(conn, "a", "k2", "xt-2", now, now - window)
        assert dialect_orders.unsettled_placement(conn, "a", "k2", now - window) == "xt-2"
        assert dialect_orders.unsettled_placement(conn, "b", "k2", now - window) is None
        # k1 is too old to be a retry's, and was dropped when k2 was remembered
        rows = conn.execute(select(unsettled_placements.c.request_key)).scalars().all()
        assert rows == ["k2"]
        dialect_orders.remember_placement(conn, "a", "k2", "xt-3", now, now - window)
        assert dialect_orders.unsettled_placement(conn, "a", "k2", now - window) == "xt-3"
        dialect_orders.forget_shown(conn, "b", {"xt-3": "k2"})  # another account's order
        dialect_orders.forget_shown(conn, "a", {"xt-3": "k7"})  # shown to another caller
        assert dialect_orders.unsettled_placement(conn, "a", "k2", now - window) == "xt-3"
        dialect_orders.forget_shown(conn, "a", {"xt-9": "k9", "xt-3": "k2"})
        assert dialect_orders.unsettled_placement(conn, "a", "k2", now - window) is None
    db.dispose()


# --------------------------------------------------------------------------- lost answers


def test_an_answer_lost_while_the_engine_pauses_is_settled_in_the_request(
    server: Server, admin: httpx.Client, key: str
) -> None:
    """The engine stops for 1.5 s with the order in flight: the dialect sends it again with
    the same client order id once the engine is back, and answers the one order."""
    before = {o["id"] for o in v1_orders(admin)}
    with xt_client(server, key) as xt, EnginePaused(server, 1.5):
        started = time.monotonic()
        answer = xt.get("/place_order", params=order_at("299.001"))
        waited = time.monotonic() - started
    assert answer.status_code == 200, answer.text
    assert answer.json()["order_id"] > 0
    assert waited > 1.0
    (order,) = new_orders(admin, before)
    assert (order["symbol"], order["qty"], order["status"]) == (BOND, 10, "new")


@pytest.mark.parametrize("dialect", ["xtquant_http", "qmt_service"])
def test_after_a_504_the_same_order_again_is_its_retry(
    server: Server, admin: httpx.Client, key: str, dialect: str
) -> None:
    """The engine stays away longer than the dialect settles (3 s): 504, outcome unknown.
    The caller's retry of the same order reuses the client order id the 504 named, so it
    answers the order the first attempt placed, or places it once; after that, the same
    order again is a new order."""

    def send() -> httpx.Response:
        if dialect == "xtquant_http":
            with xt_client(server, key) as xt:
                return xt.get("/place_order", params=order_at("299.002"))
        return httpx.post(
            server.base_url + QMT + "/place-order",
            json={**QMT_ORDER, "price": 299.003},
            headers={"X-API-Key": key},
            timeout=30,
        )

    def alias(response: httpx.Response) -> int:
        assert response.status_code == 200, response.text
        order_id = response.json()["order_id"]
        assert isinstance(order_id, int)
        assert order_id > 0
        return order_id

    before = {o["id"] for o in v1_orders(admin)}
    with EnginePaused(server, 5.0):
        lost = send()
    assert lost.status_code == 504, lost.text
    body = lost.json()
    assert body["error"]["code"] == "timeout"
    if dialect == "xtquant_http":
        assert body["order_id"] == -1
        assert lost.headers["X-Reject-Reason"] == "timeout"
    else:
        assert (body["success"], body["order_id"]) == (False, None)
    client_order_id = body["error"]["details"]["client_order_id"]
    wait_for_engine(admin)

    retried = alias(send())
    (order,) = new_orders(admin, before)
    assert order["client_order_id"] == client_order_id
    assert alias(send()) != retried  # told: the next one is a new order
    assert len(new_orders(admin, before)) == 2


@pytest.mark.parametrize("looks", ["nobody", "another caller", "the caller"])
def test_a_caller_gone_before_the_answer_gets_the_order_when_it_retries(
    server: Server, admin: httpx.Client, token: str, key: str, looks: str
) -> None:
    """The script gives up after 1 s while the dialect is still settling; the order is
    placed meanwhile. Its retry answers that order, also after another caller (a monitoring
    script) listed it. A script that looks at the orders first (as document 003 advises) has
    seen it: the same order sent after that is a new one."""
    order = order_at(
        {"nobody": "299.012", "another caller": "299.013", "the caller": "299.011"}[looks]
    )
    before = {o["id"] for o in v1_orders(admin)}
    with (
        EnginePaused(server, 1.5),
        xt_client(server, key, timeout=1.0) as impatient,
        pytest.raises(httpx.ReadTimeout),
    ):
        impatient.get("/place_order", params=order)
    wait_for_engine(admin)
    deadline = time.monotonic() + 10
    while not new_orders(admin, before):
        assert time.monotonic() < deadline, "the dialect did not place the order"
        time.sleep(0.1)
    if looks != "nobody":
        looker = key if looks == "the caller" else key_of(server, token, "read")
        with xt_client(server, looker) as xt:
            (shown,) = [
                o for o in xt.get("/query/order").json() if o["委托价格"] == float(order["price"])
            ]
        with httpx.Client(base_url=server.base_url + QMT, headers={"X-API-Key": looker}) as qmt:
            assert shown["订单编号"] in [o["order_id"] for o in qmt.get("/orders").json()]
    with xt_client(server, key) as xt:
        if looks == "the caller":
            again = xt.get("/place_order", params=order).json()["order_id"]
            assert again > shown["订单编号"]
            assert len(new_orders(admin, before)) == 2
        else:
            retried = xt.get("/place_order", params=order).json()["order_id"]
            assert len(new_orders(admin, before)) == 1
            (found,) = xt.get("/query/order", params={"order_id": retried}).json()
            assert (found["委托数量"], found["委托价格"]) == (10, float(order["price"]))


def test_a_503_placed_nothing_and_is_not_remembered(
    server: Server, admin: httpx.Client, key: str
) -> None:
    """With the engine down, the order never reaches it: 503 at once, and the same order
    sent when it is back is placed once."""
    before = {o["id"] for o in v1_orders(admin)}
    os.kill(server.process.pid, signal.SIGSTOP)  # keep serve from restarting the engine
    try:
        os.kill(role_pid(server, "engine"), signal.SIGKILL)
        time.sleep(1.0)  # a few heartbeats: the link is declared down
        with xt_client(server, key) as xt:
            down = xt.get("/place_order", params=order_at("299.021"))
        assert down.status_code == 503, down.text
        assert (down.json()["order_id"], down.headers["X-Reject-Reason"]) == (
            -1,
            "engine_unavailable",
        )
    finally:
        os.kill(server.process.pid, signal.SIGCONT)
    wait_for_engine(admin)
    with xt_client(server, key) as xt:
        assert xt.get("/place_order", params=order_at("299.021")).json()["order_id"] > 0
    assert len(new_orders(admin, before)) == 1


# --------------------------------------------------------------------------- rate limits


def test_both_dialects_place_on_the_accounts_order_rate_limit(tmp_path: Path) -> None:
    limits = '[rate_limits]\napi = "1000/second"\norders = "3/minute"\n'
    running = start_server(dialects_config(tmp_path, limits))
    try:
        token = running.login()
        key = key_of(running, token, "read", "trade")
        with xt_client(running, key) as xt:
            assert xt.get("/place_order", params=ORDER).json()["order_id"] == 1
            assert xt.get("/query/order").status_code == 200  # reads are not orders
            assert xt.get("/cancel_order", params={"order_id": 1}).status_code == 200
        qmt = httpx.post(
            running.base_url + QMT + "/place-order", json=QMT_ORDER, headers={"X-API-Key": key}
        )
        assert qmt.json()["order_id"] == 2
        with running.client(token) as admin:
            body = {"symbol": BOND, "side": "buy", "qty": 10, "limit_price": "300.000"}
            assert admin.post("/api/v1/accounts/paper/orders", json=body).status_code == 201
        with xt_client(running, key) as xt:
            limited = xt.get("/place_order", params=ORDER)
        assert limited.status_code == 429
        assert limited.json()["error"]["details"]["scope"] == "account"
        assert "Retry-After" in limited.headers
    finally:
        assert running.stop() == 0
