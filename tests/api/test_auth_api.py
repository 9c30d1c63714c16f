"""Login, tokens and the routes that need them (those that read users or keys on both
databases)."""

import base64
import json
import time
import warnings

import httpx
import jwt
import pytest
from tests.conftest import ADMIN_PASSWORD, Server


def test_health_needs_no_credentials(server: Server) -> None:
    with server.client() as client:
        body = client.get("/api/v1/health").json()
    assert body["status"] == "ok"
    assert body["engines"][0]["status"] == "up"
    assert body["version"]


def test_login_with_form_and_json(each_db_server: Server) -> None:
    with each_db_server.client() as client:
        form = client.post(
            "/api/v1/auth/token", data={"username": "admin", "password": ADMIN_PASSWORD}
        )
        as_json = client.post(
            "/api/v1/auth/token", json={"username": "admin", "password": ADMIN_PASSWORD}
        )
    for response in (form, as_json):
        assert response.status_code == 200
        body = response.json()
        assert body["token_type"] == "bearer"
        assert body["expires_in"] > 0
        assert body["access_token"].count(".") == 2


@pytest.mark.parametrize(
    ("username", "password"),
    [
        ("admin", "wrong"),
        ("admin", "admin"),
        ("admin", "password"),
        ("nobody", ADMIN_PASSWORD),
        ("root", "root"),
    ],
)
def test_wrong_credentials_are_unauthorized(
    each_db_server: Server, username: str, password: str
) -> None:
    with each_db_server.client() as client:
        response = client.post(
            "/api/v1/auth/token", data={"username": username, "password": password}
        )
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"


def test_login_needs_both_fields(server: Server) -> None:
    with server.client() as client:
        missing = client.post("/api/v1/auth/token", json={"username": "admin"})
        malformed = client.post(
            "/api/v1/auth/token", content=b"{", headers={"Content-Type": "application/json"}
        )
    assert missing.status_code == 422
    assert missing.json()["error"]["code"] == "validation_error"
    assert malformed.status_code == 400


def _forged_none_token() -> str:
    def part(obj: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    claims = {"sub": "admin", "role": "admin", "exp": int(time.time()) + 3600}
    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


def _token_signed_with_test() -> str:
    """vnpy WebTrader's hard-coded secret: must never open our door."""
    claims = {"sub": "admin", "role": "admin", "exp": int(time.time()) + 3600}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jwt.warnings.InsecureKeyLengthWarning)
        return jwt.encode(claims, "test")


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer garbage"},
        {"Authorization": "Basic YWRtaW46YWRtaW4="},
        {"Authorization": f"Bearer {_forged_none_token()}"},
        {"Authorization": f"Bearer {_token_signed_with_test()}"},
        {"X-API-Key": "tbk_not-a-real-key"},
    ],
    ids=["none", "garbage", "basic", "alg-none", "secret-test", "unknown-key"],
)
def test_protected_routes_refuse_bad_credentials(
    each_db_server: Server, headers: dict[str, str]
) -> None:
    with httpx.Client(base_url=each_db_server.base_url, headers=headers) as client:
        for path in ("/api/v1/accounts", "/api/v1/accounts/paper/orders"):
            response = client.get(path)
            assert response.status_code == 401, (path, response.text)
            assert response.json()["error"]["code"] == "unauthorized"


def test_openapi_and_docs_are_served(server: Server) -> None:
    with server.client() as client:
        spec = client.get("/openapi.json").json()
        docs = client.get("/docs")
    assert "/api/v1/accounts/{account}/orders" in spec["paths"]
    assert "Order" in spec["components"]["schemas"]
    assert docs.status_code == 200
    assert "text/html" in docs.headers["content-type"]
