"""The vnpy WebTrader dialect's REST routes on real servers: vnpy's objects field by field,
both enum languages, the envelope on and off, exchange codes, roles, rate limits, audit and
errors (401/403/404/409/422/429/503 with a JSON `detail`, never a 500)."""

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.api.auth_support import PASSWORD, add_user, create_key
from tests.compat.vnpy_support import (
    ACCOUNT_FIELDS,
    CONTRACT_FIELDS,
    COPPER,
    DATETIME,
    OPTION_FIELDS,
    ORDER_FIELDS,
    POSITION_FIELDS,
    TICK_FIELDS,
    TRADE_FIELDS,
    WebTrader,
    reset_paper,
    set_market,
    signed_with_test,
    trader_login,
    vnpy_config,
    vnpy_server,
)
from tests.conftest import ADMIN_PASSWORD, Server
from tests.e2e.lifecycle_support import start_alone

from tradebridge.api.compat.vnpy.lean import LEAN_ROUTES as VNPY_LEAN_ROUTES

MOUTAI = "600519.SH"
MOUTAI_MARKET = {
    "last": "1500.00",
    "bid": "1499.99",
    "ask": "1500.01",
    "bid_size": 100000,
    "ask_size": 100000,
}
BUY_MOUTAI = {
    "symbol": "600519",
    "exchange": "SSE",
    "direction": "Long",
    "type": "Limit",
    "volume": 100.0,
    "price": 1500.01,
    "offset": "Open",
    "reference": "WebTrader",
}
"""In English on purpose: requests take either language, whatever the responses use."""
OPEN_COPPER = {
    "symbol": "cu2601",
    "exchange": "SHFE",
    "direction": "多",
    "type": "限价",
    "volume": 1,
    "price": 86010.0,
    "offset": "开",
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with vnpy_server(tmp_path_factory.mktemp("vnpy-rest")) as running:
        yield running


@pytest.fixture(scope="module")
def admin(server: Server) -> str:
    return server.login()


@pytest.fixture
def trader(server: Server, admin: str) -> WebTrader:
    reset_paper(server, admin)
    set_market(server, admin, MOUTAI, **MOUTAI_MARKET)
    set_market(server, admin, COPPER, last="86000", bid="85990", ask="86010")
    return trader_login(server)


def post_order(trader: WebTrader, body: Any) -> httpx.Response:
    return httpx.post(f"{trader.base_url}/order", json=body, headers=trader.headers)


def refusal(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The body of a refusal: FastAPI's `detail` beside our `error`."""
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["error"]["code"] == code
    assert body["detail"]
    return body


# --------------------------------------------------------------------------- login


def test_token_is_a_bare_oauth2_answer_and_works_everywhere(server: Server) -> None:
    name = add_user(server, "trader")
    response = httpx.post(f"{server.base_url}/token", data={"username": name, "password": PASSWORD})
    assert response.status_code == 200
    assert set(response.json()) == {"access_token", "token_type"}
    assert response.json()["token_type"] == "bearer"
    token = response.json()["access_token"]
    with server.client(token) as client:
        assert client.get("/api/v1/accounts").status_code == 200


def test_wrong_password_and_bad_forms(server: Server) -> None:
    url = f"{server.base_url}/token"
    wrong = httpx.post(url, data={"username": "admin", "password": "not-it"})
    refusal(wrong, 401, "unauthorized")
    assert wrong.headers["WWW-Authenticate"] == "Bearer"
    as_json = httpx.post(url, json={"username": "admin", "password": ADMIN_PASSWORD})
    body = refusal(as_json, 422, "validation_error")
    assert {tuple(e["loc"]) for e in body["detail"]} == {("body", "username"), ("body", "password")}


def test_logins_are_throttled_and_audited(tmp_path: Path) -> None:
    with vnpy_server(tmp_path) as server:
        name = add_user(server, "trader")
        url = f"{server.base_url}/token"
        answers = [httpx.post(url, data={"username": name, "password": "wrong"}) for _ in range(11)]
        assert [a.status_code for a in answers] == [401] * 10 + [429]
        refusal(answers[-1], 429, "rate_limited")
        assert int(answers[-1].headers["Retry-After"]) > 0
        right = httpx.post(url, data={"username": name, "password": PASSWORD})
        refusal(right, 429, "rate_limited")  # the right password too, while throttled
        with server.client(server.login()) as api:
            rows = api.get("/api/v1/audit", params={"path": "/token"}).json()
    assert {(r["actor"], r["action"], r["status"]) for r in rows} == {
        (name, "login", 401),
        (name, "login", 429),
    }


# --------------------------------------------------------------------------- objects


def test_stock_order_objects_in_chinese(trader: WebTrader) -> None:
    vt_orderid = trader.send_order(BUY_MOUTAI)
    orderid = vt_orderid.removeprefix("PAPER.")
    (order,) = [o for o in trader.get("/order") if o["vt_orderid"] == vt_orderid]
    assert set(order) == ORDER_FIELDS
    assert order == {
        "symbol": "600519",
        "exchange": "SSE",
        "orderid": orderid,
        "type": "限价",
        "direction": "多",
        "offset": "",
        "price": 1500.01,
        "volume": 100.0,
        "traded": 100.0,
        "status": "全部成交",
        "datetime": order["datetime"],
        "reference": "",
        "gateway_name": "PAPER",
        "vt_symbol": "600519.SSE",
        "vt_orderid": vt_orderid,
    }
    assert re.fullmatch(DATETIME, order["datetime"])

    (trade,) = [t for t in trader.get("/trade") if t["orderid"] == orderid]
    assert set(trade) == TRADE_FIELDS
    assert (trade["direction"], trade["offset"], trade["price"]) == ("多", "", 1500.01)
    assert trade["vt_tradeid"] == f"PAPER.{trade['tradeid']}"
    assert re.fullmatch(DATETIME, trade["datetime"])

    (position,) = [p for p in trader.get("/position") if p["vt_symbol"] == "600519.SSE"]
    assert set(position) == POSITION_FIELDS
    v1 = httpx.get(f"{trader.base_url}/api/v1/accounts/paper/positions", headers=trader.headers)
    (same,) = [p for p in v1.json() if p["symbol"] == MOUTAI]
    assert position == {
        "symbol": "600519",
        "exchange": "SSE",
        "direction": "净",
        "volume": 100.0,
        "frozen": 100.0,  # bought today: T+1
        "price": same["avg_cost"],  # fees included, as /api/v1 shows it
        "pnl": same["unrealized_pnl"],
        "yd_volume": 0.0,
        "gateway_name": "PAPER",
        "vt_symbol": "600519.SSE",
        "vt_positionid": "PAPER.600519.SSE.净",
    }

    (account,) = trader.get("/account")
    assert set(account) == ACCOUNT_FIELDS
    assert (account["accountid"], account["vt_accountid"]) == ("paper", "PAPER.paper")
    assert account["available"] < 1_000_000 - 150_000


def test_futures_objects_carry_offsets(trader: WebTrader) -> None:
    opened = trader.send_order(OPEN_COPPER).removeprefix("PAPER.")
    close = {**OPEN_COPPER, "direction": "Short", "price": 85990.0, "offset": "Close Today"}
    closed = trader.send_order(close).removeprefix("PAPER.")
    orders = {o["orderid"]: o for o in trader.get("/order")}
    assert (orders[opened]["offset"], orders[closed]["offset"]) == ("开", "平今")
    assert orders[closed]["direction"] == "空"
    trades = {t["orderid"]: t for t in trader.get("/trade")}
    assert (trades[opened]["offset"], trades[closed]["offset"]) == ("开", "平今")
    assert (trades[opened]["exchange"], trades[opened]["vt_symbol"]) == ("SHFE", COPPER)


def test_contracts(trader: WebTrader) -> None:
    contracts = {c["vt_symbol"]: c for c in trader.get("/contract")}
    for contract in contracts.values():
        assert set(contract) == CONTRACT_FIELDS | OPTION_FIELDS
        assert all(contract[field] is None for field in OPTION_FIELDS)
        assert contract["gateway_name"] == "PAPER"
    copper = contracts[COPPER]
    assert (copper["name"], copper["product"], copper["size"], copper["pricetick"]) == (
        "沪铜2601",
        "期货",
        5.0,
        10.0,
    )
    assert (copper["net_position"], copper["stop_supported"]) == (False, False)
    moutai = contracts["600519.SSE"]
    assert (moutai["product"], moutai["min_volume"], moutai["net_position"]) == ("股票", 100, True)
    assert moutai["max_volume"] == 1_000_000
    assert contracts["688981.SSE"]["min_volume"] == 200  # STAR: at least 200 shares
    assert contracts["510300.SSE"]["product"] == "ETF"
    assert contracts["113025.SSE"]["product"] == contracts["128136.SZSE"]["product"] == "债券"
    assert (contracts["113025.SSE"]["min_volume"], contracts["113025.SSE"]["pricetick"]) == (
        10,
        0.001,
    )
    assert {"000001.SZSE", "430047.BSE", "00700.SEHK", "AAPL.SMART", "IF2512.CFFEX"} <= set(
        contracts
    )


def test_exchange_codes_in_and_out(trader: WebTrader) -> None:
    for vt_symbol in ("AAPL.NASDAQ", "TSLA.NYSE", "MSFT.SMART", "00700.SEHK", "000001.SZSE"):
        assert trader.subscribe(vt_symbol) is None
    ticks = {t["vt_symbol"]: t for t in trader.get("/tick")}
    assert {"AAPL.SMART", "TSLA.SMART", "MSFT.SMART", "00700.SEHK", "000001.SZSE"} <= set(ticks)
    assert all(set(t) == TICK_FIELDS for t in ticks.values())
    assert ticks["00700.SEHK"]["name"] == "TENCENT"
    buy = {**BUY_MOUTAI, "symbol": "AAPL", "exchange": "nasdaq", "volume": 1, "price": 500.0}
    vt_orderid = trader.send_order(buy)
    (order,) = [o for o in trader.get("/order") if o["vt_orderid"] == vt_orderid]
    shown = (order["symbol"], order["exchange"], order["vt_symbol"])
    assert shown == ("AAPL", "SMART", "AAPL.SMART")


def test_order_types(trader: WebTrader) -> None:
    kinds = {}
    for vn_type in ("市价", "FAK", "FOK", "Market"):
        vt_orderid = trader.send_order({**BUY_MOUTAI, "type": vn_type, "price": 1500.01})
        kinds[vt_orderid] = vn_type
    shown = {o["vt_orderid"]: o["type"] for o in trader.get("/order") if o["vt_orderid"] in kinds}
    assert shown == {vt: {"Market": "市价"}.get(t, t) for vt, t in kinds.items()}


def test_english_without_envelope(tmp_path: Path) -> None:
    with vnpy_server(tmp_path, language="en", envelope=False) as server:
        admin = server.login()
        set_market(server, admin, COPPER, last="86000", bid="85990", ask="86010")
        trader = trader_login(server, envelope=False)
        response = post_order(trader, {**OPEN_COPPER, "direction": "Long", "offset": "Open"})
        assert response.status_code == 200
        vt_orderid = response.json()  # a bare JSON string, as vnpy_webtrader 1.1 answers
        assert re.fullmatch(r"PAPER\.[0-9A-Z]{26}", vt_orderid)
        (order,) = [o for o in trader.get("/order") if o["vt_orderid"] == vt_orderid]
        assert (order["direction"], order["offset"], order["type"], order["status"]) == (
            "Long",
            "Open",
            "Limit",
            "All Traded",
        )
        (position,) = trader.get("/position")
        assert (position["direction"], position["vt_positionid"]) == (
            "Long",
            "PAPER.cu2601.SHFE.Long",
        )
        assert {c["vt_symbol"]: c["product"] for c in trader.get("/contract")}[
            "600519.SSE"
        ] == "Stock"
        assert trader.subscribe(COPPER) is None
        assert [t["vt_symbol"] for t in trader.get("/tick")] == [COPPER]
        assert isinstance(trader.get("/account"), list)
        resting = trader.send_order({**OPEN_COPPER, "price": 85000.0})  # Chinese values too
        assert trader.cancel(resting) is None
        statuses = {o["vt_orderid"]: o["status"] for o in trader.get("/order")}
        assert statuses[resting] == "Cancelled"


# --------------------------------------------------------------------------- refusals


def test_missing_and_forged_tokens_are_401(server: Server, trader: WebTrader) -> None:
    assert trader.token is not None
    for path in ("/order", "/account", "/tick", "/contract"):
        refusal(httpx.get(f"{server.base_url}{path}"), 401, "unauthorized")
    for forged in signed_with_test(trader.token):
        response = httpx.get(
            f"{server.base_url}/account", headers={"Authorization": f"Bearer {forged}"}
        )
        refusal(response, 401, "unauthorized")
        assert response.headers["WWW-Authenticate"] == "Bearer"
    query_token = httpx.get(f"{server.base_url}/account", params={"token": trader.token})
    refusal(query_token, 401, "unauthorized")


def test_roles_and_keys(server: Server, admin: str) -> None:
    viewer = WebTrader(server.base_url)
    assert viewer.login(add_user(server, "viewer"), PASSWORD)
    assert isinstance(viewer.get("/order"), list)
    refusal(post_order(viewer, BUY_MOUTAI), 403, "forbidden")
    refused_cancel = httpx.delete(
        f"{server.base_url}/order/PAPER.01NOSUCHORDER0000000000000", headers=viewer.headers
    )
    refusal(refused_cancel, 403, "forbidden")
    key = create_key(server, admin, scopes=["read", "trade"], account="paper")["key"]
    by_key = httpx.get(f"{server.base_url}/account", headers={"X-API-Key": key})
    assert by_key.status_code == 200


def test_unknown_orders_and_contracts_are_404(trader: WebTrader) -> None:
    for vt_orderid in ("PAPER.01NOSUCHORDER0000000000000", "CTP.12345", "no-gateway"):
        response = httpx.delete(f"{trader.base_url}/order/{vt_orderid}", headers=trader.headers)
        refusal(response, 404, "not_found")
    for vt_symbol in ("zz2601.SHFE", "600519.XSHG", "600519"):
        response = httpx.post(f"{trader.base_url}/tick/{vt_symbol}", headers=trader.headers)
        refusal(response, 404, "not_found")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"direction": "Up"}, "direction"),
        ({"direction": "净"}, None),
        ({"type": "STOP"}, None),
        ({"type": "询价"}, None),
        ({"offset": "开仓"}, "offset"),
        ({"exchange": "XSHG"}, "exchange"),
        ({"volume": 1.5}, "volume"),
        ({"volume": 0}, "volume"),
        ({"volume": "1"}, "volume"),
        ({"price": -1.0}, "price"),
        ({"price": 0}, None),
        ({"offset": ""}, None),
        ({"symbol": "cu26"}, None),
    ],
)
def test_malformed_orders_are_422(
    trader: WebTrader, change: dict[str, Any], field: str | None
) -> None:
    body = refusal(post_order(trader, {**OPEN_COPPER, **change}), 422, "validation_error")
    (error,) = body["detail"]
    assert error["loc"] == (["body", field] if field else ["body"])
    assert error["msg"]


def test_missing_fields_and_bad_json_are_422(trader: WebTrader) -> None:
    missing = {k: v for k, v in OPEN_COPPER.items() if k not in ("type", "volume")}
    body = refusal(post_order(trader, missing), 422, "validation_error")
    assert {tuple(e["loc"]) for e in body["detail"]} == {("body", "type"), ("body", "volume")}
    not_json = httpx.post(
        f"{trader.base_url}/order",
        content=b"{not json",
        headers={**trader.headers, "Content-Type": "application/json"},
    )
    refusal(not_json, 422, "validation_error")


def test_whole_float_volume_is_accepted(trader: WebTrader) -> None:
    vt_orderid = trader.send_order({**OPEN_COPPER, "volume": 2.0})
    (order,) = [o for o in trader.get("/order") if o["vt_orderid"] == vt_orderid]
    assert order["volume"] == 2.0


def test_refused_orders_answer_their_id_and_show_rejected(trader: WebTrader) -> None:
    """As vnpy's send_order: the id comes back, the refusal is the order's status."""
    off_tick = post_order(trader, {**OPEN_COPPER, "price": 86005.0})
    assert off_tick.status_code == 200, off_tick.text
    assert off_tick.headers["X-Reject-Reason"] == "invalid_tick_size"
    vt_orderid = off_tick.json()["data"]
    statuses = {o["vt_orderid"]: o["status"] for o in trader.get("/order")}
    assert statuses[vt_orderid] == "拒单"


def test_the_documents_order_example_runs_as_written(trader: WebTrader) -> None:
    """Document 000's order, verbatim: its 2021 contract is not traded here, so the order is
    recorded as refused, and the example still gets its `vt_orderid`."""
    order_req = {
        "symbol": "cu2112",
        "exchange": "SHFE",
        "direction": "多",
        "type": "限价",
        "volume": 1,
        "price": 71030.0,
        "offset": "开",
        "reference": "WebTrader",
    }
    r = httpx.post(f"{trader.base_url}/order", json=order_req, headers=trader.headers)
    vt_orderid = r.json()["data"]
    (order,) = [o for o in trader.get("/order") if o["vt_orderid"] == vt_orderid]
    assert (order["symbol"], order["exchange"], order["status"]) == ("cu2112", "SHFE", "拒单")


def test_cancelling_a_filled_order_is_409(trader: WebTrader) -> None:
    vt_orderid = trader.send_order(OPEN_COPPER)
    response = httpx.delete(f"{trader.base_url}/order/{vt_orderid}", headers=trader.headers)
    refusal(response, 409, "not_cancelable")


def test_orders_count_on_the_account_rate_limit(tmp_path: Path) -> None:
    limits = '[rate_limits]\napi = "1000/second"\norders = "2/minute"\n'
    with vnpy_server(tmp_path, extra=limits) as server:
        admin = server.login()
        set_market(server, admin, COPPER, last="86000", bid="85990", ask="86010")
        trader = trader_login(server)
        answers = [post_order(trader, {**OPEN_COPPER, "price": 85000.0}) for _ in range(3)]
        assert [a.status_code for a in answers] == [200, 200, 429]
        # Refused by the rate limiter before any route: our error alone, no `detail`.
        error = answers[-1].json()["error"]
        assert (error["code"], error["details"]["scope"]) == ("rate_limited", "account")
        assert int(answers[-1].headers["Retry-After"]) > 0
        read = httpx.get(f"{server.base_url}/order", headers=trader.headers)
        assert read.headers["RateLimit-Policy"] == "1000;w=1"
        assert len(read.json()["data"]) == 2  # the refused order never reached the engine


def test_engine_down_is_503(tmp_path: Path) -> None:
    web = start_alone("web", vnpy_config(tmp_path))
    base_url = f"http://127.0.0.1:{_port(tmp_path)}"
    try:
        trader = WebTrader(base_url)
        deadline = time.monotonic() + 60
        while not _logged_in(trader):
            assert time.monotonic() < deadline, web.output()
            time.sleep(0.2)
        response = httpx.get(f"{base_url}/account", headers=trader.headers, timeout=30)
        refusal(response, 503, "engine_unavailable")
        refusal(post_order(trader, OPEN_COPPER), 503, "engine_unavailable")
    finally:
        assert web.terminate() == 0


def _port(directory: Path) -> int:
    import tomllib

    return int(tomllib.loads((directory / "tradebridge.toml").read_text())["server"]["port"])


def _logged_in(trader: WebTrader) -> bool:
    try:
        return trader.login("admin", ADMIN_PASSWORD)
    except httpx.TransportError:
        return False


def test_the_guides_health_check_runs_as_written(server: Server) -> None:
    response = httpx.get(f"{server.base_url}/health", timeout=5)
    assert response.status_code == 200
    assert response.json()["status"] in ("ok", "degraded")


def test_a_body_refused_before_its_route_runs_is_in_vnpys_shape(trader: WebTrader) -> None:
    body = '{"symbol": "600519", "exchange": "SSE", "volume": 1180591620717411303424}'
    r = httpx.post(
        f"{trader.base_url}/order",
        content=body,
        headers={**trader.headers, "Content-Type": "application/json"},
    )
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "validation_error"
    assert r.json()["detail"] == r.json()["error"]["message"]


def test_the_lean_order_route_answers_as_its_fastapi_route(
    server: Server, trader: WebTrader
) -> None:
    """`POST /order` is answered by `api.lean` on its happy path; a query string sends it to
    the FastAPI route, which must answer the same way (refusals included)."""
    document = httpx.get(f"{server.base_url}/openapi.json").json()
    for lean in VNPY_LEAN_ROUTES:
        assert lean.method.lower() in document["paths"][lean.template]
    answers, placed_ids = {}, {}
    for path in ("/order", "/order?via=fastapi"):
        placed = httpx.post(f"{trader.base_url}{path}", json=OPEN_COPPER, headers=trader.headers)
        refused = httpx.post(
            f"{trader.base_url}{path}",
            json={**OPEN_COPPER, "price": 86005.0},
            headers=trader.headers,
        )
        answers[path] = [
            (r.status_code, r.headers["content-type"], r.headers.get("X-Reject-Reason"))
            for r in (placed, refused)
        ]
        placed_ids[path] = (trader.result(placed), trader.result(refused))
    assert answers["/order"] == answers["/order?via=fastapi"]
    assert answers["/order"][1][2] == "invalid_tick_size"
    statuses = {o["vt_orderid"]: o["status"] for o in trader.get("/order")}
    for filled, rejected in placed_ids.values():
        assert (statuses[filled], statuses[rejected]) == ("全部成交", "拒单")
