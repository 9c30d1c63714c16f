"""Who may call what: every route of the OpenAPI document, called by every kind of caller.

Each route declares its policy in `ROUTES`; a route missing there (a new one) fails
`test_every_route_declares_its_policy`, so it cannot ship without one. A caller outside the
policy must get 401 (no credentials) or 403; one inside it must get neither (whatever else
the route answers to the sample request).
"""

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from tests.api.auth_support import PASSWORD, add_user, create_key
from tests.conftest import ADMIN_PASSWORD, Server, start_server, write_config

ANONYMOUS = "anonymous"
VIEWER = "viewer"
TRADER = "trader"
ADMIN = "admin"
READ_KEY = "read key"
TRADE_KEY = "trade key"
OTHER_ACCOUNT_KEY = "key bound to another account"
"""Scopes read, trade and admin, bound to the account `other`; the routes are called for
the account `paper`."""

CALLERS = (ANONYMOUS, VIEWER, TRADER, ADMIN, READ_KEY, TRADE_KEY, OTHER_ACCOUNT_KEY)

EVERYONE = frozenset(CALLERS)
SIGNED_IN = EVERYONE - {ANONYMOUS}
"""Any credentials with the read scope, whatever account a key is bound to."""
READ = SIGNED_IN - {OTHER_ACCOUNT_KEY}
"""The read scope on the account `paper`."""
TRADE = frozenset({TRADER, ADMIN, TRADE_KEY})
"""The trade scope on the account `paper`."""
ADMIN_ONLY = frozenset({ADMIN})
"""The admin scope on the account `paper` (the audit log: on every account)."""
LOGGED_IN = frozenset({VIEWER, TRADER, ADMIN})
"""A login token (making keys: a key without the admin scope cannot make more keys)."""


@dataclass(frozen=True)
class Call:
    """A route's policy and a sample request to it (path parameters are filled in from
    `PATH_VALUES`)."""

    allowed: frozenset[str]
    query: dict[str, str] = field(default_factory=dict)
    json: Any = None
    form: dict[str, str] | None = None


ORDER = {"symbol": "600519.SH", "side": "buy", "qty": 100, "limit_price": "1400.00"}
HT_ORDER = {"region": "CN", "ticker": "600519", "direction": "BUY", "qty": 100, "price": 1400}
VNPY_ORDER = {
    "symbol": "600519",
    "exchange": "SSE",
    "direction": "多",
    "type": "限价",
    "volume": 100,
    "price": 1400.0,
}
QMT_ORDER = {"stock_code": "600519.SH", "action": "BUY", "quantity": 100, "price": 1400.0}
XT_ORDER = {"stock_code": "600519.SH", "volumn": "100", "price": "1400"}
HT_INSTANCE = "PolicyInstance000001"
"""The httptrading instance of the account `paper`."""

ROUTES: dict[tuple[str, str], Call] = {
    ("GET", "/api/v1/health"): Call(EVERYONE),
    ("POST", "/api/v1/auth/token"): Call(
        EVERYONE, form={"username": "admin", "password": ADMIN_PASSWORD}
    ),
    ("GET", "/api/v1/keys"): Call(SIGNED_IN),
    ("POST", "/api/v1/keys"): Call(LOGGED_IN, json={"scopes": ["read"], "account": "paper"}),
    ("DELETE", "/api/v1/keys/{key_id}"): Call(SIGNED_IN),
    ("GET", "/api/v1/accounts"): Call(SIGNED_IN),
    ("GET", "/api/v1/accounts/{account}"): Call(READ),
    ("GET", "/api/v1/accounts/{account}/positions"): Call(READ),
    ("GET", "/api/v1/accounts/{account}/ping"): Call(READ),
    ("GET", "/api/v1/accounts/{account}/risk"): Call(READ),
    ("PUT", "/api/v1/accounts/{account}/risk"): Call(ADMIN_ONLY, json={}),
    ("POST", "/api/v1/accounts/{account}/orders"): Call(TRADE, json=ORDER),
    ("GET", "/api/v1/accounts/{account}/orders"): Call(READ),
    ("DELETE", "/api/v1/accounts/{account}/orders"): Call(TRADE),
    ("GET", "/api/v1/accounts/{account}/orders:by_client_id/{client_order_id}"): Call(READ),
    ("GET", "/api/v1/accounts/{account}/orders/{order_id}"): Call(READ),
    ("DELETE", "/api/v1/accounts/{account}/orders/{order_id}"): Call(TRADE),
    ("GET", "/api/v1/accounts/{account}/trades"): Call(READ),
    ("GET", "/api/v1/market/contracts"): Call(READ, query={"account": "paper"}),
    ("GET", "/api/v1/market/quotes"): Call(
        READ, query={"account": "paper", "symbols": "600519.SH"}
    ),
    ("GET", "/api/v1/market/status"): Call(READ, query={"account": "paper"}),
    ("GET", "/api/v1/market/bars"): Call(READ, query={"account": "paper", "symbol": "600519.SH"}),
    ("POST", "/api/v1/paper/{account}/quotes"): Call(
        ADMIN_ONLY, json={"symbol": "600519.SH", "last": "1500.00"}
    ),
    ("POST", "/api/v1/paper/{account}/clock"): Call(ADMIN_ONLY, json={"advance": "next_session"}),
    ("POST", "/api/v1/paper/{account}/reset"): Call(ADMIN_ONLY),
    ("GET", "/api/v1/audit"): Call(ADMIN_ONLY),
    ("GET", "/api/v1/strategies"): Call(SIGNED_IN),  # a bound key: its account's only
    ("POST", "/api/v1/strategies/{name}/start"): Call(ADMIN_ONLY),
    ("POST", "/api/v1/strategies/{name}/stop"): Call(ADMIN_ONLY),
    ("GET", "/httptrading/api/{instanceId}/ping/state"): Call(READ),
    ("GET", "/httptrading/api/{instanceId}/market/quote"): Call(
        READ, query={"region": "CN", "ticker": "600519"}
    ),
    ("GET", "/httptrading/api/{instanceId}/market/state"): Call(READ),
    ("GET", "/httptrading/api/{instanceId}/cash/state"): Call(READ),
    ("GET", "/httptrading/api/{instanceId}/position/state"): Call(READ),
    ("POST", "/httptrading/api/{instanceId}/order/place"): Call(TRADE, json=HT_ORDER),
    ("POST", "/httptrading/api/{instanceId}/order/cancel"): Call(
        TRADE, json={"orderId": "01NOSUCHORDER0000000000000"}
    ),
    ("GET", "/httptrading/api/{instanceId}/order/state"): Call(
        READ, query={"orderId": "01NOSUCHORDER0000000000000"}
    ),
    ("POST", "/token"): Call(EVERYONE, form={"username": "admin", "password": ADMIN_PASSWORD}),
    ("POST", "/tick/{vt_symbol}"): Call(READ),
    ("GET", "/tick"): Call(READ),
    ("GET", "/health"): Call(EVERYONE),
    ("GET", "/contract"): Call(READ),
    ("POST", "/order"): Call(TRADE, json=VNPY_ORDER),
    ("GET", "/order"): Call(READ),
    ("DELETE", "/order/{vt_orderid}"): Call(TRADE),
    ("GET", "/trade"): Call(READ),
    ("GET", "/position"): Call(READ),
    ("GET", "/account"): Call(READ),
    ("GET", "/api/v1/trading/status"): Call(READ),
    ("GET", "/api/v1/trading/account-info"): Call(READ),
    ("POST", "/api/v1/trading/place-order"): Call(TRADE, json=QMT_ORDER),
    ("POST", "/api/v1/trading/order"): Call(TRADE, json=QMT_ORDER),
    ("GET", "/api/v1/trading/orders"): Call(READ),
    ("GET", "/api/v1/trading/positions"): Call(READ),
    ("POST", "/api/v1/trading/cancel-order"): Call(TRADE, json={"order_id": 999999}),
    ("GET", "/xtquant/trade/login"): Call(READ),
    ("GET", "/xtquant/trade/query/assets"): Call(READ),
    ("GET", "/xtquant/trade/query/holding"): Call(READ),
    ("GET", "/xtquant/trade/query/trade"): Call(READ),
    ("GET", "/xtquant/trade/query/order"): Call(READ),
    ("GET", "/xtquant/trade/place_order"): Call(TRADE, query=XT_ORDER),
    ("GET", "/xtquant/trade/cancel_order"): Call(TRADE, query={"order_id": "999999"}),
}

PATH_VALUES = {
    "account": "paper",
    "order_id": "01NOSUCHORDER0000000000000",
    "client_order_id": "no-such-order",
    "key_id": "01NOSUCHKEY000000000000000",
    "instanceId": HT_INSTANCE,
    "vt_symbol": "600519.SSE",
    "vt_orderid": "PAPER.01NOSUCHORDER0000000000000",
    "name": "idle",
}

OTHER_ACCOUNT = """
[[accounts]]
id = "other"

[accounts.paper]
market = "manual"

[[strategies]]
name = "idle"
file = "no-such-strategy.py"
account = "paper"
autostart = false
"""


@dataclass(frozen=True)
class Policies:
    server: Server
    headers: dict[str, dict[str, str]]
    """Per caller."""


@pytest.fixture(scope="module")
def policies(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Policies]:
    config = write_config(tmp_path_factory.mktemp("policies"), OTHER_ACCOUNT)
    paper = '[[accounts]]\nid = "paper"\n'
    instance = f'httptrading_instance_id = "{HT_INSTANCE}"\n'
    config.write_text(config.read_text().replace(paper, paper + instance))
    dialects = "vnpy", "qmt_service", "xtquant_http"
    config.write_text(
        config.read_text() + "".join(f"\n[compat.{d}]\nenabled = true\n" for d in dialects)
    )
    server = start_server(config)
    admin = server.login()
    viewer = server.login(add_user(server, "viewer"), PASSWORD)
    trader = server.login(add_user(server, "trader"), PASSWORD)
    read_key = create_key(server, admin, scopes=["read"])["key"]
    trade_key = create_key(server, admin, scopes=["read", "trade"])["key"]
    other_key = create_key(server, admin, scopes=["read", "trade", "admin"], account="other")
    yield Policies(
        server,
        {
            ANONYMOUS: {},
            VIEWER: {"Authorization": f"Bearer {viewer}"},
            TRADER: {"Authorization": f"Bearer {trader}"},
            ADMIN: {"Authorization": f"Bearer {admin}"},
            READ_KEY: {"X-API-Key": read_key},
            TRADE_KEY: {"Authorization": f"Bearer {trade_key}"},
            OTHER_ACCOUNT_KEY: {"X-API-Key": other_key["key"]},
        },
    )
    assert server.stop() == 0


def _served_routes(server: Server) -> set[tuple[str, str]]:
    spec = httpx.get(server.base_url + "/openapi.json").json()
    return {(method.upper(), path) for path, item in spec["paths"].items() for method in item}


def test_every_route_declares_its_policy(policies: Policies) -> None:
    served = _served_routes(policies.server)
    assert sorted(served - ROUTES.keys()) == [], "routes without a policy in ROUTES"
    assert sorted(ROUTES.keys() - served) == [], "ROUTES names routes that no longer exist"


@pytest.mark.parametrize(("method", "path"), list(ROUTES), ids=[f"{m} {p}" for m, p in ROUTES])
def test_route_answers_each_caller_by_its_policy(
    policies: Policies, method: str, path: str
) -> None:
    call = ROUTES[method, path]
    url = path.format(**{k: v for k, v in PATH_VALUES.items() if "{" + k + "}" in path})
    wrong = []
    for caller in CALLERS:
        with httpx.Client(
            base_url=policies.server.base_url, headers=policies.headers[caller], timeout=10
        ) as client:
            response = client.request(
                method, url, params=call.query, json=call.json, data=call.form
            )
        if caller in call.allowed:
            ok = response.status_code not in (401, 403)
        else:
            expected = 401 if caller == ANONYMOUS else 403
            code = "unauthorized" if expected == 401 else "forbidden"
            ok = response.status_code == expected and response.json()["error"]["code"] == code
        if not ok:
            wrong.append(f"{caller}: {response.status_code} {response.text[:200]}")
    assert wrong == []


def test_a_key_bound_to_an_account_lists_only_its_accounts_strategies(policies: Policies) -> None:
    def names(caller: str) -> list[str]:
        with httpx.Client(base_url=policies.server.base_url, timeout=10) as client:
            response = client.get("/api/v1/strategies", headers=policies.headers[caller])
        assert response.status_code == 200, response.text
        return [s["name"] for s in response.json()]

    assert names(ADMIN) == ["idle"]
    assert names(READ_KEY) == ["idle"]
    assert names(OTHER_ACCOUNT_KEY) == []
