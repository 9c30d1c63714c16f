"""Input read exactly as written, on a real server: numbers are JSON numbers or plain decimal
texts, symbols match the symbol grammar, a JSON key is given once, integers fit what is
stored. Anything else is a 4xx JSON error that changes nothing (never a 500, never an
order)."""

import json
from typing import Any

import httpx
import pytest

ORDERS = "/api/v1/accounts/paper/orders"
QUOTES = "/api/v1/paper/paper/quotes"
RISK = "/api/v1/accounts/paper/risk"
GOOD = {"symbol": "600519.SH", "side": "buy", "qty": 100, "limit_price": "1400.00"}
BIG = 2**64


def orders_and_cash(api: httpx.Client) -> tuple[Any, ...]:
    summary = api.get("/api/v1/accounts/paper").json()
    orders = api.get(ORDERS, params={"status": "all", "limit": 1000}).json()
    return (summary["cash"], summary["frozen"], len(orders))


def assert_refused(response: httpx.Response, status: int = 422) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    assert error["code"] == ("validation_error" if status == 422 else "bad_request")
    assert error["message"]
    return error


LENIENT_ORDERS = [
    ("underscore in a price", GOOD | {"limit_price": "1_400"}),
    ("Arabic-Indic digits", GOOD | {"limit_price": "١٤٠٠"}),
    ("full-width digits", GOOD | {"limit_price": "１４００"}),
    ("leading space", GOOD | {"limit_price": " 1400"}),
    ("trailing newline", GOOD | {"limit_price": "1400\n"}),
    ("exponent in a text", GOOD | {"limit_price": "1.4e3"}),
    ("boolean price", GOOD | {"limit_price": True}),
    ("symbol with a newline", GOOD | {"symbol": "600519.SH\n"}),
    ("symbol with a space", GOOD | {"symbol": " 600519.SH"}),
    ("venue that only upper-cases to SH", GOOD | {"symbol": "600519.ſh"}),
    ("ticker in full-width digits", GOOD | {"symbol": "６００５１９.SH"}),
    ("huge qty", GOOD | {"qty": BIG}),
]


@pytest.mark.parametrize(("case", "body"), LENIENT_ORDERS, ids=[c for c, _ in LENIENT_ORDERS])
def test_lenient_order_input_places_nothing(
    api: httpx.Client, case: str, body: dict[str, Any]
) -> None:
    before = orders_and_cash(api)
    assert_refused(api.post(ORDERS, json=body))
    assert orders_and_cash(api) == before


def test_plain_decimal_texts_and_numbers_are_accepted(api: httpx.Client) -> None:
    for price in ("1400", "1400.00", 1400, 1400.5):
        response = api.post(ORDERS, json=GOOD | {"limit_price": price})
        assert response.status_code == 201, response.text


def raw_post(api: httpx.Client, path: str, text: str) -> httpx.Response:
    return api.post(path, content=text.encode(), headers={"Content-Type": "application/json"})


def test_a_key_given_twice_is_refused(api: httpx.Client) -> None:
    """`json` kept the last one: this placed an order of 200."""
    before = orders_and_cash(api)
    body = '{"symbol": "600519.SH", "side": "buy", "qty": 100, "qty": 200, "limit_price": "1400"}'
    error = assert_refused(raw_post(api, ORDERS, body))
    assert error["details"]["field"] == "qty"
    nested = '{"symbol": "600519.SH", "last": "1500", "x": {"a": 1, "a": 2}}'
    assert assert_refused(raw_post(api, QUOTES, nested))["details"]["field"] == "a"
    assert orders_and_cash(api) == before


def test_a_body_nested_thousands_deep_is_refused(api: httpx.Client) -> None:
    deep = '{"symbol": ' + "[" * 5000 + "]" * 5000 + "}"
    assert "nested" in assert_refused(raw_post(api, ORDERS, deep))["message"]
    shallow_enough = '{"symbol": ' + "[" * 20 + "]" * 20 + "}"
    assert_refused(raw_post(api, ORDERS, shallow_enough))  # a wrong symbol, nothing worse


@pytest.mark.parametrize("word", ["NaN", "Infinity", "-Infinity"])
def test_words_that_are_not_json_are_a_bad_request(api: httpx.Client, word: str) -> None:
    body = f'{{"symbol": "600519.SH", "side": "buy", "qty": 100, "limit_price": {word}}}'
    assert_refused(raw_post(api, ORDERS, body), 400)


def quote_now(api: httpx.Client) -> dict[str, Any]:
    (quote,) = api.get("/api/v1/market/quotes", params={"symbols": "600519.SH"}).json()
    return {k: v for k, v in quote.items() if k != "time"}


@pytest.mark.parametrize(
    "fields",
    [
        {"bid_size": BIG},
        {"ask_size": BIG * 10**6},
        {"bid_size": 2**63},
        {"ask_size": 10**12 + 1},
        {"last": BIG},
        {"last": "1_500"},
        {"pre_close": "١٥٠٠"},
    ],
    ids=[
        "bid_size 2^64",
        "ask_size beyond",
        "bid_size 2^63",
        "ask_size over 10^12",
        "last 2^64",
        "last with underscore",
        "pre_close Arabic-Indic",
    ],
)
def test_quote_bodies_out_of_range_are_422(api: httpx.Client, fields: dict[str, Any]) -> None:
    """2^64 and beyond gave 500 (the engine codec overflowed); 2^63 was stored."""
    before = quote_now(api)
    assert_refused(api.post(QUOTES, json={"symbol": "600519.SH", "last": "1500.00"} | fields))
    assert quote_now(api) == before


@pytest.mark.parametrize(
    "fields",
    [
        {"max_order_qty": BIG},
        {"max_order_qty": 2**63},
        {"max_orders_per_second": 10**13},
        {"max_open_orders": BIG},
        {"max_order_notional": BIG * BIG},
        {"max_order_notional": "1E+99999"},
        {"max_order_notional": "1_000_000"},
        {"max_position_notional": 10**19},
        {"price_band_pct": "١٠"},
    ],
    ids=lambda fields: ",".join(f"{k}={str(v)[:12]}" for k, v in fields.items()),
)
def test_risk_bodies_out_of_range_are_422(api: httpx.Client, fields: dict[str, Any]) -> None:
    before = api.get(RISK).json()
    assert_refused(api.put(RISK, json=fields))
    assert api.get(RISK).json() == before


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/api/v1/audit", {"after": str(BIG)}),
        ("/api/v1/audit", {"after": str(2**63)}),
        ("/api/v1/market/quotes", {"symbols": "600519.SH\n"}),
        ("/api/v1/market/quotes", {"symbols": "600519.SH, 000001.SZ"}),
        (ORDERS, {"symbol": "600519.SH "}),
        (ORDERS, {"limit": "١٠"}),
    ],
    ids=[
        "audit after 2^64",
        "audit after 2^63",
        "symbol newline",
        "space after comma",
        "symbol space",
        "Arabic-Indic limit",
    ],
)
def test_query_parameters_out_of_range_are_422(
    api: httpx.Client, path: str, params: dict[str, str]
) -> None:
    assert_refused(api.get(path, params=params))


def test_the_largest_stored_integers_still_work(api: httpx.Client) -> None:
    reply = api.get("/api/v1/audit", params={"after": str(2**63 - 1)})
    assert reply.status_code == 200, reply.text
    assert reply.json() == []
    ok = api.post(QUOTES, json={"symbol": "600519.SH", "last": "1500.00", "bid_size": 10**12})
    assert ok.status_code == 200, ok.text
    assert json.loads(ok.text)["bid_size"] == 10**12
