"""`tradebridge user add` and `key create` against a running server's database (some on
both databases)."""

import subprocess
import uuid

import httpx
import pytest
from tests.conftest import Server, tradebridge_command

ORDER = {"symbol": "600519.SH", "side": "buy", "qty": 100, "limit_price": "1400.00"}


def run(server: Server, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        tradebridge_command(*args, "--config", str(server.config)),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


def new_user(server: Server, role: str) -> tuple[str, str]:
    name, password = f"u{uuid.uuid4().hex[:8]}", "a-long-enough-password"
    result = run(server, "user", "add", name, "--role", role, stdin=password + "\n")
    assert result.returncode == 0, result.stderr
    return name, password


def test_user_add_while_running_then_log_in(each_db_server: Server) -> None:
    name, password = new_user(each_db_server, "trader")
    token = each_db_server.login(name, password)
    with each_db_server.client(token) as client:
        response = client.post("/api/v1/accounts/paper/orders", json=ORDER)
    assert response.status_code == 201


def test_viewer_may_read_but_not_trade(server: Server) -> None:
    name, password = new_user(server, "viewer")
    with server.client(server.login(name, password)) as client:
        assert client.get("/api/v1/accounts/paper/orders").status_code == 200
        refused = client.post("/api/v1/accounts/paper/orders", json=ORDER)
        reset = client.post("/api/v1/paper/paper/reset")
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "forbidden"
    assert reset.status_code == 403


def test_trader_may_not_use_admin_routes(server: Server) -> None:
    name, password = new_user(server, "trader")
    with server.client(server.login(name, password)) as client:
        response = client.post(
            "/api/v1/paper/paper/quotes", json={"symbol": "600519.SH", "last": "1500.00"}
        )
    assert response.status_code == 403


def test_user_add_refuses_bad_input(each_db_server: Server) -> None:
    name, _ = new_user(each_db_server, "viewer")
    duplicate = run(each_db_server, "user", "add", name, "--password", "whatever-password")
    bad_role = run(
        each_db_server, "user", "add", "someone", "--role", "god", "--password", "x" * 12
    )
    empty = run(each_db_server, "user", "add", "someone2", stdin="\n")
    weak = run(each_db_server, "user", "add", f"w{uuid.uuid4().hex[:6]}", "--password", "abc")
    assert duplicate.returncode != 0
    assert "already exists" in duplicate.stderr
    assert bad_role.returncode != 0
    assert "role" in bad_role.stderr
    assert empty.returncode != 0
    assert "empty" in empty.stderr
    assert weak.returncode == 0
    assert "warning" in weak.stderr


def test_api_key_is_printed_once_on_the_last_line_and_works(each_db_server: Server) -> None:
    name, _ = new_user(each_db_server, "trader")
    result = run(each_db_server, "key", "create", "--user", name, "--scopes", "read,trade")
    assert result.returncode == 0, result.stderr
    key = result.stdout.strip().splitlines()[-1]
    assert key.startswith("tbk_")
    assert " " not in key
    for headers in ({"Authorization": f"Bearer {key}"}, {"X-API-Key": key}):
        with httpx.Client(base_url=each_db_server.base_url, headers=headers) as client:
            assert client.post("/api/v1/accounts/paper/orders", json=ORDER).status_code == 201


def test_read_key_cannot_trade_and_bound_key_sees_one_account(server: Server) -> None:
    name, _ = new_user(server, "trader")
    read_key = run(server, "key", "create", "--user", name, "--scopes", "read")
    bound_key = run(
        server, "key", "create", "--user", name, "--scopes", "read,trade", "--account", "paper"
    )
    read_only = read_key.stdout.strip().splitlines()[-1]
    bound = bound_key.stdout.strip().splitlines()[-1]
    with httpx.Client(base_url=server.base_url, headers={"X-API-Key": read_only}) as client:
        assert client.get("/api/v1/accounts/paper/orders").status_code == 200
        assert client.post("/api/v1/accounts/paper/orders", json=ORDER).status_code == 403
    with httpx.Client(base_url=server.base_url, headers={"X-API-Key": bound}) as client:
        assert [a["id"] for a in client.get("/api/v1/accounts").json()] == ["paper"]
        assert client.get("/api/v1/accounts/other/orders").status_code == 403


@pytest.mark.parametrize(
    "args",
    [
        ("key", "create", "--user", "nobody-at-all", "--scopes", "read"),
        ("key", "create", "--user", "admin", "--scopes", "root"),
        ("key", "create", "--user", "admin", "--scopes", "read", "--account", "missing"),
    ],
)
def test_key_create_refuses_bad_input(server: Server, args: tuple[str, ...]) -> None:
    result = run(server, *args)
    assert result.returncode == 2
    assert "error" in result.stderr
