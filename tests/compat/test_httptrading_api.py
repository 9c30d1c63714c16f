"""The httptrading dialect: requests shaped as in document 002 get its envelope and objects;
failures are never HTTP 200 and carry `ex`."""

import time
import tomllib
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.api.auth_support import create_key
from tests.conftest import Server, start_server, write_config
from tests.e2e.lifecycle_support import start_alone

from tradebridge.api.compat.httptrading.contracts import Region, symbol_of
from tradebridge.config import ConfigError, load_settings
from tradebridge.domain.errors import ValidationFailed

INSTANCE = "WyLqtMhDvAnBb6a3"  # document 002's example instance and token
TOKEN = "Vt5UCW2sLBvgPXjR"
OTHER_INSTANCE = "OtherInstance0000001"
OTHER_TOKEN = "other-instance-token-0001"

ENVELOPE = ["type", "instanceId", "broker", "brokerDisplay", "time", "ex"]
CONTRACT = ["type", "tradeType", "region", "ticker", "symbol"]
QUOTE = [
    "type",
    "contract",
    "currency",
    "isTradable",
    "latest",
    "preClose",
    "highPrice",
    "lowPrice",
    "openPrice",
    "timestamp",
]
MARKET_STATUS = ["type", "region", "originStatus", "unifiedStatus"]
CASH = ["type", "currency", "amount"]
POSITION = ["type", "broker", "brokerDisplay", "contract", "unit", "currency", "qty"]
ORDER = [
    "type",
    "orderId",
    "currency",
    "qty",
    "filledQty",
    "avgPrice",
    "errorReason",
    "isCanceled",
    "isFilled",
    "isCompleted",
    "isCancelable",
]
ERROR = ["code", "message", "details"]

PLACE_EXAMPLE = {
    "tradeType": "Securities",
    "ticker": "AAPL",
    "region": "US",
    "price": 200.00,
    "qty": 12,
    "orderType": "Limit",
    "timeInForce": "DAY",
    "lifecycle": "ETH",
    "direction": "BUY",
}
"""The order of document 002, as it writes it."""

OTHER_ACCOUNT = f"""
[[accounts]]
id = "other"
httptrading_instance_id = "{OTHER_INSTANCE}"
httptrading_tokens = ["{OTHER_TOKEN}"]

[accounts.paper]
market = "manual"
"""


def with_instance(config: Path) -> Path:
    """Give the account `paper` of a `write_config` file the instance and token above."""
    text = config.read_text()
    paper = '[[accounts]]\nid = "paper"\n'
    assert paper in text
    keys = f'httptrading_instance_id = "{INSTANCE}"\nhttptrading_tokens = ["{TOKEN}"]\n'
    config.write_text(text.replace(paper, paper + keys))
    return config


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = start_server(
        with_instance(write_config(tmp_path_factory.mktemp("ht"), OTHER_ACCOUNT))
    )
    yield running
    assert running.stop() == 0


@pytest.fixture(scope="module")
def admin(server: Server) -> Iterator[httpx.Client]:
    with server.client(server.login()) as client:
        yield client


@pytest.fixture
def ht(server: Server) -> Iterator[httpx.Client]:
    """A client of the instance, as document 002's clients are: the token in `HT-TOKEN`."""
    with instance_client(server, {"HT-TOKEN": TOKEN}) as client:
        yield client


def instance_client(
    server: Server, headers: dict[str, str], instance: str = INSTANCE
) -> httpx.Client:
    return httpx.Client(
        base_url=f"{server.base_url}/httptrading/api/{instance}", headers=headers, timeout=10
    )


def set_quote(admin: httpx.Client, symbol: str, last: str, **fields: Any) -> None:
    body = {"symbol": symbol, "last": last, **fields}
    admin.post("/api/v1/paper/paper/quotes", json=body).raise_for_status()


def ok(response: httpx.Response, *fields: str) -> dict[str, Any]:
    """The body of a 200 answer: the envelope of the paper instance and exactly `fields`."""
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert list(body) == ENVELOPE + list(fields)
    assert body["type"] == "apiResponse"
    assert body["instanceId"] == INSTANCE
    assert body["broker"] == "paper"
    assert body["brokerDisplay"] == "tradebridge paper"
    assert datetime.fromisoformat(body["time"]).utcoffset() is not None
    assert body["ex"] is None
    return body


def failed(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The body of a failure: the envelope with the message in `ex`, and the error."""
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert list(body) == [*ENVELOPE, "error"]
    assert body["type"] == "apiResponse"
    assert list(body["error"]) == ERROR
    assert body["error"]["code"] == code
    assert isinstance(body["ex"], str)
    assert body["ex"]
    assert body["ex"] == body["error"]["message"]
    return body


# --------------------------------------------------------------------------- reads


def test_ping(ht: httpx.Client) -> None:
    assert ok(ht.get("/ping/state"), "pong")["pong"] is True


def test_quote_as_in_the_document(ht: httpx.Client, admin: httpx.Client) -> None:
    set_quote(admin, "000001.SZ", "11.53", pre_close="11.49", bid="11.52", ask="11.53")
    params = {"tradeType": "Securities", "region": "CN", "ticker": "000001"}
    quote = ok(ht.get("/market/quote", params=params), "quote")["quote"]
    assert list(quote) == QUOTE
    assert quote["type"] == "quote"
    assert quote["contract"] == {
        "type": "contract",
        "tradeType": "Securities",
        "region": "CN",
        "ticker": "000001",
        "symbol": "000001",
    }
    assert list(quote["contract"]) == CONTRACT
    assert quote["currency"] == "CNY"
    assert quote["isTradable"] is True  # the paper market is always open here
    assert Decimal(str(quote["latest"])) == Decimal("11.53")
    assert Decimal(str(quote["preClose"])) == Decimal("11.49")
    assert quote["lowPrice"] <= quote["latest"] <= quote["highPrice"]
    assert quote["lowPrice"] <= quote["openPrice"] <= quote["highPrice"]
    assert isinstance(quote["timestamp"], int)
    assert abs(quote["timestamp"] / 1000 - time.time()) < 24 * 3600


@pytest.mark.parametrize(
    ("params", "region", "ticker", "currency"),
    [
        ({"region": "CN", "symbol": "600519"}, "CN", "600519", "CNY"),
        ({"region": "CN", "ticker": "430047"}, "CN", "430047", "CNY"),
        ({"region": "CN", "ticker": "159915.SZ"}, "CN", "159915", "CNY"),
        ({"region": "HK", "ticker": "700"}, "HK", "00700", "HKD"),
        ({"region": "HK", "ticker": "00700", "symbol": "00700"}, "HK", "00700", "HKD"),
        ({"region": "US", "ticker": "qqq"}, "US", "QQQ", "USD"),
    ],
)
def test_quote_contracts(
    ht: httpx.Client, params: dict[str, str], region: str, ticker: str, currency: str
) -> None:
    quote = ok(ht.get("/market/quote", params=params), "quote")["quote"]
    assert quote["contract"]["region"] == region
    assert quote["contract"]["ticker"] == ticker
    assert quote["currency"] == currency


def test_market_state(ht: httpx.Client) -> None:
    status = ok(ht.get("/market/state"), "marketStatus")["marketStatus"]
    assert list(status) == ["type", "securities"]
    assert status["type"] == "marketStatusMap"
    assert sorted(status["securities"]) == ["CN", "HK", "US"]
    for region, state in status["securities"].items():
        assert list(state) == MARKET_STATUS
        assert state["type"] == "marketStatus"
        assert state["region"] == region
        assert state["originStatus"] == "always_open"
        assert state["unifiedStatus"] == "RTH"


# --------------------------------------------------------------------------- orders


def test_place_state_cancel_as_in_the_document(ht: httpx.Client, admin: httpx.Client) -> None:
    set_quote(admin, "AAPL.US", "230.00", bid="229.99", ask="230.01")
    placed = ok(ht.post("/order/place", json=PLACE_EXAMPLE), "orderId", "args")
    assert placed["args"] == PLACE_EXAMPLE
    order_id = placed["orderId"]

    order = ok(ht.get("/order/state", params={"orderId": order_id}), "order")["order"]
    assert list(order) == ORDER
    assert order == {
        "type": "order",
        "orderId": order_id,
        "currency": "USD",
        "qty": 12,
        "filledQty": 0,
        "avgPrice": 0,
        "errorReason": "",
        "isCanceled": False,
        "isFilled": False,
        "isCompleted": False,
        "isCancelable": True,
    }
    # The same order of record as on /api/v1.
    same = admin.get(f"/api/v1/accounts/paper/orders/{order_id}").json()
    assert (same["symbol"], same["side"], same["qty"]) == ("AAPL.US", "buy", 12)
    assert (same["type"], Decimal(str(same["limit_price"])), same["status"]) == (
        "limit",
        Decimal(200),
        "new",
    )

    canceled = ok(ht.post("/order/cancel", json={"orderId": order_id}), "canceled", "order")
    assert canceled["canceled"] is True
    assert canceled["order"]["orderId"] == order_id
    order = ok(ht.get("/order/state", params={"orderId": order_id}), "order")["order"]
    assert (order["isCanceled"], order["isCompleted"], order["isCancelable"]) == (
        True,
        True,
        False,
    )
    assert order["isFilled"] is False


def test_a_fill_shows_in_order_cash_and_positions(ht: httpx.Client, admin: httpx.Client) -> None:
    set_quote(admin, "600519.SH", "1500.00", bid="1499.99", ask="1500.00", ask_size=10000)
    cash_before = ok(ht.get("/cash/state"), "cash")["cash"]
    assert list(cash_before) == CASH
    assert (cash_before["type"], cash_before["currency"]) == ("cash", "CNY")
    held_before = held(ht, "CN", "600519")

    body = {
        "tradeType": "Securities",
        "region": "CN",
        "ticker": "600519",
        "qty": 100,
        "orderType": "Market",
        "timeInForce": "DAY",
        "lifecycle": "RTH",
        "direction": "BUY",
    }
    order_id = ok(ht.post("/order/place", json=body), "orderId", "args")["orderId"]
    order = ok(ht.get("/order/state", params={"orderId": order_id}), "order")["order"]
    assert (order["filledQty"], Decimal(str(order["avgPrice"]))) == (100, Decimal(1500))
    assert (order["isFilled"], order["isCompleted"], order["isCanceled"]) == (True, True, False)
    assert (order["errorReason"], order["currency"]) == ("", "CNY")

    cash_after = ok(ht.get("/cash/state"), "cash")["cash"]
    spent = Decimal(str(cash_before["amount"])) - Decimal(str(cash_after["amount"]))
    assert Decimal(150000) < spent < Decimal(150100)  # the price and its fees
    assert held(ht, "CN", "600519") == held_before + 100

    positions = ok(ht.get("/position/state"), "positions")["positions"]
    position = next(p for p in positions if p["contract"]["ticker"] == "600519")
    assert list(position) == POSITION
    assert position["type"] == "position"
    assert (position["broker"], position["brokerDisplay"]) == ("paper", "tradebridge paper")
    assert list(position["contract"]) == CONTRACT
    assert (position["unit"], position["currency"]) == ("Share", "CNY")


def held(ht: httpx.Client, region: str, ticker: str) -> int:
    positions = ok(ht.get("/position/state"), "positions")["positions"]
    return sum(
        p["qty"]
        for p in positions
        if (p["contract"]["region"], p["contract"]["ticker"]) == (region, ticker)
    )


def test_cash_in_another_currency(ht: httpx.Client) -> None:
    cash = ok(ht.get("/cash/state", params={"currency": "USD"}), "cash")["cash"]
    assert cash["currency"] == "USD"
    assert cash["amount"] > 0
    failed(ht.get("/cash/state", params={"currency": "EUR"}), 404, "not_found")


def test_a_refused_order_is_422_and_recorded(ht: httpx.Client, admin: httpx.Client) -> None:
    set_quote(admin, "601318.SH", "52.00", bid="51.99", ask="52.00")
    body = {**PLACE_EXAMPLE, "region": "CN", "ticker": "601318", "price": 52.0, "qty": 100}
    refused = failed(
        ht.post("/order/place", json={**body, "direction": "SELL"}), 422, "order_rejected"
    )
    assert refused["instanceId"] == INSTANCE
    assert refused["error"]["details"]["reason"] == "insufficient_position"
    order_id = refused["error"]["details"]["order_id"]
    order = ok(ht.get("/order/state", params={"orderId": order_id}), "order")["order"]
    assert order["errorReason"]
    assert (order["isCompleted"], order["isFilled"], order["isCanceled"]) == (True, False, False)

    audit = admin.get("/api/v1/audit", params={"path": "/httptrading/", "result": "order_rejected"})
    rows = [r for r in audit.json() if r["target"] == order_id]
    assert [(r["actor"], r["auth"], r["status"]) for r in rows] == [
        ("httptrading:paper", "api_key", 422)
    ]


# --------------------------------------------------------------------------- failures


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"qty": 12.0}, "qty"),
        ({"qty": "12"}, "qty"),
        ({"qty": 0}, "qty"),
        ({"region": "JP"}, "region"),
        ({"orderType": "Stop"}, "orderType"),
        ({"timeInForce": "IOC"}, "timeInForce"),
        ({"lifecycle": "ALL"}, "lifecycle"),
        ({"direction": "buy"}, "direction"),
        ({"tradeType": "Cryptocurrencies"}, "tradeType"),
        ({"price": None}, "body"),
        ({"ticker": "AAPL", "symbol": "MSFT"}, "ticker"),
        ({"region": "CN", "ticker": "12345"}, "ticker"),
        ({"region": "CN", "ticker": "700001"}, "ticker"),
        ({"region": "HK", "ticker": "123456"}, "ticker"),
        ({"limitPrice": 200}, "limitPrice"),
    ],
)
def test_invalid_orders_are_422_and_not_placed(
    ht: httpx.Client, admin: httpx.Client, change: dict[str, Any], field: str
) -> None:
    before = admin.get("/api/v1/accounts/paper/orders", params={"limit": 1000}).json()
    body = failed(
        ht.post("/order/place", json={**PLACE_EXAMPLE, **change}), 422, "validation_error"
    )
    fields = [e["field"] for e in body["error"]["details"].get("errors", [])]
    assert field in fields or body["error"]["details"].get("field") == field
    after = admin.get("/api/v1/accounts/paper/orders", params={"limit": 1000}).json()
    assert len(after) == len(before)


def test_a_wrong_token_is_401(server: Server) -> None:
    with instance_client(server, {"HT-TOKEN": "Vt5UCW2sLBvgPXjX"}) as client:
        body = failed(client.get("/cash/state"), 401, "unauthorized")
    assert body["instanceId"] == INSTANCE


def test_a_missing_token_is_401(server: Server) -> None:
    with instance_client(server, {}) as client:
        failed(client.post("/order/place", json=PLACE_EXAMPLE), 401, "unauthorized")


def test_a_token_opens_its_own_instance_only(server: Server) -> None:
    with instance_client(server, {"HT-TOKEN": OTHER_TOKEN}) as client:
        failed(client.get("/position/state"), 401, "unauthorized")
    with instance_client(server, {"HT-TOKEN": TOKEN}, OTHER_INSTANCE) as client:
        failed(client.get("/position/state"), 401, "unauthorized")
    with instance_client(server, {"HT-TOKEN": OTHER_TOKEN}, OTHER_INSTANCE) as client:
        assert ok_other(client.get("/position/state"))["positions"] == []


def ok_other(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body["instanceId"] == OTHER_INSTANCE
    return body


def test_an_unknown_instance_is_404(server: Server) -> None:
    with instance_client(server, {"HT-TOKEN": TOKEN}, "NoSuchInstance00000") as client:
        body = failed(client.get("/ping/state"), 404, "not_found")
    assert (body["instanceId"], body["broker"], body["brokerDisplay"]) == (None, None, None)


@pytest.mark.parametrize(
    ("method", "path", "request_args", "status", "code"),
    [
        (
            "GET",
            "/order/state",
            {"params": {"orderId": "01NOSUCHORDER0000000000000"}},
            404,
            "not_found",
        ),
        ("GET", "/order/state", {}, 422, "validation_error"),
        (
            "POST",
            "/order/cancel",
            {"json": {"orderId": "01NOSUCHORDER0000000000000"}},
            404,
            "not_found",
        ),
        ("POST", "/order/cancel", {"json": {}}, 422, "validation_error"),
        (
            "POST",
            "/order/place",
            {"content": b"{not json", "headers": {"Content-Type": "application/json"}},
            400,
            "bad_request",
        ),
        (
            "POST",
            "/order/place",
            {"content": b"qty=12", "headers": {"Content-Type": "text/plain"}},
            400,
            "bad_request",
        ),
        (
            "GET",
            "/market/quote",
            {"params": {"region": "US", "ticker": "NOSUCH"}},
            404,
            "not_found",
        ),
        ("GET", "/market/quote", {"params": {"region": "US"}}, 422, "validation_error"),
        ("GET", "/market/quote", {"params": {"ticker": "AAPL"}}, 422, "validation_error"),
    ],
)
def test_failures_are_never_200_and_carry_ex(
    ht: httpx.Client,
    method: str,
    path: str,
    request_args: dict[str, Any],
    status: int,
    code: str,
) -> None:
    body = failed(ht.request(method, path, **request_args), status, code)
    assert body["instanceId"] == INSTANCE


def test_a_canceled_order_cannot_be_canceled_again(ht: httpx.Client, admin: httpx.Client) -> None:
    set_quote(admin, "MSFT.US", "420.00", bid="419.99", ask="420.01")
    body = {**PLACE_EXAMPLE, "ticker": "MSFT", "price": 400}
    order_id = ok(ht.post("/order/place", json=body), "orderId", "args")["orderId"]
    ok(ht.post("/order/cancel", json={"orderId": order_id}), "canceled", "order")
    failed(ht.post("/order/cancel", json={"orderId": order_id}), 409, "not_cancelable")


# --------------------------------------------------------------------------- other credentials


def test_tradebridge_credentials_work_by_their_scopes(server: Server, admin: httpx.Client) -> None:
    token = admin.headers["Authorization"]
    with instance_client(server, {"Authorization": token}) as client:
        assert ok(client.get("/ping/state"), "pong")["pong"] is True
    reader = create_key(server, token.split(" ", 1)[1], scopes=["read"])["key"]
    with instance_client(server, {"X-API-Key": reader}) as client:
        ok(client.get("/cash/state"), "cash")
        failed(client.post("/order/place", json=PLACE_EXAMPLE), 403, "forbidden")
    bound = create_key(server, token.split(" ", 1)[1], scopes=["read", "trade"], account="other")
    with instance_client(server, {"X-API-Key": bound["key"]}) as client:
        failed(client.get("/cash/state"), 403, "forbidden")
    with instance_client(server, {"Authorization": "Bearer not-a-token"}) as client:
        failed(client.get("/cash/state"), 401, "unauthorized")


def test_ht_token_decides_alone_when_sent(server: Server, admin: httpx.Client) -> None:
    headers = {"Authorization": admin.headers["Authorization"], "HT-TOKEN": "wrong-token-000000"}
    with instance_client(server, headers) as client:
        failed(client.get("/ping/state"), 401, "unauthorized")


# --------------------------------------------------------------------------- rate limits

ORDER_LIMIT = """
[rate_limits]
enabled = true
api = "1000/second"
orders = "2/hour"
"""


@pytest.fixture
def limited(tmp_path: Path) -> Iterator[Server]:
    running = start_server(with_instance(write_config(tmp_path, ORDER_LIMIT)))
    yield running
    assert running.stop() == 0


def test_placing_counts_on_the_account_order_limit(limited: Server) -> None:
    """Orders placed here and through /api/v1 share the account's limit."""
    order = {"symbol": "600519.SH", "side": "buy", "qty": 100, "limit_price": "1400.00"}
    with limited.client(limited.login()) as admin:
        assert admin.post("/api/v1/accounts/paper/orders", json=order).status_code == 201
    body = {**PLACE_EXAMPLE, "region": "CN", "ticker": "600519", "price": 1400, "qty": 100}
    with instance_client(limited, {"HT-TOKEN": TOKEN}) as client:
        ok(client.post("/order/place", json=body), "orderId", "args")
        refused = client.post("/order/place", json=body)
        assert refused.status_code == 429
        assert refused.json()["error"]["details"]["scope"] == "account"
        assert int(refused.headers["Retry-After"]) > 0
        ok(client.get("/cash/state"), "cash")  # reads are not orders


# --------------------------------------------------------------------------- engine down


@pytest.fixture
def web_without_engine(tmp_path: Path) -> Iterator[Server]:
    config = with_instance(write_config(tmp_path))
    web = start_alone("web", config)
    port = tomllib.loads(config.read_text())["server"]["port"]
    yield Server(
        config=config, process=web.process, base_url=f"http://127.0.0.1:{port}", log=web.log
    )
    assert web.terminate() == 0


def test_engine_down_is_503(web_without_engine: Server) -> None:
    with instance_client(web_without_engine, {"HT-TOKEN": TOKEN}) as client:
        response = until_enveloped(client, "/cash/state")
        body = failed(response, 503, "engine_unavailable")
    assert body["instanceId"] == INSTANCE


def until_enveloped(client: httpx.Client, path: str, timeout: float = 60) -> httpx.Response:
    """The first answer of `path` in the envelope: the web is up and its database open."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            response = client.get(path)
            if "ex" in response.json():
                return response
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"{path} never answered in the envelope")
        time.sleep(0.2)


# --------------------------------------------------------------------------- mapping


@pytest.mark.parametrize(
    ("region", "code", "symbol"),
    [
        (Region.CN, "600519", "600519.SH"),
        (Region.CN, "688981", "688981.SH"),
        (Region.CN, "510300", "510300.SH"),
        (Region.CN, "900901", "900901.SH"),
        (Region.CN, "000001", "000001.SZ"),
        (Region.CN, "300750", "300750.SZ"),
        (Region.CN, "159915", "159915.SZ"),
        (Region.CN, "200011", "200011.SZ"),
        (Region.CN, "127045", "127045.SZ"),
        (Region.CN, "430047", "430047.BJ"),
        (Region.CN, "830799", "830799.BJ"),
        (Region.CN, "920001", "920001.BJ"),
        (Region.CN, "113050.sh", "113050.SH"),
        (Region.HK, "700", "00700.HK"),
        (Region.HK, "09988", "09988.HK"),
        (Region.HK, "00005.HK", "00005.HK"),
        (Region.US, "aapl", "AAPL.US"),
        (Region.US, "BRK.B", "BRK.B.US"),
        (Region.US, "QQQ.US", "QQQ.US"),
    ],
)
def test_codes_map_to_symbols(region: Region, code: str, symbol: str) -> None:
    assert symbol_of(region, code) == symbol


@pytest.mark.parametrize(
    ("region", "code"),
    [
        (Region.CN, "60051"),
        (Region.CN, "7xxxxx"),
        (Region.CN, "730001"),
        (Region.CN, "600519.HK"),
        (Region.HK, "123456"),
        (Region.HK, "TENCENT"),
        (Region.US, "$$$"),
    ],
)
def test_invalid_codes_are_refused(region: Region, code: str) -> None:
    with pytest.raises(ValidationFailed):
        symbol_of(region, code)


def test_an_instance_id_may_name_one_account_only(tmp_path: Path) -> None:
    twice = f"""
[[accounts]]
id = "twin"
httptrading_instance_id = "{INSTANCE}"
"""
    with pytest.raises(ConfigError, match="httptrading_instance_id"):
        load_settings(with_instance(write_config(tmp_path, twice)))
