"""`GET/PUT /accounts/{id}/risk` and the refusals they cause, against a real `tradebridge
serve` of this module's own (its config sets `max_order_qty = 500`)."""

import subprocess
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.conftest import Server, start_server, tradebridge_command, write_config

RISK = "/api/v1/accounts/paper/risk"
ORDERS = "/api/v1/accounts/paper/orders"
MOUTAI = "600519.SH"  # manual market: last 1500.00, bid 1499.99, ask 1500.01
APPLE = "AAPL.US"  # last 230.00, bid 229.99, ask 230.01; T+0

CONFIGURED = {
    "trading_state": "active",
    "max_order_qty": 500,
    "max_order_notional": None,
    "max_orders_per_second": None,
    "max_open_orders": None,
    "price_band_pct": None,
    "max_position_notional": None,
}
RISK_TOML = "[accounts.risk]\nmax_order_qty = 500\n"


@pytest.fixture(scope="module")
def risk_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = start_server(write_config(tmp_path_factory.mktemp("risk"), RISK_TOML))
    yield running
    assert running.stop() == 0


@pytest.fixture
def api(risk_server: Server) -> Iterator[httpx.Client]:
    """An admin client; the paper reset after each test also puts the risk settings back to
    the config file's."""
    with risk_server.client(risk_server.login()) as client:
        yield client
        client.post("/api/v1/paper/paper/reset").raise_for_status()


def place(api: httpx.Client, **fields: Any) -> httpx.Response:
    body = {"symbol": MOUTAI, "side": "buy", "qty": 100, "limit_price": "1490.00"} | fields
    return api.post(ORDERS, json=body)


def assert_refused(response: httpx.Response, api: httpx.Client, reason: str) -> str:
    """The order was refused for `reason` and recorded as rejected; the error message."""
    assert response.status_code == 422
    error = response.json()["error"]
    assert (error["code"], error["details"]["reason"]) == ("order_rejected", reason)
    order = api.get(f"{ORDERS}/{error['details']['order_id']}").json()
    assert (order["status"], order["reject_reason"]) == ("rejected", reason)
    return str(error["message"])


def client_as(server: Server, role: str) -> httpx.Client:
    name, password = f"r{uuid.uuid4().hex[:8]}", "a-long-enough-password"
    added = subprocess.run(
        tradebridge_command("user", "add", name, "--role", role, "--config", str(server.config)),
        input=password + "\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert added.returncode == 0, added.stderr
    return server.client(server.login(name, password))


def test_get_shows_the_configured_limits(api: httpx.Client) -> None:
    response = api.get(RISK)
    assert response.status_code == 200
    assert response.json() == CONFIGURED


def test_what_is_read_can_be_written_back(api: httpx.Client) -> None:
    api.put(RISK, json={"trading_state": "halted", "price_band_pct": 5})
    changed = api.get(RISK).json()
    api.post("/api/v1/paper/paper/reset").raise_for_status()
    assert api.get(RISK).json() == CONFIGURED
    written = api.put(RISK, json=changed)
    assert written.status_code == 200
    assert (
        written.json() == changed == CONFIGURED | {"trading_state": "halted", "price_band_pct": 5}
    )


def test_max_order_notional_refuses_and_records_the_order(api: httpx.Client) -> None:
    response = api.put(RISK, json={"max_order_notional": 200000})
    assert response.status_code == 200
    assert response.json() == CONFIGURED | {"max_order_notional": 200000}
    assert api.get(RISK).json() == response.json()

    message = assert_refused(place(api, qty=200), api, "risk_limit")
    assert "max_order_notional 200000" in message
    assert place(api, qty=100).status_code == 201  # 149,000


def test_max_order_qty_from_the_config_file_and_null_clears_it(api: httpx.Client) -> None:
    apple = {"symbol": APPLE, "limit_price": "229.00", "qty": 1000}
    assert "max_order_qty 500" in assert_refused(place(api, **apple), api, "risk_limit")
    cleared = api.put(RISK, json={"max_order_qty": None})
    assert cleared.json()["max_order_qty"] is None
    assert place(api, **apple).status_code == 201


def test_halted_refuses_new_orders_and_still_cancels(api: httpx.Client) -> None:
    resting = place(api).json()
    response = api.put(RISK, json={"trading_state": "halted"})
    assert response.json()["trading_state"] == "halted"
    (account,) = api.get("/api/v1/accounts").json()
    assert account["trading_state"] == "halted"

    assert "halted" in assert_refused(place(api), api, "trading_halted")
    canceled = api.delete(f"{ORDERS}/{resting['id']}")
    assert canceled.status_code == 200
    assert canceled.json()["status"] == "canceled"

    api.put(RISK, json={"trading_state": "active"})
    assert place(api).status_code == 201


def test_reducing_accepts_only_what_reduces_a_position(api: httpx.Client) -> None:
    bought = place(api, symbol=APPLE, qty=300, limit_price="230.01")
    assert bought.json()["status"] == "filled"
    api.put(RISK, json={"trading_state": "reducing"})

    buy = place(api, symbol=APPLE, qty=100, limit_price="230.01")
    assert "reducing" in assert_refused(buy, api, "trading_halted")
    oversell = place(api, symbol=APPLE, side="sell", qty=400, limit_price="229.99")
    assert_refused(oversell, api, "trading_halted")
    sell = place(api, symbol=APPLE, side="sell", qty=300, limit_price="229.99")
    assert sell.status_code == 201
    assert sell.json()["status"] == "filled"


def test_viewers_and_traders_may_read_but_not_change(risk_server: Server) -> None:
    for role in ("viewer", "trader"):
        with client_as(risk_server, role) as client:
            assert client.get(RISK).json() == CONFIGURED
            refused = client.put(RISK, json={"trading_state": "halted"})
            assert refused.status_code == 403
            assert refused.json()["error"]["code"] == "forbidden"
    with risk_server.client(risk_server.login()) as admin:
        assert admin.get(RISK).json() == CONFIGURED


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"max_order_qty": 0}, "max_order_qty"),
        ({"max_order_qty": 1.5}, "max_order_qty"),
        ({"max_order_qty": True}, "max_order_qty"),
        ({"max_order_notional": -5}, "max_order_notional"),
        ({"price_band_pct": "wide"}, "price_band_pct"),
        ({"trading_state": "paused"}, "trading_state"),
        ({"trading_state": None}, "trading_state"),
        ({"max_open_orders": 5, "max_orders": 5}, "max_orders"),
    ],
)
def test_bad_bodies_name_the_field_and_change_nothing(
    api: httpx.Client, body: dict[str, Any], field: str
) -> None:
    response = api.put(RISK, json=body)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert [e["field"] for e in error["details"]["errors"]] == [field]
    assert api.get(RISK).json() == CONFIGURED


def test_bodies_that_are_not_a_json_object_are_refused(api: httpx.Client) -> None:
    not_an_object = api.put(RISK, json=[{"max_order_qty": 5}])
    assert not_an_object.status_code == 422
    assert not_an_object.json()["error"]["code"] == "validation_error"
    form = api.put(RISK, data={"max_order_qty": "5"})
    assert form.status_code == 400
    assert form.json()["error"]["code"] == "bad_request"
    assert api.get(RISK).json() == CONFIGURED


def test_an_unknown_account_is_not_found(api: httpx.Client) -> None:
    assert api.get("/api/v1/accounts/nope/risk").status_code == 404
    response = api.put("/api/v1/accounts/nope/risk", json={"trading_state": "halted"})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_a_paper_reset_puts_the_configured_settings_back(api: httpx.Client) -> None:
    api.put(RISK, json={"trading_state": "halted", "max_order_qty": None})
    api.post("/api/v1/paper/paper/reset").raise_for_status()
    assert api.get(RISK).json() == CONFIGURED


def test_changes_survive_a_restart(tmp_path: Path) -> None:
    config = write_config(tmp_path, RISK_TOML)
    server = start_server(config)
    try:
        with server.client(server.login()) as api:
            changed = api.put(
                RISK, json={"max_order_notional": "100000.50", "trading_state": "reducing"}
            ).json()
        assert server.stop() == 0
        server = start_server(config)
        with server.client(server.login()) as api:
            after = api.get(RISK).json()
            assert "reducing" in assert_refused(place(api), api, "trading_halted")
    finally:
        server.stop()
    assert after == changed
    assert Decimal(str(after["max_order_notional"])) == Decimal("100000.50")
    assert after["trading_state"] == "reducing"
    assert after["max_order_qty"] == 500
