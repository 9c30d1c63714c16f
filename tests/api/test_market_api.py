"""Market data routes and the paper clock."""

from decimal import Decimal

import httpx


def test_contracts_filter_by_venue_and_text(api: httpx.Client) -> None:
    hk = api.get("/api/v1/market/contracts", params={"venue": "hk"}).json()
    assert {"00700.HK", "00005.HK", "02800.HK", "09988.HK"} <= {c["symbol"] for c in hk}
    assert all(c["symbol"].endswith(".HK") and c["currency"] == "HKD" for c in hk)
    moutai = api.get("/api/v1/market/contracts", params={"q": "茅台"}).json()
    assert [c["symbol"] for c in moutai] == ["600519.SH"]
    (contract,) = moutai
    assert (contract["lot_size"], Decimal(str(contract["tick_size"]))) == (100, Decimal("0.01"))
    futures = api.get("/api/v1/market/contracts", params={"venue": "SHFE"}).json()
    assert {"cu2601.SHFE", "rb2601.SHFE"} <= {c["symbol"] for c in futures}
    unknown = api.get("/api/v1/market/contracts", params={"venue": "XX"})
    assert unknown.status_code == 422


def test_quotes_for_several_symbols(api: httpx.Client) -> None:
    quotes = api.get("/api/v1/market/quotes", params={"symbols": "600519.sh,00700.HK"}).json()
    assert [q["symbol"] for q in quotes] == ["600519.SH", "00700.HK"]
    for quote in quotes:
        assert Decimal(str(quote["bid"])) < Decimal(str(quote["ask"]))
    missing = api.get("/api/v1/market/quotes", params={"symbols": "999999.SH"})
    assert missing.status_code == 404


def test_status_per_venue_with_the_broker_value_beside(api: httpx.Client) -> None:
    statuses = api.get("/api/v1/market/status").json()
    venues = {s["venue"] for s in statuses}
    assert {"SH", "SZ", "HK", "US", "SHFE"} <= venues
    unified = {
        "unknown",
        "pre_open",
        "auction",
        "open",
        "break",
        "closed",
        "pre_hours",
        "after_hours",
        "overnight",
    }
    assert all(s["status"] in unified and s["broker_status"] for s in statuses)


def test_bars_end_at_the_current_price(api: httpx.Client) -> None:
    for interval in ("1m", "5m", "1d"):
        bars = api.get(
            "/api/v1/market/bars", params={"symbol": "600519.SH", "interval": interval, "limit": 50}
        ).json()
        assert len(bars) == 50
        times = [b["time"] for b in bars]
        assert times == sorted(times)
        assert all(b["low"] <= min(b["open"], b["close"]) for b in bars)
        assert all(b["high"] >= max(b["open"], b["close"]) for b in bars)
    (quote,) = api.get("/api/v1/market/quotes", params={"symbols": "600519.SH"}).json()
    assert bars[-1]["close"] == quote["last"]
    bad = api.get("/api/v1/market/bars", params={"symbol": "600519.SH", "interval": "2h"})
    assert bad.status_code == 422


def test_clock_moves_forward_only(api: httpx.Client) -> None:
    now = api.post("/api/v1/paper/paper/clock", json={"advance": "next_session"}).json()["now"]
    past = api.post("/api/v1/paper/paper/clock", json={"to": "2020-01-01T00:00:00+08:00"})
    assert past.status_code == 422
    both = api.post("/api/v1/paper/paper/clock", json={"advance": "next_day", "to": now})
    neither = api.post("/api/v1/paper/paper/clock", json={})
    naive = api.post("/api/v1/paper/paper/clock", json={"to": "2030-01-01T00:00:00"})
    assert [r.status_code for r in (both, neither, naive)] == [422, 422, 422]
