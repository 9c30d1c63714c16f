"""The audit log of a real server: every login attempt and every mutating request, whatever
its result, with who, when, from where, what and the result; `GET /api/v1/audit` for admins;
never a password, token or key."""

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from tests.api.auth_support import PASSWORD, add_user, create_key
from tests.conftest import ADMIN_PASSWORD, Server, start_server, write_config

from tradebridge.store.database import create_db_engine
from tradebridge.store.schema import audit

AUDIT = "/api/v1/audit"
ORDERS = "/api/v1/accounts/paper/orders"
ORDER = {"symbol": "600519.SH", "side": "buy", "qty": 100, "limit_price": "1400.00"}

Row = dict[str, Any]


@pytest.fixture(scope="module")
def audited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = start_server(write_config(tmp_path_factory.mktemp("audit")))
    yield server
    assert server.stop() == 0


@pytest.fixture(scope="module")
def admin(audited: Server) -> str:
    return audited.login()


def request_id() -> str:
    return f"test-{uuid.uuid4().hex}"


def row_of(server: Server, token: str, rid: str, **filters: str) -> Row:
    """The audit row of the request sent with `X-Request-ID: rid`."""
    with server.client(token) as client:
        rows = client.get(AUDIT, params={"limit": "1000", **filters}).json()
    (row,) = [r for r in rows if r["request_id"] == rid]
    return row


def stored_text(server: Server) -> str:
    """Every value of every audit row, straight from the database."""
    db = create_db_engine(server.database_url())
    try:
        with db.connect() as conn:
            rows = conn.execute(select(audit)).all()
    finally:
        db.dispose()
    return "\n".join(str(value) for row in rows for value in row)


def test_logins_are_audited_with_the_username_tried_never_the_password(
    audited: Server, admin: str
) -> None:
    wrong = f"wrong-{uuid.uuid4().hex}"
    failed, succeeded = request_id(), request_id()
    with audited.client() as client:
        answer = client.post(
            "/api/v1/auth/token",
            data={"username": "nobody", "password": wrong},
            headers={"X-Request-ID": failed},
        )
        assert answer.status_code == 401
        assert answer.headers["X-Request-ID"] == failed
        answer = client.post(
            "/api/v1/auth/token",
            json={"username": "admin", "password": ADMIN_PASSWORD},
            headers={"X-Request-ID": succeeded},
        )
        assert answer.status_code == 200
        token = answer.json()["access_token"]

    failure = row_of(audited, admin, failed, action="login")
    assert failure | {"id": 0, "time": ""} == {
        "id": 0,
        "time": "",
        "actor": "nobody",
        "role": None,
        "auth": "password",
        "key_id": None,
        "client_ip": "127.0.0.1",
        "method": "POST",
        "path": "/api/v1/auth/token",
        "action": "login",
        "account": None,
        "target": None,
        "status": 401,
        "result": "unauthorized",
        "request_id": failed,
    }
    success = row_of(audited, admin, succeeded, action="login")
    assert (success["actor"], success["status"], success["result"]) == ("admin", 200, "ok")
    assert success["id"] > failure["id"]
    when = datetime.fromisoformat(success["time"])
    assert abs(when - datetime.now(UTC)) < timedelta(minutes=5)

    stored = stored_text(audited)
    for secret in (wrong, ADMIN_PASSWORD, token, admin):
        assert secret not in stored


def test_placing_and_canceling_an_order_are_audited(audited: Server, admin: str) -> None:
    placed, canceled = request_id(), request_id()
    with audited.client(admin) as client:
        answer = client.post(ORDERS, json=ORDER, headers={"X-Request-ID": placed})
        assert answer.status_code == 201
        order_id = answer.json()["id"]
        answer = client.delete(f"{ORDERS}/{order_id}", headers={"X-Request-ID": canceled})
        assert answer.status_code == 200

    place = row_of(audited, admin, placed)
    assert place["action"] == "place order 600519.SH buy 100 @ 1400.00"
    assert (place["actor"], place["role"], place["auth"]) == ("admin", "admin", "token")
    assert (place["account"], place["target"]) == ("paper", order_id)
    assert (place["method"], place["path"], place["status"], place["result"]) == (
        "POST",
        ORDERS,
        201,
        "ok",
    )
    cancel = row_of(audited, admin, canceled)
    assert (cancel["action"], cancel["target"], cancel["status"]) == ("cancel order", order_id, 200)
    assert cancel["path"] == f"{ORDERS}/{order_id}"


def test_refused_requests_are_audited(audited: Server, admin: str) -> None:
    viewer = add_user(audited, "viewer")
    viewer_token = audited.login(viewer, PASSWORD)
    forbidden, invalid, anonymous, rejected = (request_id() for _ in range(4))
    with audited.client(viewer_token) as client:
        answer = client.post(ORDERS, json=ORDER, headers={"X-Request-ID": forbidden})
        assert answer.status_code == 403
    with audited.client(admin) as client:
        body = {"symbol": "600519.SH", "side": "buy", "qty": 100}  # no limit price
        assert client.post(ORDERS, json=body, headers={"X-Request-ID": invalid}).status_code == 422
        too_high = ORDER | {"limit_price": "1700.00"}
        answer = client.post(ORDERS, json=too_high, headers={"X-Request-ID": rejected})
        assert answer.json()["error"]["code"] == "order_rejected"
        rejected_order = answer.json()["error"]["details"]["order_id"]
    with audited.client() as client:
        answer = client.post(ORDERS, json=ORDER, headers={"X-Request-ID": anonymous})
        assert answer.status_code == 401

    row = row_of(audited, admin, forbidden)
    assert (row["actor"], row["role"], row["status"], row["result"]) == (
        viewer,
        "viewer",
        403,
        "forbidden",
    )
    assert row["action"] == "place order 600519.SH buy 100 @ 1400.00"
    row = row_of(audited, admin, invalid)
    assert (row["status"], row["result"], row["action"]) == (
        422,
        "validation_error",
        "place order 600519.SH buy 100 limit",
    )
    row = row_of(audited, admin, rejected)
    assert (row["status"], row["result"], row["target"]) == (422, "order_rejected", rejected_order)
    row = row_of(audited, admin, anonymous)
    assert (row["actor"], row["auth"], row["status"], row["result"]) == (
        None,
        None,
        401,
        "unauthorized",
    )


def test_admin_changes_and_keys_are_audited_without_the_key(audited: Server, admin: str) -> None:
    risk, reset, created = request_id(), request_id(), request_id()
    with audited.client(admin) as client:
        answer = client.put(
            "/api/v1/accounts/paper/risk",
            json={"max_order_qty": 5000, "trading_state": "active"},
            headers={"X-Request-ID": risk},
        )
        assert answer.status_code == 200
        assert client.post("/api/v1/paper/paper/reset", headers={"X-Request-ID": reset}).is_success
        answer = client.post(
            "/api/v1/keys", json={"scopes": ["read"]}, headers={"X-Request-ID": created}
        )
        assert answer.status_code == 201
        key = answer.json()

    row = row_of(audited, admin, risk)
    assert row["action"] == "set risk max_order_qty=5000 trading_state=active"
    assert (row["method"], row["account"], row["status"]) == ("PUT", "paper", 200)
    row = row_of(audited, admin, reset)
    assert (row["action"], row["account"], row["result"]) == ("reset paper account", "paper", "ok")
    row = row_of(audited, admin, created)
    assert (row["action"], row["target"]) == ("create API key scopes=read", key["id"])

    with_key = request_id()
    with httpx.Client(base_url=audited.base_url, headers={"X-API-Key": key["key"]}) as client:
        answer = client.post(ORDERS, json=ORDER, headers={"X-Request-ID": with_key})
        assert answer.status_code == 403  # a read key
    row = row_of(audited, admin, with_key)
    assert (row["actor"], row["auth"], row["key_id"], row["role"]) == (
        "admin",
        "api_key",
        key["id"],
        "viewer",
    )
    assert key["key"] not in stored_text(audited)


def test_secrets_in_the_query_string_are_redacted(audited: Server, admin: str) -> None:
    secret, rid = uuid.uuid4().hex, request_id()
    with audited.client(admin) as client:
        answer = client.post(
            "/api/v1/paper/paper/reset",
            params={"token": secret, "api_key": secret, "keep": "1"},
            headers={"X-Request-ID": rid},
        )
        assert answer.is_success
    row = row_of(audited, admin, rid)
    assert row["path"] == "/api/v1/paper/paper/reset?token=[redacted]&api_key=[redacted]&keep=1"
    assert secret not in stored_text(audited)


def test_audit_filters_and_pages(audited: Server, admin: str) -> None:
    viewer = add_user(audited, "viewer")
    viewer_token = audited.login(viewer, PASSWORD)
    with audited.client(viewer_token) as client:
        for _ in range(3):
            assert client.post(ORDERS, json=ORDER).status_code == 403
    with audited.client(admin) as client:

        def rows(**params: Any) -> list[Row]:
            answer = client.get(AUDIT, params=params)
            assert answer.status_code == 200, answer.text
            result: list[Row] = answer.json()
            return result

        mine = rows(actor=viewer)
        placement = "place order 600519.SH buy 100 @ 1400.00"
        assert [r["action"] for r in mine] == ["login", placement, placement, placement]
        assert [r["id"] for r in mine] == sorted(r["id"] for r in mine)
        assert rows(actor=viewer, action="place") == mine[1:]
        assert rows(actor=viewer, status=403) == mine[1:]
        assert rows(actor=viewer, result="forbidden") == mine[1:]
        assert rows(actor=viewer, path="/api/v1/auth/") == mine[:1]
        assert rows(actor=viewer, limit=2) == mine[2:]
        assert rows(actor=viewer, limit=2, after=mine[0]["id"]) == mine[1:3]
        assert rows(actor=viewer, since=mine[1]["time"]) == mine[1:]
        assert rows(actor=viewer, until=mine[1]["time"]) == mine[:1]
        assert rows(actor=viewer, account="paper") == mine[1:]
        future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
        assert rows(since=future) == []
        every = rows(limit=1000)
        assert {r["actor"] for r in every} >= {"admin", viewer}
        assert all(r["method"] in ("POST", "PUT", "PATCH", "DELETE") for r in every)

        naive = client.get(AUDIT, params={"since": "2026-01-01T00:00:00"})
        assert naive.json()["error"]["code"] == "validation_error"


def test_only_admins_read_the_audit_log(audited: Server, admin: str) -> None:
    viewer_token = audited.login(add_user(audited, "viewer"), PASSWORD)
    trader_token = audited.login(add_user(audited, "trader"), PASSWORD)
    for token in (viewer_token, trader_token):
        with audited.client(token) as client:
            assert client.get(AUDIT).json()["error"]["code"] == "forbidden"
    with audited.client() as client:
        assert client.get(AUDIT).status_code == 401
    bound = create_key(audited, admin, scopes=["read", "trade", "admin"], account="paper")
    with httpx.Client(base_url=audited.base_url, headers={"X-API-Key": bound["key"]}) as client:
        assert client.get(AUDIT).status_code == 403
    unbound = create_key(audited, admin, scopes=["read", "admin"])
    with httpx.Client(base_url=audited.base_url, headers={"X-API-Key": unbound["key"]}) as client:
        assert client.get(AUDIT).status_code == 200


def test_rows_of_answered_requests_survive_a_graceful_stop(tmp_path: Path) -> None:
    server = start_server(write_config(tmp_path))
    rid = request_id()
    token = server.login()
    with server.client(token) as client:
        assert client.post(ORDERS, json=ORDER, headers={"X-Request-ID": rid}).status_code == 201
    assert server.stop() == 0  # at once: the row may still be waiting in the writer's queue
    again = start_server(server.config)
    try:
        row = row_of(again, again.login(), rid)
        assert (row["action"], row["status"]) == ("place order 600519.SH buy 100 @ 1400.00", 201)
    finally:
        assert again.stop() == 0
