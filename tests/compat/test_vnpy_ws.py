"""The vnpy WebTrader dialect's push channel `WS /ws/?token=`, with the client example of the
WebTrader document (reference 000) run against a real server: log in, subscribe, trade SHFE
copper with Chinese enum values, read `type`/`topic`/`data` messages, then the REST views."""

import contextlib
import http.client
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.api.auth_support import PASSWORD, add_user, create_key
from tests.compat.vnpy_support import (
    ACCOUNT_FIELDS,
    COPPER,
    DATETIME,
    ORDER_FIELDS,
    POSITION_FIELDS,
    TICK_FIELDS,
    TRADE_FIELDS,
    Pushes,
    WebTrader,
    reset_paper,
    set_market,
    signed_with_test,
    trader_login,
    vnpy_config,
    vnpy_server,
)
from tests.conftest import Server, start_server
from tests.e2e.lifecycle_support import port_of, wait_until, with_settings
from tests.stream.stream_support import child_pids, role_pid, socket_owner
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

TOPICS = {
    "tick": "eTick.",
    "order": "eOrder.",
    "trade": "eTrade.",
    "position": "ePosition.",
    "account": "eAccount.",
}
COPPER_MARKET = {
    "last": "86000",
    "bid": "85990",
    "ask": "86010",
    "bid_size": 20,
    "ask_size": 20,
    "pre_close": "86000",
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with vnpy_server(tmp_path_factory.mktemp("vnpy-ws")) as running:
        yield running


@pytest.fixture(scope="module")
def admin(server: Server) -> str:
    return server.login()


@pytest.fixture
def trader(server: Server, admin: str) -> WebTrader:
    reset_paper(server, admin)
    set_market(server, admin, COPPER, **COPPER_MARKET)
    return trader_login(server)


def assert_messages_well_formed(pushes: Pushes) -> None:
    for message in pushes.received:
        assert set(message) == {"type", "topic", "data"}
        assert message["topic"] == TOPICS[message["type"]]


def test_document_client_example(server: Server, admin: str, trader: WebTrader) -> None:
    assert trader.subscribe(COPPER) is None
    order_req = {
        "symbol": "cu2601",
        "exchange": "SHFE",
        "direction": "多",
        "type": "限价",
        "volume": 1,
        "price": 86010.0,
        "offset": "开",
        "reference": "WebTrader",
    }
    with trader.connect_ws() as pushes:
        vt_orderid = trader.send_order(order_req)
        assert re.fullmatch(r"PAPER\.[0-9A-Z]{26}", vt_orderid)
        orderid = vt_orderid.split(".", 1)[1]

        filled = pushes.until("order", lambda d: d["orderid"] == orderid and d["traded"] == 1)
        assert set(filled) == ORDER_FIELDS
        assert filled["status"] == "全部成交"
        assert (filled["direction"], filled["offset"], filled["type"]) == ("多", "开", "限价")
        assert filled["vt_orderid"] == vt_orderid
        trade = pushes.until("trade", lambda d: d["orderid"] == orderid)
        assert set(trade) == TRADE_FIELDS
        assert (trade["direction"], trade["offset"], trade["price"]) == ("多", "开", 86010.0)
        assert trade["vt_tradeid"] == f"PAPER.{trade['tradeid']}"
        position = pushes.until("position", lambda d: d["volume"] == 1)
        assert set(position) == POSITION_FIELDS
        assert position["vt_positionid"] == "PAPER.cu2601.SHFE.多"
        account = pushes.until("account")
        assert set(account) == ACCOUNT_FIELDS
        assert account["frozen"] > 0  # the margin of the open lot

        # Close today's lot.
        close = {**order_req, "direction": "空", "price": 85990.0, "offset": "平今"}
        closing = trader.send_order(close).split(".", 1)[1]
        closed = pushes.until("trade", lambda d: d["orderid"] == closing)
        assert (closed["direction"], closed["offset"]) == ("空", "平今")
        pushes.until("position", lambda d: d["volume"] == 0)

        # An order that rests, then is cancelled.
        resting = trader.send_order({**order_req, "price": 85000.0})
        resting_id = resting.split(".", 1)[1]
        pushes.until("order", lambda d: d["orderid"] == resting_id and d["status"] == "未成交")
        assert trader.cancel(resting) is None
        cancelled = pushes.until(
            "order", lambda d: d["orderid"] == resting_id and d["status"] == "已撤销"
        )
        assert cancelled["traded"] == 0

        # Ticks of the subscribed symbol as the market moves.
        set_market(server, admin, COPPER, last="86100", bid="86090", ask="86110")
        tick = pushes.until("tick", lambda d: d["last_price"] == 86100.0)
        assert set(tick) == TICK_FIELDS
        assert (tick["vt_symbol"], tick["name"]) == (COPPER, "沪铜2601")
        assert (tick["bid_price_1"], tick["ask_price_1"]) == (86090.0, 86110.0)
        assert re.fullmatch(DATETIME, tick["datetime"])
    assert_messages_well_formed(pushes)

    orders = {o["vt_orderid"]: o for o in trader.get("/order")}
    assert orders[vt_orderid]["status"] == "全部成交"
    assert orders[resting]["status"] == "已撤销"
    trades = [t for t in trader.get("/trade") if t["orderid"] in (orderid, closing)]
    assert [(t["direction"], t["offset"]) for t in trades] == [("多", "开"), ("空", "平今")]
    assert not [p for p in trader.get("/position") if p["vt_symbol"] == COPPER and p["volume"]]
    assert len(trader.get("/account")) == 1
    assert COPPER in {c["vt_symbol"] for c in trader.get("/contract")}


def test_subscribing_pushes_the_current_tick(server: Server, trader: WebTrader) -> None:
    with trader.connect_ws() as pushes:
        assert trader.subscribe("rb2601.SHFE") is None
        tick = pushes.until("tick", lambda d: d["vt_symbol"] == "rb2601.SHFE")
    assert tick["name"] == "螺纹钢2601"
    assert tick["pre_close"] == 3100.0
    assert "rb2601.SHFE" in {t["vt_symbol"] for t in trader.get("/tick")}


def test_unsubscribed_symbols_push_no_ticks(server: Server, admin: str, trader: WebTrader) -> None:
    trader.subscribe(COPPER)
    with trader.connect_ws() as pushes:
        set_market(server, admin, "m2601.DCE", last="2960")  # never subscribed
        set_market(server, admin, COPPER, last="86020")
        pushes.until("tick", lambda d: d["last_price"] == 86020.0)
    assert {m["data"]["vt_symbol"] for m in pushes.received if m["type"] == "tick"} == {COPPER}


def test_every_client_gets_the_pushes(server: Server, trader: WebTrader) -> None:
    other = trader_login(server)
    order = {
        "symbol": "cu2601",
        "exchange": "SHFE",
        "direction": "Long",
        "type": "Limit",
        "volume": 1.0,
        "price": 85000.0,
        "offset": "Open",
    }
    with trader.connect_ws() as first, other.connect_ws() as second:
        orderid = trader.send_order(order).split(".", 1)[1]
        for pushes in (first, second):
            resting = pushes.until("order", lambda d: d["orderid"] == orderid)
            assert (resting["direction"], resting["offset"]) == ("多", "开")


def test_english_messages(tmp_path: Path) -> None:
    with vnpy_server(tmp_path, language="en", envelope=False) as server:
        admin = server.login()
        set_market(server, admin, COPPER, **COPPER_MARKET)
        trader = trader_login(server, envelope=False)
        order = {
            "symbol": "cu2601",
            "exchange": "SHFE",
            "direction": "多",
            "type": "限价",
            "volume": 1,
            "price": 86010.0,
            "offset": "开",
        }
        with trader.connect_ws() as pushes:
            orderid = trader.send_order(order).split(".", 1)[1]
            filled = pushes.until("order", lambda d: d["orderid"] == orderid and d["traded"])
            trade = pushes.until("trade", lambda d: d["orderid"] == orderid)
            position = pushes.until("position")
    assert (filled["status"], filled["direction"], filled["offset"]) == (
        "All Traded",
        "Long",
        "Open",
    )
    assert filled["type"] == "Limit"
    assert (trade["direction"], trade["offset"]) == ("Long", "Open")
    assert position["vt_positionid"] == "PAPER.cu2601.SHFE.Long"
    assert_messages_well_formed(pushes)


# --------------------------------------------------------------------------- refusals


def refused(url: str) -> InvalidStatus:
    with pytest.raises(InvalidStatus) as caught, connect(url):
        pass
    return caught.value


def ws_url(server: Server, token: str | None = None) -> str:
    query = f"?token={token}" if token is not None else ""
    return server.base_url.replace("http://", "ws://") + "/ws/" + query


def test_refused_tokens_get_no_socket(server: Server, trader: WebTrader) -> None:
    assert trader.token is not None
    forged = [ws_url(server, token) for token in signed_with_test(trader.token)]
    for url in (ws_url(server), ws_url(server, "nonsense"), *forged):
        status = refused(url).response
        assert status.status_code == 401
        assert b'"unauthorized"' in status.body


def test_socket_needs_read_on_the_dialect_account(tmp_path: Path) -> None:
    other = '[[accounts]]\nid = "other"\n[accounts.paper]\nmarket = "manual"\n'
    with vnpy_server(tmp_path, extra=other) as server:
        admin = server.login()
        bound = create_key(server, admin, scopes=["read"], account="other")["key"]
        status = refused(ws_url(server, bound)).response
        assert status.status_code == 403
        viewer = server.login(add_user(server, "viewer"), PASSWORD)
        reader = create_key(server, admin, scopes=["read"], account="paper")["key"]
        for credential in (viewer, reader):
            with connect(ws_url(server, credential)) as ws:
                assert ws.ping().wait(10)
        header = {"Authorization": f"Bearer {viewer}"}
        with connect(ws_url(server), additional_headers=header) as ws:
            assert ws.ping().wait(10)


# --------------------------------------------------------------------------- web workers


def test_a_subscription_through_one_worker_reaches_sockets_on_another(tmp_path: Path) -> None:
    server = start_server(with_settings(vnpy_config(tmp_path), "server", workers=2))
    try:
        admin = server.login()
        trader = trader_login(server)
        web = role_pid(server, "web")
        wait_until(
            lambda: (
                len(worker_pids(web)) == 2
                and server.output().count("Application startup complete.") >= 2
            ),
            "two web workers",
            server.output,
        )
        workers = worker_pids(web)
        port = port_of(server)
        with trader.connect_ws() as pushes:
            socket_worker = owner(workers, port, pushes.ws.socket.getsockname()[1])
            request = other_workers_connection(workers, port, socket_worker)
            request.request("POST", "/tick/rb2601.SHFE", headers=trader.headers)
            assert request.getresponse().status == 200
            request.close()
            # That worker's feed looks at the subscriptions every second: move the market
            # until a move reaches this socket.
            for last in range(3101, 3161):
                set_market(server, admin, "rb2601.SHFE", last=str(last))
                with contextlib.suppress(TimeoutError):
                    tick = pushes.until(
                        "tick", lambda d: d["vt_symbol"] == "rb2601.SHFE", within=0.5
                    )
                    break
            else:
                pytest.fail("no tick of the symbol subscribed through the other worker")
        assert tick["last_price"] > 3100
    finally:
        assert server.stop() == 0


def worker_pids(web: int) -> list[int]:
    """uvicorn's worker processes under the web process."""
    return [
        pid for pid in child_pids(web) if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()
    ]


def owner(workers: list[int], port: int, client_port: int) -> int:
    """The worker that accepted the connection from `client_port` (waits for the accept)."""
    held: dict[str, int | None] = {"by": None}

    def accepted() -> bool:
        held["by"] = socket_owner(workers, port, client_port)
        return held["by"] is not None

    wait_until(accepted, f"the worker holding port {client_port}", lambda: "")
    assert held["by"] is not None
    return held["by"]


def other_workers_connection(
    workers: list[int], port: int, not_this: int
) -> http.client.HTTPConnection:
    """A connection accepted by another worker than `not_this` (each accept is a race)."""
    for _ in range(200):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        connection.connect()
        assert connection.sock is not None
        if owner(workers, port, connection.sock.getsockname()[1]) != not_this:
            return connection
        connection.close()
    raise AssertionError("every connection went to the same worker")
