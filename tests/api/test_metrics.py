"""Operations of a real server: Prometheus `/metrics` (who may read it, what it counts, no
secrets in it), `/api/v1/health` with each account, and secrets kept out of the log."""

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from tests.api.auth_support import PASSWORD, add_user, create_key
from tests.conftest import ADMIN_PASSWORD, Server, start_server, write_config
from websockets.sync.client import connect

METRICS_TOKEN = "metrics-token-for-the-tests"
OPS = f"""
[metrics]
token = "{METRICS_TOKEN}"
"""
ORDERS = "/api/v1/accounts/paper/orders"
ORDER = {"symbol": "600519.SH", "side": "buy", "qty": 100, "limit_price": "1400.00"}
ROUTE = "/api/v1/accounts/{account}/orders"


@dataclass(frozen=True)
class Ops:
    server: Server
    admin: str
    key: str
    """An admin API key."""


@pytest.fixture(scope="module")
def ops(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ops]:
    server = start_server(write_config(tmp_path_factory.mktemp("ops"), OPS))
    admin = server.login()
    key = create_key(server, admin, scopes=["read", "trade", "admin"])["key"]
    yield Ops(server, admin, key)
    assert server.stop() == 0


def scrape(server: Server) -> str:
    answer = httpx.get(
        server.base_url + "/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain")
    return answer.text


def value(text: str, name: str, **labels: str) -> float:
    """The sample `name` with `labels` (0 when there is none yet)."""
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return float(sample.value)
    return 0.0


def test_metrics_need_the_metrics_token_or_an_admin(ops: Ops) -> None:
    url = ops.server.base_url + "/metrics"
    viewer = ops.server.login(add_user(ops.server, "viewer"), PASSWORD)
    assert httpx.get(url).json()["error"]["code"] == "unauthorized"
    assert httpx.get(url, headers={"Authorization": "Bearer not-the-token"}).status_code == 401
    assert httpx.get(url, headers={"Authorization": f"Bearer {viewer}"}).status_code == 403
    for credentials in (
        {"Authorization": f"Bearer {METRICS_TOKEN}"},
        {"Authorization": f"Bearer {ops.admin}"},
        {"X-API-Key": ops.key},
    ):
        answer = httpx.get(url, headers=credentials)
        assert answer.status_code == 200
        assert "tradebridge_http_requests_total" in answer.text


def test_metrics_count_requests_orders_engine_calls_and_streams(ops: Ops) -> None:
    before = scrape(ops.server)
    with ops.server.client(ops.admin) as client:
        client.post("/api/v1/paper/paper/reset").raise_for_status()
        assert client.post(ORDERS, json=ORDER).status_code == 201
        refused = client.post(ORDERS, json=ORDER | {"limit_price": "1700.00"})
        assert refused.json()["error"]["details"]["reason"] == "price_out_of_limits"
    stream_url = ops.server.base_url.replace("http", "ws") + "/api/v1/stream"
    with connect(stream_url) as stream:
        stream.send(json.dumps({"op": "auth", "token": ops.admin}))
        assert json.loads(stream.recv(timeout=10))["type"] == "status"
        during = scrape(ops.server)
    with ops.server.client(ops.admin) as client:
        client.get("/api/v1/audit").raise_for_status()  # waits for the audit rows
    after = scrape(ops.server)

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    posts = {"method": "POST", "route": ROUTE}
    assert grew("tradebridge_http_requests_total", **posts, status="201") == 1
    assert grew("tradebridge_http_requests_total", **posts, status="422") == 1
    assert grew("tradebridge_http_request_duration_seconds_count", **posts) == 2
    assert grew("tradebridge_orders_placed_total", account="paper") == 1
    refused_labels = {"account": "paper", "reason": "price_out_of_limits"}
    assert grew("tradebridge_orders_refused_total", **refused_labels) == 1
    assert grew("tradebridge_rpc_calls_total", method="orders.place", result="ok") == 1
    rejected = grew("tradebridge_rpc_calls_total", method="orders.place", result="order_rejected")
    assert rejected == 1
    assert grew("tradebridge_rpc_duration_seconds_count", method="orders.place") == 2
    assert grew("tradebridge_ws_messages_sent_total") >= 1
    assert value(during, "tradebridge_ws_connections") == 1
    assert value(after, "tradebridge_ws_connections") == 0
    assert value(after, "tradebridge_engine_link_up") == 1
    assert value(after, "tradebridge_event_bus_up") == 1
    assert value(after, "tradebridge_account_last_seq", account="paper") > 0
    assert grew("tradebridge_audit_rows_written_total") == 3  # reset, placed, refused
    assert value(after, "tradebridge_audit_rows_dropped_total") == 0


def test_metrics_name_routes_and_accounts_never_what_clients_chose(ops: Ops) -> None:
    with ops.server.client(ops.admin) as client:
        assert client.post("/api/v1/accounts/made-up-account/orders", json=ORDER).is_error
        assert client.get("/no/such/path-7f3a").status_code == 404
    text = scrape(ops.server)
    assert "made-up-account" not in text
    assert "path-7f3a" not in text
    unmatched = {"method": "GET", "route": "(unmatched)", "status": "404"}
    assert value(text, "tradebridge_http_requests_total", **unmatched) >= 1
    refused_labels = {"account": "(other)", "reason": "not_found"}
    assert value(text, "tradebridge_orders_refused_total", **refused_labels) == 1


def test_metrics_and_the_log_hold_no_secret(ops: Ops) -> None:
    query_secret = uuid.uuid4().hex
    with ops.server.client(ops.admin) as client:
        for name in ("token", "api_key", "password"):
            client.get("/api/v1/accounts", params={name: query_secret, "keep": "visible"})
        client.post("/api/v1/paper/paper/reset", params={"access_token": query_secret})
    with httpx.Client(base_url=ops.server.base_url) as anonymous:
        anonymous.get("/api/v1/health", params={"token": query_secret})
    text = scrape(ops.server)
    log = ops.server.output()
    for secret in (ADMIN_PASSWORD, ops.admin, ops.key, METRICS_TOKEN, query_secret):
        assert secret not in text
        assert secret not in log
    assert "/api/v1/accounts?token=[redacted]&keep=visible" in log
    assert "/api/v1/accounts?api_key=[redacted]&keep=visible" in log
    assert "/api/v1/accounts?password=[redacted]&keep=visible" in log
    assert "/api/v1/paper/paper/reset?access_token=[redacted]" in log


def test_health_lists_each_account_with_its_state(ops: Ops) -> None:
    with ops.server.client(ops.admin) as client:
        halted = client.put("/api/v1/accounts/paper/risk", json={"trading_state": "halted"})
        assert halted.status_code == 200
        try:
            health = httpx.get(ops.server.base_url + "/api/v1/health").json()
        finally:
            client.put("/api/v1/accounts/paper/risk", json={"trading_state": "active"})
    assert health["status"] == "ok"
    assert health["database"] == "open"
    (engine,) = health["engines"]
    assert (engine["status"], engine["link"]) == ("up", "up")
    assert engine["accounts"] == [
        {"id": "paper", "broker": "paper", "connected": True, "trading_state": "halted"}
    ]


def test_workers_answer_metrics_for_all_of_them(tmp_path_factory: pytest.TempPathFactory) -> None:
    config = write_config(tmp_path_factory.mktemp("ops-workers"), OPS)
    config.write_text(config.read_text().replace("workers = 1\n", "workers = 2\n"))
    server = start_server(config)
    try:
        token = server.login()
        requests = 0
        while len(workers_that_answered(server, "GET /api/v1/accounts")) < 2:
            assert requests < 200, "the kernel never handed a connection to the second worker"
            with server.client(token) as client:  # a new connection: any worker may take it
                client.get("/api/v1/accounts").raise_for_status()
            requests += 1
        labels = {"method": "GET", "route": "/api/v1/accounts", "status": "200"}
        scrapes = 0
        while len(workers_that_answered(server, "GET /metrics")) < 2:
            assert scrapes < 200, "the kernel never handed a scrape to the second worker"
            assert value(scrape(server), "tradebridge_http_requests_total", **labels) == requests
            scrapes += 1
    finally:
        assert server.stop() == 0


def workers_that_answered(server: Server, request: str) -> set[str]:
    """The pids of the web workers whose access log shows `request` (`GET /path`)."""
    return {
        line.split("[web ", 1)[1].split("]", 1)[0]
        for line in server.output().splitlines()
        if "tradebridge.access" in line and f'"{request} HTTP' in line
    }
