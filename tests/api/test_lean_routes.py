"""The hot routes answered by `api.lean` answer as their FastAPI routes do: the same bodies,
headers and errors, and whatever they decline goes to those routes."""

import httpx

from tradebridge.api.compat.httptrading.lean import LEAN_ROUTES as HTTPTRADING_ROUTES
from tradebridge.api.lean import V1_ROUTES

ORDER = {"symbol": "600519.SH", "side": "buy", "qty": 100, "limit_price": "1400.00"}


def test_each_lean_route_stands_for_a_documented_route(api: httpx.Client) -> None:
    document = api.get("/openapi.json").json()
    for lean in (*V1_ROUTES, *HTTPTRADING_ROUTES):
        assert lean.method.lower() in document["paths"][lean.template]


def test_lean_answers_equal_the_fastapi_routes_answers(api: httpx.Client) -> None:
    placed = api.post("/api/v1/accounts/paper/orders", json={**ORDER, "client_order_id": "ln-1"})
    assert placed.status_code == 201
    assert placed.headers["content-type"] == "application/json"
    assert "x-request-id" in placed.headers
    order = placed.json()
    # Through FastAPI's routes (not lean): by client id, and in the list.
    by_client_id = api.get("/api/v1/accounts/paper/orders:by_client_id/ln-1")
    listed = api.get("/api/v1/accounts/paper/orders", params={"status": "all"}).json()
    one = api.get(f"/api/v1/accounts/paper/orders/{order['id']}")
    assert one.content == by_client_id.content
    assert one.json() in listed
    # HEAD is not lean: FastAPI's route answers it, with the same status.
    assert api.head(f"/api/v1/accounts/paper/orders/{order['id']}").status_code in (200, 405)
    retried = api.post("/api/v1/accounts/paper/orders", json={**ORDER, "client_order_id": "ln-1"})
    assert (retried.status_code, retried.json()) == (200, order)


def test_what_lean_declines_gets_the_routes_errors(api: httpx.Client) -> None:
    bad = api.post("/api/v1/accounts/paper/orders", json={**ORDER, "qty": 0})
    assert bad.status_code == 422
    assert bad.json()["error"]["details"]["field"] == "qty"
    not_json = api.post(
        "/api/v1/accounts/paper/orders",
        content=b"qty=1",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert not_json.status_code == 400
    anonymous = httpx.get(f"{api.base_url}/api/v1/accounts/paper")
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"] == "Bearer"
    assert anonymous.json()["error"]["code"] == "unauthorized"


def test_engine_errors_have_the_api_error_shape(api: httpx.Client) -> None:
    missing = api.get("/api/v1/accounts/paper/orders/nosuch")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"
    unknown = api.get("/api/v1/accounts/nosuch/positions")
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (404, "not_found")
    rejected = api.post("/api/v1/accounts/paper/orders", json={**ORDER, "qty": 150})
    assert rejected.status_code == 422
    assert rejected.json()["error"]["code"] == "order_rejected"
