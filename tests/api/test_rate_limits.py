"""Rate limits (`[rate_limits]`) of a real server: per caller for the API, per account for
orders; 429 `rate_limited` with `Retry-After` and the RateLimit headers, then recovery."""

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx
import pytest
from tests.api.auth_support import PASSWORD, add_user
from tests.conftest import Server, start_server, write_config

API_LIMIT = 5
LIMITS = f"""
[[accounts]]
id = "other"

[accounts.paper]
market = "manual"

[rate_limits]
api = "{API_LIMIT}/second"
orders = "3/minute"
"""
"""`orders` per minute: the order test needs no timing; it uses the account `other` alone."""

ORDER = {"symbol": "600519.SH", "side": "buy", "qty": 100, "limit_price": "1400.00"}
OTHER_ORDERS = "/api/v1/accounts/other/orders"


@dataclass(frozen=True)
class Limited:
    server: Server
    admin: str
    traders: dict[str, str]
    """Two traders: name → token."""


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Limited]:
    server = start_server(write_config(tmp_path_factory.mktemp("limits"), LIMITS))
    admin = server.login()
    names = [add_user(server, "trader") for _ in range(2)]
    yield Limited(server, admin, {name: server.login(name, PASSWORD) for name in names})
    assert server.stop() == 0


def until_limited(client: httpx.Client, path: str, attempts: int = 50) -> list[httpx.Response]:
    """GET `path` until one answer is 429; every answer, that one last."""
    answers = []
    for _ in range(attempts):
        answers.append(client.get(path))
        if answers[-1].status_code == 429:
            return answers
    raise AssertionError(f"no 429 in {attempts} requests: {[a.status_code for a in answers]}")


def patiently(call: Callable[[], httpx.Response]) -> httpx.Response:
    """`call()`, again after the wait a 429 asks for: for the checks around the limit under
    test, which may meet the (tiny) per-caller limit of this module's server."""
    answer = call()
    if answer.status_code == 429:
        sit_out(answer)
        answer = call()
    return answer


def sit_out(refused: httpx.Response) -> None:
    """Wait as long as a 429 says, so the next test starts with a fresh count."""
    time.sleep(int(refused.headers["Retry-After"]) + 0.1)


def test_caller_over_the_api_limit_gets_429_with_headers_then_recovers(limited: Limited) -> None:
    with limited.server.client(limited.admin) as client:
        answers = until_limited(client, "/api/v1/accounts")
        *allowed, refused = answers
        assert allowed, "the first request of a caller is never refused"
        for answer in allowed:
            assert answer.status_code == 200
            assert answer.headers["RateLimit-Limit"] == str(API_LIMIT)
            assert answer.headers["RateLimit-Policy"] == f"{API_LIMIT};w=1"
            assert 0 <= int(answer.headers["RateLimit-Remaining"]) < API_LIMIT
        error = refused.json()["error"]
        assert error["code"] == "rate_limited"
        assert error["details"]["scope"] == "caller"
        assert error["details"]["limit"] == f"{API_LIMIT}/second"
        retry_after = int(refused.headers["Retry-After"])
        assert retry_after >= 1
        assert error["details"]["retry_after"] == retry_after
        assert refused.headers["RateLimit-Remaining"] == "0"
        assert int(refused.headers["RateLimit-Reset"]) >= 1

        sit_out(refused)
        again = client.get("/api/v1/accounts")
        assert again.status_code == 200
        assert [a["id"] for a in again.json()] == ["paper", "other"]


def test_each_caller_and_anonymous_address_has_its_own_count(limited: Limited) -> None:
    trader_token = next(iter(limited.traders.values()))
    with limited.server.client(limited.admin) as admin:
        refused = until_limited(admin, "/api/v1/accounts")[-1]
        with limited.server.client(trader_token) as trader:
            assert trader.get("/api/v1/accounts").status_code == 200
        with limited.server.client() as anonymous:
            answers = until_limited(anonymous, "/api/v1/accounts")
        assert {a.status_code for a in answers[:-1]} == {401}
        assert answers[-1].json()["error"]["code"] == "rate_limited"
    sit_out(refused)


def test_health_metrics_and_docs_are_not_counted(limited: Limited) -> None:
    with limited.server.client(limited.admin) as client:
        refused = until_limited(client, "/api/v1/accounts")[-1]
        for path in ("/api/v1/health", "/metrics", "/openapi.json", "/static/style.css"):
            answer = client.get(path)
            assert answer.status_code == 200, path
            assert "RateLimit-Limit" not in answer.headers
        # the page itself is counted (only the files under /static are not)
        assert client.get("/").status_code == 429
    sit_out(refused)


def test_orders_are_limited_per_account_whoever_places_them(limited: Limited) -> None:
    (_, first_token), (second, second_token) = limited.traders.items()
    placed = []
    with (
        limited.server.client(limited.admin) as admin,
        limited.server.client(first_token) as one,
        limited.server.client(second_token) as two,
    ):
        for client in (one, two, one):
            answer = client.post(OTHER_ORDERS, json=ORDER)
            assert answer.status_code == 201, answer.text
            placed.append(answer.json()["id"])
        refused = two.post(OTHER_ORDERS, json=ORDER)
        assert refused.status_code == 429
        error = refused.json()["error"]
        assert error["details"] == {
            "limit": "3/minute",
            "scope": "account",
            "retry_after": int(refused.headers["Retry-After"]),
            "account": "other",
        }
        assert refused.headers["RateLimit-Limit"] == "3"
        # The refused order never reached the engine; another account is not affected.
        recorded = patiently(lambda: admin.get(OTHER_ORDERS)).json()
        assert [o["id"] for o in recorded] == placed
        placed_elsewhere = patiently(
            lambda: admin.post("/api/v1/accounts/paper/orders", json=ORDER)
        )
        assert placed_elsewhere.status_code == 201
        audit = patiently(
            lambda: admin.get(
                "/api/v1/audit", params={"result": "rate_limited", "account": "other"}
            )
        )
    (row,) = audit.json()
    assert row["actor"] == second
    assert row["status"] == 429
    assert row["path"] == OTHER_ORDERS
