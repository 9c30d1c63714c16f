"""Login tokens against a running server: forgeries, expiry, secret rotation, the login
throttle, and tokens kept out of URLs and logs."""

import base64
import json
import os
import stat
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest
from tests.api.auth_support import PASSWORD, add_user, cli, wait_until
from tests.conftest import ADMIN_PASSWORD, Server, start_server, write_config

from tradebridge.api.login_throttle import (
    FAILURES_PER_CLIENT,
    FAILURES_PER_USERNAME,
    LoginThrottle,
)

LOGIN = "/api/v1/auth/token"


def secret_of(server: Server) -> str:
    return (server.config.parent / "data" / "jwt_secret").read_text().strip()


def claims_of(server: Server, token: str) -> dict[str, Any]:
    claims: dict[str, Any] = jwt.decode(token, secret_of(server), algorithms=["HS256"])
    return claims


def status_with(server: Server, token: str) -> int:
    with server.client(token) as client:
        return client.get("/api/v1/accounts").status_code


def _b64(obj: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()


def forgeries(server: Server) -> dict[str, str]:
    """Tokens that must not open the door, most built on the claims of a real admin token."""
    real = claims_of(server, server.login())
    secret = secret_of(server)
    now = datetime.now(UTC)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jwt.warnings.InsecureKeyLengthWarning)
        signed_with_test = jwt.encode(real, "test")
    return {
        "alg-none": f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(real)}.",
        "alg-none-signed": f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(real)}.c2ln",
        "secret-test": signed_with_test,
        "other-secret": jwt.encode(real, "x" * 64),
        "other-algorithm": jwt.encode(real, secret, algorithm="HS512"),
        "expired": jwt.encode({**real, "exp": now - timedelta(seconds=1)}, secret),
        "issued-in-the-future": jwt.encode(
            {**real, "iat": now + timedelta(hours=1), "exp": now + timedelta(hours=2)}, secret
        ),
        "no-expiry": jwt.encode({k: v for k, v in real.items() if k != "exp"}, secret),
        "no-password-claim": jwt.encode({k: v for k, v in real.items() if k != "pwd"}, secret),
        "other-password": jwt.encode({**real, "pwd": "0" * 16}, secret),
        "unknown-user": jwt.encode({**real, "sub": "nobody"}, secret),
        "tampered-payload": real_token_with_payload(server, {**real, "sub": "nobody"}),
    }


def real_token_with_payload(server: Server, payload: dict[str, Any]) -> str:
    """A real token's header and signature around another payload."""
    header, _, signature = server.login().split(".")
    return f"{header}.{_b64(payload)}.{signature}"


def test_forged_and_expired_tokens_are_refused(server: Server) -> None:
    for name, token in forgeries(server).items():
        for headers in ({"Authorization": f"Bearer {token}"}, {"X-API-Key": token}):
            with httpx.Client(base_url=server.base_url, headers=headers) as client:
                response = client.get("/api/v1/accounts")
            assert response.status_code == 401, (name, response.text)
            assert response.json()["error"]["code"] == "unauthorized"
            assert response.headers["www-authenticate"] == "Bearer"


def test_a_token_carries_expiry_and_issue_time(server: Server) -> None:
    with server.client() as client:
        body = client.post(LOGIN, data={"username": "admin", "password": ADMIN_PASSWORD}).json()
    claims = claims_of(server, body["access_token"])
    assert claims["exp"] - claims["iat"] == body["expires_in"] == 8 * 3600
    assert claims["sub"] == "admin"
    assert claims["role"] == "admin"
    assert jwt.get_unverified_header(body["access_token"])["alg"] == "HS256"


def test_tokens_in_the_query_string_are_not_accepted_on_rest(server: Server) -> None:
    token = server.login()
    with server.client() as client:
        response = client.get("/api/v1/accounts", params={"token": token})
    assert response.status_code == 401


# --------------------------------------------------------------------------- own server


@pytest.fixture(scope="module")
def own_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server whose secret these tests rotate and whose login throttle they fill; it logs
    at debug level, to show that no token reaches its log even then."""
    config = write_config(tmp_path_factory.mktemp("tokens"))
    config.write_text('log_level = "debug"\n' + config.read_text())
    server = start_server(config)
    yield server
    assert server.stop() == 0


def login_from(server: Server, address: str, username: str, password: str) -> httpx.Response:
    """A login from the loopback address `address` (127.0.0.0/8 all reach the server)."""
    transport = httpx.HTTPTransport(local_address=address)
    with httpx.Client(base_url=server.base_url, transport=transport, timeout=30) as client:
        return client.post(LOGIN, data={"username": username, "password": password})


def test_rotating_the_secret_refuses_earlier_tokens(own_server: Server) -> None:
    path = own_server.config.parent / "data" / "jwt_secret"
    before = path.read_text()
    token = own_server.login()
    assert status_with(own_server, token) == 200
    result = cli(own_server.config, "secret", "rotate")
    assert result.returncode == 0, result.stderr
    assert before not in result.stdout + result.stderr
    assert path.read_text() != before
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert sorted(p.name for p in path.parent.iterdir() if "jwt_secret" in p.name) == ["jwt_secret"]
    wait_until(lambda: status_with(own_server, token) == 401, "the old token is refused")
    assert status_with(own_server, own_server.login()) == 200


def test_failed_logins_of_one_username_are_throttled(own_server: Server) -> None:
    name = add_user(own_server, "viewer")
    for attempt in range(FAILURES_PER_USERNAME):
        response = login_from(own_server, f"127.0.1.{attempt + 1}", name, "wrong")
        assert response.status_code == 401, response.text
    refused = login_from(own_server, "127.0.1.200", name, PASSWORD)
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(refused.headers["retry-after"]) <= 300
    # Another username from the same address is not affected.
    assert login_from(own_server, "127.0.1.200", "admin", ADMIN_PASSWORD).status_code == 200


def test_a_good_login_forgets_the_failures_of_its_username(own_server: Server) -> None:
    name = add_user(own_server, "viewer")
    for _ in range(2):
        for _ in range(FAILURES_PER_USERNAME - 1):
            assert login_from(own_server, "127.0.2.1", name, "wrong").status_code == 401
        assert login_from(own_server, "127.0.2.2", name, PASSWORD).status_code == 200


def test_failed_logins_from_one_address_are_throttled_whatever_the_username(
    own_server: Server,
) -> None:
    address = "127.0.3.1"
    for attempt in range(FAILURES_PER_CLIENT - 1):
        response = login_from(own_server, address, f"guess-{attempt}", "wrong")
        assert response.status_code == 401, response.text
    # A good login in between does not reset the count of the address...
    assert login_from(own_server, address, "admin", ADMIN_PASSWORD).status_code == 200
    assert login_from(own_server, address, "guess-last", "wrong").status_code == 401
    refused = login_from(own_server, address, "admin", ADMIN_PASSWORD)
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) >= 1
    # ...and other addresses are not affected.
    assert login_from(own_server, "127.0.3.2", "admin", ADMIN_PASSWORD).status_code == 200


def test_tokens_and_passwords_never_reach_the_log(own_server: Server) -> None:
    token = own_server.login()
    with own_server.client() as client:
        client.get("/api/v1/accounts", params={"token": token})
        client.get("/api/v1/accounts", params={"api_key": "tbk_in-the-query-string"})
        client.post(LOGIN, data={"username": "admin", "password": "a-wrong-password-xyz"})
    with own_server.client(token) as client:
        client.get("/api/v1/accounts", params={"token": token})
    log = own_server.output()
    assert "Application startup complete" in log
    for secret in (token, token.split(".")[-1], "tbk_in-the-query-string", "a-wrong-password"):
        assert secret not in log
    assert ADMIN_PASSWORD not in log


def test_logins_under_way_count_until_their_outcome_is_known() -> None:
    throttle = LoginThrottle(failures_per_username=2, failures_per_client=100, window_seconds=60)
    assert throttle.admit("ana", "10.0.0.1") is None
    assert throttle.admit("ana", "10.0.0.2") is None
    assert throttle.admit("ana", "10.0.0.3") == 1  # two checks under way fill the limit
    throttle.finish("ana", "10.0.0.1", succeeded=None)  # not checked: counts neither way
    assert throttle.admit("ana", "10.0.0.3") is None
    throttle.finish("ana", "10.0.0.2", succeeded=False)
    throttle.finish("ana", "10.0.0.3", succeeded=False)
    wait = throttle.admit("ana", "10.0.0.4")
    assert wait is not None
    assert 1 <= wait <= 60
    assert throttle.admit("bob", "10.0.0.4") is None
