"""An API key bound to one account stays inside it everywhere, whatever its scopes: the keys
it lists, makes and revokes, the metrics it reads, the accounts it sees and streams."""

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from tests.api.auth_support import PASSWORD, add_user, create_key
from tests.conftest import Server, start_server, write_config
from websockets.sync.client import connect

OTHER_ACCOUNT = """
[[accounts]]
id = "other"

[accounts.paper]
market = "manual"
"""
ORDER = {"symbol": "600519.SH", "side": "buy", "qty": 100, "limit_price": "1400.00"}


@dataclass(frozen=True)
class Keys:
    server: Server
    admin: str
    """A login token of the admin (bound to nothing)."""
    bound_admin: dict[str, Any]
    """A key of the admin with every scope, bound to `paper`."""
    others: dict[str, dict[str, Any]]
    """Keys bound to `other` or to nothing, of the admin and of other users."""


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Keys]:
    server = start_server(write_config(tmp_path_factory.mktemp("bound"), OTHER_ACCOUNT))
    admin = server.login()
    viewer = add_user(server, "viewer")
    trader = add_user(server, "trader")
    trader_token = server.login(trader, PASSWORD)
    every_scope = ["read", "trade", "admin"]
    bound_admin = create_key(server, admin, scopes=every_scope, account="paper")
    others = {
        "admin on other": create_key(server, admin, scopes=every_scope, account="other"),
        "admin unbound": create_key(server, admin, scopes=every_scope),
        "viewer on other": create_key(server, admin, scopes=["read"], user=viewer, account="other"),
        "trader unbound": create_key(server, trader_token, scopes=["read", "trade"]),
    }
    yield Keys(server, admin, bound_admin, others)
    assert server.stop() == 0


def as_key(keys: Keys, key: dict[str, Any]) -> httpx.Client:
    return httpx.Client(base_url=keys.server.base_url, headers={"X-API-Key": key["key"]})


def listed(client: httpx.Client, **params: str) -> set[str]:
    response = client.get("/api/v1/keys", params=params)
    assert response.status_code == 200, response.text
    return {k["id"] for k in response.json()}


def test_a_bound_admin_key_lists_only_keys_of_its_account(keys: Keys) -> None:
    with keys.server.client(keys.admin) as admin:
        everyone = listed(admin)
    assert {k["id"] for k in keys.others.values()} <= everyone  # they exist
    with as_key(keys, keys.bound_admin) as bound:
        seen = listed(bound)
        response = bound.get("/api/v1/keys")
        assert {k["account"] for k in response.json()} == {"paper"}
        assert keys.bound_admin["id"] in seen
        assert not seen & {k["id"] for k in keys.others.values()}
        viewer = keys.others["viewer on other"]["user"]
        assert listed(bound, user=viewer) == set()


@pytest.mark.parametrize("other", ["admin on other", "admin unbound", "trader unbound"])
def test_a_bound_admin_key_revokes_no_key_outside_its_account(keys: Keys, other: str) -> None:
    target = keys.others[other]
    with as_key(keys, keys.bound_admin) as bound:
        response = bound.delete(f"/api/v1/keys/{target['id']}")
    assert response.status_code == 404, response.text
    assert response.json()["error"]["code"] == "not_found"
    with as_key(keys, target) as still:
        assert still.get("/api/v1/accounts").status_code == 200  # not revoked


def test_a_bound_admin_key_makes_keys_of_its_account_only(keys: Keys) -> None:
    trader = keys.others["trader unbound"]["user"]
    with as_key(keys, keys.bound_admin) as bound:
        made = bound.post("/api/v1/keys", json={"scopes": ["read"], "user": trader})
        assert made.status_code == 201, made.text
        assert made.json()["account"] == "paper"
        elsewhere = bound.post("/api/v1/keys", json={"scopes": ["read"], "account": "other"})
        assert elsewhere.status_code == 403
        assert elsewhere.json()["error"]["code"] == "forbidden"
        # What it made is inside its account, so it may see and revoke it.
        assert made.json()["id"] in listed(bound)
        assert bound.delete(f"/api/v1/keys/{made.json()['id']}").status_code == 200


def scrape(client: httpx.Client) -> list[tuple[str, dict[str, str]]]:
    response = client.get("/metrics")
    assert response.status_code == 200, response.text
    return [
        (sample.name, sample.labels)
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    ]


def test_a_bound_admin_key_reads_only_the_metrics_of_its_account(keys: Keys) -> None:
    for account in ("paper", "other"):
        with keys.server.client(keys.admin) as admin:
            placed = admin.post(f"/api/v1/accounts/{account}/orders", json=ORDER)
            assert placed.status_code == 201, placed.text
    with keys.server.client(keys.admin) as admin:
        everything = scrape(admin)
    assert ("tradebridge_orders_placed_total", {"account": "other"}) in everything
    assert any(name.startswith("tradebridge_http_requests") for name, _ in everything)
    with as_key(keys, keys.bound_admin) as bound:
        own = scrape(bound)
    assert ("tradebridge_orders_placed_total", {"account": "paper"}) in own
    assert {labels.get("account") for _, labels in own} == {"paper"}


def test_a_bound_key_sees_and_streams_only_its_account(keys: Keys) -> None:
    with as_key(keys, keys.bound_admin) as bound:
        assert [a["id"] for a in bound.get("/api/v1/accounts").json()] == ["paper"]
        assert bound.get("/api/v1/accounts/other").status_code == 403
        assert bound.get("/api/v1/market/quotes", params={"symbols": "600519.SH"}).status_code == (
            200
        )
    url = keys.server.base_url.replace("http", "ws") + "/api/v1/stream"
    with connect(url, additional_headers={"X-API-Key": keys.bound_admin["key"]}) as stream:
        assert json.loads(stream.recv(timeout=10))["type"] == "status"
        stream.send(json.dumps({"op": "subscribe", "channels": ["orders"], "id": 1}))
        reply = until_reply(stream, 1)
        assert (reply["type"], reply["account"]) == ("subscribed", "paper")
        stream.send(
            json.dumps({"op": "subscribe", "channels": ["orders"], "account": "other", "id": 2})
        )
        refused = until_reply(stream, 2)
        assert (refused["type"], refused["data"]["code"]) == ("error", "forbidden")


def until_reply(stream: Any, request_id: int) -> dict[str, Any]:
    while True:
        message: dict[str, Any] = json.loads(stream.recv(timeout=10))
        if message.get("id") == request_id:
            return message
