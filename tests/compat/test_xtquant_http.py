"""The xtquant HTTP wrapper dialect (`[compat.xtquant_http]`, document 003): its requests, as
the document writes them, get its answers (Chinese keys, holdings as one-element lists,
integer order ids, -1 on failure); unlike the original, every route needs credentials and
an order has no default parameters."""

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import requests
from tests.compat.qmt_support import (
    BOND,
    XT,
    XT_ASSET_KEYS,
    XT_HOLDING_KEYS,
    XT_ORDER_KEYS,
    XT_STATUS_NAMES,
    XT_TRADE_KEYS,
    dialects_config,
    key_of,
    set_quote,
    v1_orders,
)
from tests.conftest import Server, start_server

OTHER_ACCOUNT = """
[[accounts]]
id = "other"

[accounts.paper]
market = "manual"
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = start_server(dialects_config(tmp_path_factory.mktemp("xt"), OTHER_ACCOUNT))
    yield running
    assert running.stop() == 0


@pytest.fixture(scope="module")
def token(server: Server) -> str:
    return server.login()


@pytest.fixture(scope="module")
def trade_key(server: Server, token: str) -> str:
    return key_of(server, token, "read", "trade")


@pytest.fixture
def admin(server: Server, token: str) -> Iterator[httpx.Client]:
    """An admin client of /api/v1; the paper account starts each test as configured."""
    with server.client(token) as client:
        client.post("/api/v1/paper/paper/reset").raise_for_status()
        yield client


@pytest.fixture
def xt(server: Server, trade_key: str, admin: httpx.Client) -> Iterator[httpx.Client]:
    """A client of the dialect with a key that may trade on `paper`."""
    with httpx.Client(
        base_url=server.base_url + XT, headers={"X-API-Key": trade_key}, timeout=30
    ) as client:
        yield client


def minus_one(response: httpx.Response, field: str, reason: str, status: int = 200) -> None:
    assert response.status_code == status, response.text
    assert response.json()[field] == -1
    assert response.headers["X-Reject-Reason"] == reason


def place(xt: httpx.Client, **params: Any) -> int:
    response = xt.get("/place_order", params=params)
    assert response.status_code == 200, response.text
    order_id = response.json()["order_id"]
    assert isinstance(order_id, int)
    assert order_id > 0, response.headers.get("X-Reject-Reason")
    return order_id


def one_order(xt: httpx.Client, order_id: int) -> dict[str, Any]:
    (order,) = xt.get("/query/order", params={"order_id": order_id}).json()
    assert list(order) == XT_ORDER_KEYS
    return dict(order)


# --------------------------------------------------------------------------- the document


def test_the_documents_requests_run_as_written(
    server: Server, trade_key: str, admin: httpx.Client
) -> None:
    """Document 003's calls (0x01-0x04), with the key in a header every request carries:
    they answer as the document shows."""
    session = requests.Session()
    session.headers["X-API-Key"] = trade_key
    base = server.base_url  # the document's http://127.0.0.1:7800

    assert session.get(f"{base}/xtquant/trade/login?account_id=******").json() == {"status": 0}

    placed = session.get(
        f"{base}/xtquant/trade/place_order?stock_code=113025.SH&price=300&volumn=10"
    ).json()
    assert list(placed) == ["order_id"]
    order_id = placed["order_id"]
    assert isinstance(order_id, int)
    assert order_id > 0

    canceled = session.get(f"{base}/xtquant/trade/cancel_order?order_id={order_id}").json()
    assert canceled == {"cancel_order_result": 0}

    (order,) = session.get(f"{base}/xtquant/trade/query/order?order_id={order_id}").json()
    assert list(order) == XT_ORDER_KEYS
    assert {k: order[k] for k in XT_ORDER_KEYS[:7]} == {
        "股票代码": "113025.SH",
        "委托数量": 10,
        "成交数量": 0,
        "委托价格": 300.0,
        "委托类型": 23,
        "委托状态": "已撤",
        "订单编号": order_id,
    }
    assert isinstance(order["柜台合同编号"], str)
    assert order["柜台合同编号"]
    assert abs(order["报单时间"] - time.time()) < 60


def test_the_key_may_ride_in_the_url(server: Server, trade_key: str, admin: httpx.Client) -> None:
    """For scripts that build every URL by hand: `&token=` beside the document's parameters,
    and plain `requests.get`."""
    base, token = server.base_url, trade_key
    login = requests.get(f"{base}/xtquant/trade/login?account_id=******&token={token}")
    assert login.json() == {"status": 0}
    placed = requests.get(
        f"{base}/xtquant/trade/place_order?stock_code=113025.SH&price=300&volumn=10&token={token}"
    ).json()
    assert placed["order_id"] > 0
    canceled = requests.get(
        f"{base}/xtquant/trade/cancel_order?order_id={placed['order_id']}&token={token}"
    )
    assert canceled.json() == {"cancel_order_result": 0}
    assert token not in server.output()  # the access log redacts it


# --------------------------------------------------------------------------- credentials

ROUTES = [
    ("/login", {}),
    ("/query/assets", {}),
    ("/query/holding", {}),
    ("/query/trade", {}),
    ("/query/order", {}),
    ("/place_order", {"stock_code": BOND, "price": "300", "volumn": "10"}),
    ("/cancel_order", {"order_id": "1"}),
]
MINUS_ONE_FIELDS = {"/place_order": "order_id", "/cancel_order": "cancel_order_result"}


@pytest.mark.parametrize(("path", "params"), ROUTES, ids=[p for p, _ in ROUTES])
@pytest.mark.parametrize(
    "headers",
    [{}, {"X-API-Key": "tb_no-such-key"}, {"Authorization": "Bearer not-a-token"}],
    ids=["none", "unknown key", "bad bearer"],
)
def test_every_route_needs_credentials(
    server: Server, admin: httpx.Client, path: str, params: dict[str, str], headers: dict[str, str]
) -> None:
    before = len(v1_orders(admin))
    response = httpx.get(server.base_url + XT + path, params=params, headers=headers)
    assert response.status_code == 401, response.text
    body = response.json()
    assert body["error"]["code"] == "unauthorized"
    if path in MINUS_ONE_FIELDS:
        minus_one(response, MINUS_ONE_FIELDS[path], "unauthorized", 401)
    assert len(v1_orders(admin)) == before


def test_a_wrong_token_in_the_url_is_refused(server: Server) -> None:
    response = httpx.get(server.base_url + XT + "/query/assets", params={"token": "tb_wrong"})
    assert response.status_code == 401


def test_a_read_key_may_look_but_not_trade(server: Server, token: str, admin: httpx.Client) -> None:
    headers = {"X-API-Key": key_of(server, token, "read")}
    with httpx.Client(base_url=server.base_url + XT, headers=headers) as reader:
        assert reader.get("/login").json() == {"status": 0}
        assert reader.get("/query/assets").status_code == 200
        placed = reader.get(
            "/place_order", params={"stock_code": BOND, "price": "300", "volumn": "10"}
        )
        minus_one(placed, "order_id", "forbidden", 403)
        minus_one(
            reader.get("/cancel_order", params={"order_id": "1"}),
            "cancel_order_result",
            "forbidden",
            403,
        )


def test_a_key_bound_to_another_account_is_refused(server: Server, token: str) -> None:
    headers = {"X-API-Key": key_of(server, token, "read", "trade", account="other")}
    with httpx.Client(base_url=server.base_url + XT, headers=headers) as stranger:
        assert stranger.get("/query/holding").status_code == 403
        placed = stranger.get(
            "/place_order", params={"stock_code": BOND, "price": "300", "volumn": "10"}
        )
        minus_one(placed, "order_id", "forbidden", 403)


# --------------------------------------------------------------------------- placing


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({}, "stock_code"),
        ({"price": "300", "volumn": "10"}, "stock_code"),
        ({"stock_code": BOND, "price": "300"}, "volumn"),
        ({"stock_code": BOND, "volumn": "10"}, "price"),
        ({"stock_code": BOND, "volumn": "10", "price": ""}, "price"),
        ({"stock_code": BOND, "volumn": "10", "price": "0"}, "price"),
        ({"stock_code": BOND, "volumn": "10", "price": "-300"}, "price"),
        ({"stock_code": BOND, "volumn": "10", "price": "abc"}, "price"),
        ({"stock_code": BOND, "volumn": "10", "price": "nan"}, "price"),
        ({"stock_code": BOND, "volumn": "0", "price": "300"}, "volumn"),
        ({"stock_code": BOND, "volumn": "10.0", "price": "300"}, "volumn"),
        ({"stock_code": BOND, "volumn": "ten", "price": "300"}, "volumn"),
        ({"stock_code": BOND, "volumn": "10", "volume": "20", "price": "300"}, "volumn"),
        ({"stock_code": BOND, "volumn": "10", "price": "300", "direction": "short"}, "direction"),
        ({"stock_code": "113025", "volumn": "10", "price": "300"}, "stock_code"),
        ({"stock_code": "113025.XX", "volumn": "10", "price": "300"}, "stock_code"),
    ],
)
def test_an_order_without_all_its_parameters_is_422_and_places_nothing(
    xt: httpx.Client, admin: httpx.Client, params: dict[str, str], field: str
) -> None:
    """Never the original's defaults (100 510300.SH at 4.4), never a sell for a typo."""
    before = len(v1_orders(admin))
    response = xt.get("/place_order", params=params)
    minus_one(response, "order_id", "validation_error", 422)
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert error["details"]["errors"][0]["field"] == field
    assert len(v1_orders(admin)) == before


def test_every_missing_parameter_is_named(xt: httpx.Client) -> None:
    errors = xt.get("/place_order").json()["error"]["details"]["errors"]
    assert [e["field"] for e in errors] == ["stock_code", "volumn", "price"]


def test_direction_left_out_buys_and_volume_stands_for_volumn(
    xt: httpx.Client, admin: httpx.Client
) -> None:
    before = {o["id"] for o in v1_orders(admin)}
    first = place(xt, stock_code=BOND, price="300", volume="20")
    second = place(xt, stock_code="113025.sh", price="300.000", volumn="30", volume="30")
    assert second == first + 1
    new = [o for o in v1_orders(admin) if o["id"] not in before]
    assert [(o["symbol"], o["side"], o["qty"], o["type"]) for o in new] == [
        (BOND, "buy", 20, "limit"),
        (BOND, "buy", 30, "limit"),
    ]
    assert [o["limit_price"] for o in new] == [300, 300]
    assert all(o["client_order_id"].startswith("xt-") for o in new)
    assert [one_order(xt, i)["委托类型"] for i in (first, second)] == [23, 23]


def test_buy_then_sell_a_bond_the_same_day(xt: httpx.Client, admin: httpx.Client) -> None:
    """Convertible bonds are T+0; the trades and holdings show what was traded."""
    bought = place(xt, stock_code=BOND, price="305.001", volumn="20", direction="buy")
    assert one_order(xt, bought)["委托状态"] == "已成"

    (row,) = xt.get("/query/holding").json()
    assert isinstance(row, list)
    (holding,) = row
    assert list(holding) == XT_HOLDING_KEYS
    assert (holding["股票代码"], holding["持仓"], holding["可用持仓"]) == (BOND, 20, 20)
    assert holding["成本"] > 305.001  # the fee is in the cost
    assert holding["持仓市值"] == pytest.approx(20 * 305.0, abs=0.1)

    assets = xt.get("/query/assets").json()
    assert list(assets) == XT_ASSET_KEYS
    assert assets["持仓市值"] == holding["持仓市值"]
    assert assets["现金"] == pytest.approx(1_000_000 - 6100.02 - 1.00)
    assert assets["总资产"] == pytest.approx(assets["现金"] + assets["持仓市值"])
    assert assets["冻结金额"] == 0

    sold = place(xt, stock_code=BOND, price="304.999", volumn="20", direction="SELL")
    assert one_order(xt, sold)["委托类型"] == 24
    assert xt.get("/query/holding").json() == []
    trades = xt.get("/query/trade").json()[-2:]
    for trade in trades:
        assert list(trade) == XT_TRADE_KEYS
        assert isinstance(trade["成交编号"], str)
        assert isinstance(trade["成交时间"], int)
    buy, sell = trades
    assert (buy["股票代码"], buy["委托类型"], buy["成交数量"], buy["成交均价"]) == (
        BOND,
        23,
        20,
        305.001,
    )
    assert buy["成交金额"] == pytest.approx(6100.02)
    assert buy["柜台合同编号"] == one_order(xt, bought)["柜台合同编号"]
    assert (sell["委托类型"], sell["成交均价"]) == (24, 304.999)


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({"price": "400", "volumn": "10"}, "price_out_of_limits"),
        ({"price": "300.0005", "volumn": "10"}, "invalid_tick_size"),
        ({"price": "300", "volumn": "15"}, "invalid_lot_size"),
        ({"price": "300", "volumn": "100000000"}, "insufficient_funds"),
        ({"price": "300", "volumn": "10", "direction": "sell"}, "insufficient_position"),
    ],
)
def test_a_refused_order_is_minus_one_with_its_reason_and_listed_as_junk(
    xt: httpx.Client, params: dict[str, str], reason: str
) -> None:
    response = xt.get("/place_order", params={"stock_code": BOND, **params})
    minus_one(response, "order_id", reason)
    assert response.json() == {"order_id": -1}
    junk = xt.get("/query/order").json()[-1]
    assert junk["委托状态"] == "废单"
    assert junk["订单编号"] > 0
    assert one_order(xt, junk["订单编号"]) == junk


def test_order_statuses_by_xtquants_names(xt: httpx.Client, admin: httpx.Client) -> None:
    resting = place(xt, stock_code=BOND, price="300", volumn="10")
    assert one_order(xt, resting)["委托状态"] == "已报"
    set_quote(admin, BOND, "305.000", bid="304.999", ask="305.001", ask_size=10)
    partial = place(xt, stock_code=BOND, price="305.001", volumn="30")
    assert (one_order(xt, partial)["委托状态"], one_order(xt, partial)["成交数量"]) == ("部成", 10)
    assert xt.get("/cancel_order", params={"order_id": partial}).json() == {
        "cancel_order_result": 0
    }
    assert one_order(xt, partial)["委托状态"] == "部撤"
    assert xt.get("/cancel_order", params={"order_id": resting}).json() == {
        "cancel_order_result": 0
    }
    assert one_order(xt, resting)["委托状态"] == "已撤"
    set_quote(admin, BOND, "305.000", bid="304.999", ask="305.001", ask_size=100_000)
    filled = place(xt, stock_code=BOND, price="305.001", volumn="10")
    assert one_order(xt, filled)["委托状态"] == "已成"
    assert {o["委托状态"] for o in xt.get("/query/order").json()} <= XT_STATUS_NAMES


def test_cancel_answers_minus_one_for_what_cannot_be_canceled(xt: httpx.Client) -> None:
    filled = place(xt, stock_code=BOND, price="305.001", volumn="10")
    minus_one(
        xt.get("/cancel_order", params={"order_id": filled}),
        "cancel_order_result",
        "not_cancelable",
    )
    minus_one(
        xt.get("/cancel_order", params={"order_id": "999999"}), "cancel_order_result", "not_found"
    )
    for params in ({}, {"order_id": "x"}, {"order_id": "-3"}):
        minus_one(
            xt.get("/cancel_order", params=params), "cancel_order_result", "validation_error", 422
        )


def test_query_order_of_an_unknown_id_is_an_empty_list(xt: httpx.Client) -> None:
    assert xt.get("/query/order", params={"order_id": "999999"}).json() == []
    assert xt.get("/query/order", params={"order_id": ""}).status_code == 200  # the wrapper's "all"
    malformed = xt.get("/query/order", params={"order_id": "abc"})
    assert malformed.status_code == 422
    assert malformed.json()["error"]["code"] == "validation_error"


def test_orders_placed_elsewhere_get_integer_ids_too(xt: httpx.Client, admin: httpx.Client) -> None:
    """An order placed through /api/v1 is listed with the next integer; that id finds and
    cancels it."""
    body = {"symbol": BOND, "side": "buy", "qty": 40, "limit_price": "299.000"}
    v1 = admin.post("/api/v1/accounts/paper/orders", json=body).json()
    listed = xt.get("/query/order").json()
    mine = [o for o in listed if o["委托数量"] == 40 and o["委托价格"] == 299.0]
    assert len(mine) == 1
    alias = mine[0]["订单编号"]
    assert alias == max(o["订单编号"] for o in listed)
    assert xt.get("/cancel_order", params={"order_id": alias}).json() == {"cancel_order_result": 0}
    assert admin.get(f"/api/v1/accounts/paper/orders/{v1['id']}").json()["status"] == "canceled"


def test_login_connects_nothing_and_ignores_its_parameters(xt: httpx.Client) -> None:
    params = {
        "session_id": "23456",
        "qmt_dir": "C:\\gszq\\qmt\\userdata_mini",
        "account_id": "55001234",
        "account_type": "CREDIT",
    }
    assert xt.get("/login", params=params).json() == {"status": 0}


def test_futures_positions_are_not_holdings(xt: httpx.Client, admin: httpx.Client) -> None:
    body = {
        "symbol": "cu2601.SHFE",
        "side": "buy",
        "qty": 1,
        "limit_price": "86010",
        "offset": "open",
    }
    assert admin.post("/api/v1/accounts/paper/orders", json=body).json()["status"] == "filled"
    assert xt.get("/query/holding").json() == []


def test_placing_and_canceling_are_audited(
    xt: httpx.Client, admin: httpx.Client, server: Server, trade_key: str
) -> None:
    order_id = place(xt, stock_code=BOND, price="300", volumn="10")
    httpx.get(
        server.base_url + XT + "/cancel_order", params={"order_id": order_id, "token": trade_key}
    ).raise_for_status()
    rows = admin.get("/api/v1/audit", params={"limit": 1000}).json()
    mine = [r for r in rows if r["path"].startswith(XT)][-2:]
    assert [r["method"] for r in mine] == ["GET", "GET"]
    assert [r["action"] for r in mine] == [
        "place a limit order (xtquant wrapper)",
        "cancel an order (xtquant wrapper)",
    ]
    assert {r["actor"] for r in mine} == {"admin"}
    assert all(r["auth"] == "api_key" and r["result"] == "ok" for r in mine)
    assert mine[0]["path"] == f"{XT}/place_order?stock_code={BOND}&price=300&volumn=10"
    assert mine[1]["path"] == f"{XT}/cancel_order?order_id={order_id}&token=[redacted]"
    assert not any(r["path"].startswith(XT + "/query") for r in rows)  # reads are not


def test_an_unknown_parameter_is_never_dropped(xt: httpx.Client, admin: httpx.Client) -> None:
    """A misspelt `volumn` is 422 naming it, not an order with the parameter left out."""
    before = len(v1_orders(admin))
    response = xt.get("/place_order", params={**dict(ROUTES)["/place_order"], "volum": "20"})
    minus_one(response, "order_id", "validation_error", 422)
    assert response.json()["error"]["details"]["field"] == "volum"
    assert response.json()["error"]["details"]["errors"][0]["field"] == "volum"
    assert len(v1_orders(admin)) == before
    listed = xt.get("/query/order", params={"orderid": "1"})
    assert listed.status_code == 422
    assert "order_id" in listed.json()["error"]["message"]


def test_a_parameter_given_twice_is_never_guessed(xt: httpx.Client, admin: httpx.Client) -> None:
    """`stock_code=A&stock_code=B` names no one order: 422, not an order for one of them."""
    before = len(v1_orders(admin))
    params = [("stock_code", BOND), ("stock_code", "600519.SH"), ("price", "300"), ("volumn", "10")]
    response = xt.get("/place_order", params=params)
    minus_one(response, "order_id", "validation_error", 422)
    assert response.json()["error"]["details"] == {
        "field": "stock_code",
        "errors": [{"field": "stock_code", "message": "given more than once"}],
    }
    assert len(v1_orders(admin)) == before
    canceled = xt.get("/cancel_order", params=[("order_id", "1"), ("order_id", "2")])
    minus_one(canceled, "cancel_order_result", "validation_error", 422)
