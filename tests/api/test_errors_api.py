"""Bad input gets its error code and changes nothing (API.md §3)."""

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

ORDERS = "/api/v1/accounts/paper/orders"
GOOD = {"symbol": "600519.SH", "side": "buy", "qty": 100, "limit_price": "1400.00"}


def state(api: httpx.Client) -> tuple[Any, ...]:
    summary = api.get("/api/v1/accounts/paper").json()
    orders = api.get(ORDERS, params={"status": "open"}).json()
    positions = api.get("/api/v1/accounts/paper/positions").json()
    return (summary["cash"], summary["frozen"], len(orders), len(positions))


BAD_BODIES: list[tuple[str, dict[str, Any], str]] = [
    ("zero qty", GOOD | {"qty": 0}, "validation_error"),
    ("negative qty", GOOD | {"qty": -100}, "validation_error"),
    ("fractional qty", GOOD | {"qty": 100.5}, "validation_error"),
    ("qty as text", GOOD | {"qty": "100"}, "validation_error"),
    ("boolean qty", GOOD | {"qty": True}, "validation_error"),
    ("unknown side", GOOD | {"side": "long"}, "validation_error"),
    ("unknown type", GOOD | {"type": "stop"}, "validation_error"),
    ("unknown time in force", GOOD | {"time_in_force": "forever"}, "validation_error"),
    (
        "limit without price",
        {k: v for k, v in GOOD.items() if k != "limit_price"},
        "validation_error",
    ),
    ("market with price", GOOD | {"type": "market"}, "validation_error"),
    ("negative price", GOOD | {"limit_price": "-1"}, "validation_error"),
    ("price not a number", GOOD | {"limit_price": "abc"}, "validation_error"),
    ("infinite price", GOOD | {"limit_price": "Infinity"}, "validation_error"),
    ("malformed symbol", GOOD | {"symbol": "600519"}, "validation_error"),
    ("unknown venue", GOOD | {"symbol": "600519.XX"}, "validation_error"),
    ("client id too long", GOOD | {"client_order_id": "x" * 65}, "validation_error"),
    ("client id bad characters", GOOD | {"client_order_id": "a b"}, "validation_error"),
    ("unknown field", GOOD | {"price": "1400"}, "validation_error"),
    ("offset on a stock", GOOD | {"offset": "open"}, "validation_error"),
    ("missing symbol", {k: v for k, v in GOOD.items() if k != "symbol"}, "validation_error"),
]


@pytest.mark.parametrize(("case", "body", "code"), BAD_BODIES, ids=[c[0] for c in BAD_BODIES])
def test_bad_order_bodies(api: httpx.Client, case: str, body: dict[str, Any], code: str) -> None:
    before = state(api)
    response = api.post(ORDERS, json=body)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == code
    assert error["message"]
    assert state(api) == before


REFUSALS = [
    ("unknown symbol", GOOD | {"symbol": "999999.SH"}, "unknown_symbol"),
    ("off tick", GOOD | {"limit_price": "1400.001"}, "invalid_tick_size"),
    ("odd lot buy", GOOD | {"qty": 150}, "invalid_lot_size"),
    ("not enough cash", GOOD | {"qty": 100_000}, "insufficient_funds"),
    ("sell without position", GOOD | {"side": "sell"}, "insufficient_position"),
]


@pytest.mark.parametrize(("case", "body", "reason"), REFUSALS, ids=[c[0] for c in REFUSALS])
def test_refusals_are_recorded_and_change_no_balance(
    api: httpx.Client, case: str, body: dict[str, Any], reason: str
) -> None:
    before = state(api)
    response = api.post(ORDERS, json=body)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert (error["code"], error["details"]["reason"]) == ("order_rejected", reason)
    assert api.get(f"{ORDERS}/{error['details']['order_id']}").json()["status"] == "rejected"
    assert state(api) == before


def test_malformed_json_is_bad_request(api: httpx.Client) -> None:
    response = api.post(
        ORDERS, content=b'{"symbol": ', headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "bad_request"


def test_wrong_content_type_is_bad_request(api: httpx.Client) -> None:
    before = state(api)
    response = api.post(
        ORDERS, content=b'{"symbol": "600519.SH"}', headers={"Content-Type": "text/plain"}
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "bad_request"
    assert state(api) == before


def test_body_over_one_mebibyte_is_refused(api: httpx.Client) -> None:
    response = api.post(
        ORDERS,
        content=b"{" + b" " * (1024 * 1024 + 10) + b"}",
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"


def test_streamed_body_over_one_mebibyte_is_refused(api: httpx.Client) -> None:
    def chunks() -> Iterator[bytes]:
        yield b"{"
        for _ in range(20):
            yield b" " * 65536
        yield b"}"

    response = api.post(ORDERS, content=chunks(), headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/nowhere"),
        ("GET", "/no-such-page"),
        ("GET", "/api/v1/accounts/nobody"),
        ("GET", "/api/v1/accounts/paper/orders/01NOTANORDERID000000000000"),
        ("DELETE", "/api/v1/accounts/paper/orders/01NOTANORDERID000000000000"),
        ("POST", "/api/v1/accounts/nobody/orders"),
    ],
)
def test_not_found_is_json(api: httpx.Client, method: str, path: str) -> None:
    response = api.request(method, path, json=GOOD)
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["error"]["code"] == "not_found"


def test_bad_query_parameters(api: httpx.Client) -> None:
    for params in ({"limit": 0}, {"limit": 5000}, {"status": "pending"}, {"symbol": "bad"}):
        response = api.get(ORDERS, params=params)
        assert response.status_code == 422, params
        assert response.json()["error"]["code"] == "validation_error"


def test_paper_quote_validation(api: httpx.Client) -> None:
    bad = [
        {"symbol": "600519.SH", "last": "0"},
        {"symbol": "600519.SH", "last": "1500.00", "bid": "1501.00", "ask": "1500.00"},
        {"symbol": "600519.SH", "last": "1500.001"},
        {"symbol": "999999.SH", "last": "10.00"},
    ]
    for body in bad:
        response = api.post("/api/v1/paper/paper/quotes", json=body)
        assert response.status_code in (404, 422), body
        assert response.json()["error"]["code"] in ("validation_error", "not_found")
    summary = api.get("/api/v1/accounts/paper").json()
    assert Decimal(str(summary["cash"])) == Decimal("1000000.00")
