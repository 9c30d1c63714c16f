"""`/api/v1/keys` (on both databases) and the credentials that behave as keys."""

import hashlib
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine
from starlette.requests import Request
from tests.api.auth_support import PASSWORD, add_user, create_key
from tests.conftest import Server

from tradebridge.api.deps import Authenticator, httptrading_tokens
from tradebridge.api.security import Scope, TokenIssuer
from tradebridge.config import PaperAccount, Settings
from tradebridge.domain.errors import Forbidden, Unauthorized
from tradebridge.store.database import create_db_engine
from tradebridge.store.migrate import upgrade

ORDER = {"symbol": "600519.SH", "side": "buy", "qty": 100, "limit_price": "1400.00"}
LISTED_FIELDS = {"id", "user", "prefix", "scopes", "account", "created_at", "revoked_at"}


def keys_of(server: Server, token: str, **params: str) -> list[dict[str, Any]]:
    with server.client(token) as client:
        response = client.get("/api/v1/keys", params=params)
    assert response.status_code == 200, response.text
    listed: list[dict[str, Any]] = response.json()
    return listed


def orders_status(server: Server, key: str) -> int:
    with httpx.Client(base_url=server.base_url, headers={"X-API-Key": key}) as client:
        return client.get("/api/v1/accounts/paper/orders").status_code


def test_a_key_is_shown_once_and_listed_without_secrets(each_db_server: Server) -> None:
    server = each_db_server
    trader = server.login(add_user(server, "trader"), PASSWORD)
    created = create_key(server, trader, scopes=["trade", "read"], account="paper")
    key = created.pop("key")
    assert key.startswith("tbk_")
    assert created["prefix"] == key[:12]
    assert created["scopes"] == ["read", "trade"]
    assert created["account"] == "paper"
    assert created["revoked_at"] is None
    listed = keys_of(server, trader)
    assert listed == [created]
    assert set(listed[0]) == LISTED_FIELDS
    text = str(listed)
    assert key not in text
    assert hashlib.sha256(key.encode()).hexdigest() not in text
    with httpx.Client(base_url=server.base_url, headers={"X-API-Key": key}) as client:
        assert client.post("/api/v1/accounts/paper/orders", json=ORDER).status_code == 201


def test_keys_have_at_most_the_scopes_of_their_maker(server: Server) -> None:
    viewer = server.login(add_user(server, "viewer"), PASSWORD)
    trader = server.login(add_user(server, "trader"), PASSWORD)
    with server.client(viewer) as client:
        assert client.post("/api/v1/keys", json={"scopes": ["read"]}).status_code == 201
        for scopes in (["trade"], ["read", "admin"]):
            refused = client.post("/api/v1/keys", json={"scopes": scopes})
            assert refused.status_code == 403, scopes
            assert refused.json()["error"]["code"] == "forbidden"
    with server.client(trader) as client:
        assert client.post("/api/v1/keys", json={"scopes": ["read", "trade"]}).status_code == 201
        assert client.post("/api/v1/keys", json={"scopes": ["admin"]}).status_code == 403
        for body in ({"scopes": []}, {"scopes": ["root"]}, {"scopes": ["read"], "x": 1}):
            assert client.post("/api/v1/keys", json=body).status_code == 422, body
        unknown = client.post("/api/v1/keys", json={"scopes": ["read"], "account": "nowhere"})
        assert unknown.status_code == 422
        assert unknown.json()["error"]["details"]["field"] == "account"


def test_admins_make_and_see_keys_of_others_within_their_roles(server: Server) -> None:
    admin = server.login()
    viewer_name = add_user(server, "viewer")
    viewer = server.login(viewer_name, PASSWORD)
    made = create_key(server, admin, scopes=["read"], user=viewer_name)
    assert made["user"] == viewer_name
    with server.client(admin) as client:
        beyond_role = client.post("/api/v1/keys", json={"scopes": ["trade"], "user": viewer_name})
        no_user = client.post("/api/v1/keys", json={"scopes": ["read"], "user": "nobody-here"})
    assert beyond_role.status_code == 422
    assert no_user.status_code == 422
    assert [k["id"] for k in keys_of(server, viewer)] == [made["id"]]
    assert made["id"] in [k["id"] for k in keys_of(server, admin)]
    assert [k["id"] for k in keys_of(server, admin, user=viewer_name)] == [made["id"]]
    with server.client(viewer) as client:
        assert client.get("/api/v1/keys", params={"user": "admin"}).status_code == 403
        for_admin = client.post("/api/v1/keys", json={"scopes": ["read"], "user": "admin"})
        assert for_admin.status_code == 403


def test_only_logins_and_admin_keys_make_keys(server: Server) -> None:
    admin = server.login()
    read_key = create_key(server, admin, scopes=["read"])["key"]
    trade_key = create_key(server, admin, scopes=["read", "trade"])["key"]
    admin_key = create_key(server, admin, scopes=["read", "admin"])["key"]
    bound_admin_key = create_key(server, admin, scopes=["read", "admin"], account="paper")["key"]
    for key, expected in ((read_key, 403), (trade_key, 403), (admin_key, 201)):
        with httpx.Client(base_url=server.base_url, headers={"X-API-Key": key}) as client:
            response = client.post("/api/v1/keys", json={"scopes": ["read"]})
        assert response.status_code == expected, response.text
    with httpx.Client(base_url=server.base_url, headers={"X-API-Key": bound_admin_key}) as client:
        inherits = client.post("/api/v1/keys", json={"scopes": ["read"]})
        elsewhere = client.post("/api/v1/keys", json={"scopes": ["read"], "account": "other"})
    assert inherits.json()["account"] == "paper"  # a bound maker makes bound keys
    assert elsewhere.status_code == 403


def test_revoked_keys_stop_at_once_and_only_owners_and_admins_revoke(
    each_db_server: Server,
) -> None:
    server = each_db_server
    admin = server.login()
    owner = server.login(add_user(server, "trader"), PASSWORD)
    stranger = server.login(add_user(server, "trader"), PASSWORD)
    first = create_key(server, owner, scopes=["read"])
    second = create_key(server, owner, scopes=["read"])
    assert orders_status(server, first["key"]) == 200
    with server.client(stranger) as client:
        refused = client.delete(f"/api/v1/keys/{first['id']}")
    assert refused.status_code == 404
    assert orders_status(server, first["key"]) == 200
    with server.client(owner) as client:
        revoked = client.delete(f"/api/v1/keys/{first['id']}")
        again = client.delete(f"/api/v1/keys/{first['id']}")
    assert revoked.status_code == 200
    assert revoked.json()["revoked_at"] is not None
    assert again.json()["revoked_at"] == revoked.json()["revoked_at"]
    assert orders_status(server, first["key"]) == 401
    with server.client(admin) as client:
        assert client.delete(f"/api/v1/keys/{second['id']}").status_code == 200
        assert client.delete("/api/v1/keys/01NOSUCHKEY000000000000000").status_code == 404
    assert orders_status(server, second["key"]) == 401
    states = {k["id"]: k["revoked_at"] is not None for k in keys_of(server, owner)}
    assert states == {first["id"]: True, second["id"]: True}


# --------------------------------------------------------------------------- in process

HT_TOKEN = "Vt5UCW2sLBvgPXjR"


@pytest.fixture
def db(tmp_path: Path) -> Engine:
    engine = create_db_engine(f"sqlite:///{tmp_path / 'users.db'}")
    upgrade(engine)
    return engine


def request_with(*headers: tuple[str, str]) -> Request:
    raw = [(name.encode(), value.encode()) for name, value in headers]
    return Request({"type": "http", "headers": raw})


def test_httptrading_tokens_are_keys_bound_to_their_account(db: Engine) -> None:
    settings = Settings(
        accounts=[
            PaperAccount(id="paper", httptrading_tokens=[HT_TOKEN]),
            PaperAccount(id="other"),
        ]
    )
    assert httptrading_tokens(settings) == {HT_TOKEN: "paper"}
    authenticator = Authenticator(TokenIssuer("s" * 64, "HS256", 60), db, {HT_TOKEN: "paper"})
    for header in (("x-api-key", HT_TOKEN), ("authorization", f"Bearer {HT_TOKEN}")):
        principal = authenticator.authenticate(request_with(header))
        assert principal.account == "paper"
        assert principal.scopes == {Scope.READ, Scope.TRADE}
        principal.require(Scope.TRADE, "paper")
        with pytest.raises(Forbidden):
            principal.require(Scope.TRADE, "other")
        with pytest.raises(Forbidden):
            principal.require(Scope.ADMIN, "paper")
    for wrong in (HT_TOKEN.lower(), HT_TOKEN + "x", HT_TOKEN[:-1]):
        with pytest.raises(Unauthorized):
            authenticator.authenticate(request_with(("x-api-key", wrong)))
    without = Authenticator(TokenIssuer("s" * 64, "HS256", 60), db)
    with pytest.raises(Unauthorized):
        without.authenticate(request_with(("x-api-key", HT_TOKEN)))
