"""Every REST route of /api/v1 through the Python client, against a real `tradebridge serve`.

`EXERCISES` holds, per function of `tradebridge_client.routes`, a use of the client's method
of that name with assertions on what it answers; `test_every_route_has_a_client_method`
checks the server's OpenAPI document against the client, so a new route without a client
method (or a client method for a route that went away) fails here.
"""

from __future__ import annotations

import inspect
import re
import uuid
from collections.abc import Callable
from datetime import time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import httpx
import pytest
from tests.client.conftest import admin_client
from tests.conftest import Server

from tradebridge_client import (
    AsyncClient,
    Client,
    OrderRejected,
    OrderStatus,
    Side,
    TradingState,
    Unauthorized,
    routes,
)
from tradebridge_client._exchange import Call

SYMBOL = "600519.SH"
SHANGHAI = ZoneInfo("Asia/Shanghai")
ASK = Decimal("1500.01")


def _cid() -> str:
    return f"rt-{uuid.uuid4().hex[:16]}"


def _rest(client: Client, price: str = "1400.00") -> str:
    """A buy resting below the market; its id."""
    order = client.buy("paper", SYMBOL, 100, limit_price=price)
    assert order.status is OrderStatus.NEW
    return order.id


def ex_health(client: Client, server: Server) -> None:
    health = client.health()
    assert health.status == "ok"
    assert health.engines[0].status == "up"


def ex_login(client: Client, server: Server) -> None:
    token = client.login("admin", client.credentials.password or "")
    assert token.token_type == "bearer"
    assert token.expires_in > 0
    with Client(server.base_url, api_key=token.access_token) as by_token:
        assert [a.id for a in by_token.accounts()] == ["paper"]


def ex_keys(client: Client, server: Server) -> None:
    made = client.create_key(["read"], account="paper")
    assert made.key.startswith(made.prefix)  # shown once: in this answer
    listed = {k.id: k for k in client.keys(user="admin")}
    assert listed[made.id].scopes == ["read"]
    assert listed[made.id].account == "paper"
    assert listed[made.id].revoked_at is None


def ex_create_key(client: Client, server: Server) -> None:
    made = client.create_key(["read", "trade"], account="paper")
    assert made.scopes == ["read", "trade"]
    with Client(server.base_url, api_key=made.key) as by_key:
        assert by_key.balance("paper").account == "paper"


def ex_revoke_key(client: Client, server: Server) -> None:
    made = client.create_key(["read"])
    revoked = client.revoke_key(made.id)
    assert revoked.revoked_at is not None
    with Client(server.base_url, api_key=made.key) as by_key, pytest.raises(Unauthorized):
        by_key.accounts()


def ex_accounts(client: Client, server: Server) -> None:
    (account,) = client.accounts()
    assert (account.id, account.broker, account.connected) == ("paper", "paper", True)
    assert account.trading_state is TradingState.ACTIVE
    assert set(account.capabilities.markets) == {"cn_stock", "hk_stock", "us_stock", "cn_futures"}


def ex_balance(client: Client, server: Server) -> None:
    summary = client.balance("paper")
    assert summary.currency == "CNY"
    assert summary.cash == summary.equity == Decimal(1_000_000)
    assert {b.currency for b in summary.balances} == {"CNY", "HKD", "USD"}


def ex_positions(client: Client, server: Server) -> None:
    assert client.positions("paper") == []
    client.buy("paper", SYMBOL, 100, limit_price=ASK)
    (position,) = client.positions("paper")
    assert (position.symbol, position.qty, position.available_qty) == (SYMBOL, 100, 0)
    assert position.avg_cost > ASK  # the fee is in the cost


def ex_ping(client: Client, server: Server) -> None:
    pong = client.ping("paper")
    assert pong.pong is True
    assert pong.latency_ms >= 0


def ex_risk(client: Client, server: Server) -> None:
    state = client.risk("paper")
    assert state.trading_state is TradingState.ACTIVE


def ex_set_risk(client: Client, server: Server) -> None:
    try:
        assert client.set_risk("paper", max_order_qty=500).max_order_qty == 500
        assert client.risk("paper").max_order_qty == 500
        with pytest.raises(OrderRejected) as refused:
            client.buy("paper", SYMBOL, 600, limit_price=ASK)
        assert refused.value.reason == "risk_limit"
    finally:
        assert client.set_risk("paper", max_order_qty=None).max_order_qty is None


def ex_place_order(client: Client, server: Server) -> None:
    cid = _cid()
    order = client.place_order("paper", SYMBOL, Side.BUY, 100, limit_price=ASK, client_order_id=cid)
    assert (order.client_order_id, order.status, order.avg_fill_price) == (
        cid,
        OrderStatus.FILLED,
        ASK,
    )
    again = client.place_order(
        "paper", SYMBOL, "buy", 100, limit_price="1500.01", client_order_id=cid
    )
    assert again.id == order.id
    market = client.place_order("paper", SYMBOL, "buy", 100)
    assert (market.type, market.status) == ("market", OrderStatus.FILLED)
    assert market.client_order_id.startswith("tbc-")


def ex_orders(client: Client, server: Server) -> None:
    resting = _rest(client)
    filled = client.buy("paper", SYMBOL, 100, limit_price=ASK).id
    assert [o.id for o in client.orders("paper", status="open")] == [resting]
    assert [o.id for o in client.orders("paper", status="closed")][-1] == filled
    both = [o.id for o in client.orders("paper", symbol=SYMBOL, limit=1000)]
    assert both.index(resting) < both.index(filled)
    assert [o.id for o in client.orders("paper", after=resting)] == [filled]


def ex_order(client: Client, server: Server) -> None:
    order_id = _rest(client)
    order = client.order("paper", order_id)
    assert (order.id, order.qty, order.limit_price) == (order_id, 100, Decimal("1400.00"))


def ex_order_by_client_id(client: Client, server: Server) -> None:
    cid = _cid()
    placed = client.buy("paper", SYMBOL, 100, limit_price="1400.00", client_order_id=cid)
    assert client.order_by_client_id("paper", cid).id == placed.id


def ex_cancel_order(client: Client, server: Server) -> None:
    order_id = _rest(client)
    assert client.cancel_order("paper", order_id).status is OrderStatus.CANCELED
    assert client.order("paper", order_id).status is OrderStatus.CANCELED


def ex_cancel_all(client: Client, server: Server) -> None:
    ids = {_rest(client), _rest(client, "1390.00")}
    canceled = client.cancel_all("paper")
    assert {o.id for o in canceled} == ids
    assert client.orders("paper", status="open") == []


def ex_trades(client: Client, server: Server) -> None:
    order = client.buy("paper", SYMBOL, 100, limit_price=ASK)
    (trade,) = client.trades("paper", order_id=order.id)
    assert (trade.order_id, trade.qty, trade.price) == (order.id, 100, ASK)
    assert trade.fee == Decimal("37.50") + Decimal("1.50")  # commission 0.025%, transfer fee
    assert trade in client.trades("paper", symbol=SYMBOL, limit=1000)


def ex_contracts(client: Client, server: Server) -> None:
    found = {c.symbol: c for c in client.contracts(account="paper", q="600519")}
    assert found[SYMBOL].lot_size == 100
    assert found[SYMBOL].tick_size == Decimal("0.01")
    assert all(c.symbol.endswith(".SHFE") for c in client.contracts(venue="SHFE"))


def ex_quotes(client: Client, server: Server) -> None:
    (quote,) = client.quotes([SYMBOL], account="paper")
    assert (quote.last, quote.bid, quote.ask) == (Decimal("1500.00"), Decimal("1499.99"), ASK)


def ex_market_status(client: Client, server: Server) -> None:
    venues = {v.venue: v for v in client.market_status()}
    assert venues["SH"].status == "open"


def ex_bars(client: Client, server: Server) -> None:
    bars = client.bars(SYMBOL, interval="1d", limit=5)
    assert len(bars) == 5
    assert all(b.low <= min(b.open, b.close) <= max(b.open, b.close) <= b.high for b in bars)
    assert [b.time for b in bars] == sorted(b.time for b in bars)


def ex_paper_set_quote(client: Client, server: Server) -> None:
    order_id = _rest(client, "1450.00")
    quote = client.paper_set_quote("paper", SYMBOL, "1449.00", ask="1449.50", bid="1448.50")
    assert (quote.last, quote.ask) == (Decimal("1449.00"), Decimal("1449.50"))
    filled = client.order("paper", order_id)
    assert (filled.status, filled.avg_fill_price) == (OrderStatus.FILLED, Decimal("1449.50"))


def ex_paper_clock(client: Client, server: Server) -> None:
    start = client.paper_clock("paper", advance="next_session").now  # always open: a day on
    if start.astimezone(SHANGHAI).time() >= time(23, 50):
        # The five minutes below must stay inside one trading day (a run just before
        # midnight in Shanghai crossed into the next one, where T+1 shares settle).
        start = client.paper_clock("paper", to=start + timedelta(minutes=15)).now
    client.buy("paper", SYMBOL, 100, limit_price=ASK)
    moved = client.paper_clock("paper", to=start + timedelta(minutes=5))
    assert timedelta(minutes=5) <= moved.now - start < timedelta(minutes=5, seconds=5)
    assert client.positions("paper")[0].available_qty == 0
    after = client.paper_clock("paper", advance="next_day")
    assert after.now - moved.now >= timedelta(hours=1)
    assert client.positions("paper")[0].available_qty == 100  # T+1 settled


def ex_paper_reset(client: Client, server: Server) -> None:
    client.buy("paper", SYMBOL, 100, limit_price=ASK)
    assert client.paper_reset("paper").reset is True
    assert client.positions("paper") == []
    assert client.balance("paper").cash == Decimal(1_000_000)


def ex_audit(client: Client, server: Server) -> None:
    order = client.buy("paper", SYMBOL, 100, limit_price=ASK)
    entries = client.audit(action="place order", account="paper", limit=1000)
    (entry,) = [e for e in entries if e.target == order.id]
    assert (entry.actor, entry.status, entry.result) == ("admin", 201, "ok")


EXERCISES: dict[str, Callable[[Client, Server], None]] = {
    name.removeprefix("ex_"): function
    for name, function in dict(globals()).items()
    if name.startswith("ex_")
}

HOSTED = {"strategies", "start_strategy", "stop_strategy"}
"""Exercised in test_client_strategies.py, on a server that hosts strategies."""


def _route_functions() -> dict[str, Callable[..., Call[object]]]:
    return {
        name: function
        for name, function in vars(routes).items()
        if inspect.isfunction(function)
        and function.__module__ == routes.__name__
        and not name.startswith("_")
        and name != "new_client_order_id"
    }


@pytest.mark.parametrize("name", sorted(set(_route_functions()) - HOSTED))
def test_route(name: str, client_server: Server, admin: Client) -> None:
    EXERCISES[name](admin, client_server)


def test_every_route_function_is_exercised() -> None:
    assert sorted(set(_route_functions()) - HOSTED - EXERCISES.keys()) == []
    assert sorted(HOSTED - _route_functions().keys()) == []


SAMPLE_ARGS: dict[str, tuple[object, ...]] = {
    "login": ("admin", "x"),
    "create_key": (["read"],),
    "revoke_key": ("K",),
    "balance": ("paper",),
    "positions": ("paper",),
    "ping": ("paper",),
    "risk": ("paper",),
    "set_risk": ("paper",),
    "place_order": ("paper", SYMBOL, "buy", 100),
    "orders": ("paper",),
    "order": ("paper", "O"),
    "order_by_client_id": ("paper", "C"),
    "cancel_order": ("paper", "O"),
    "cancel_all": ("paper",),
    "trades": ("paper",),
    "quotes": ([SYMBOL],),
    "bars": (SYMBOL,),
    "paper_set_quote": ("paper", SYMBOL, "1500"),
    "paper_clock": ("paper",),
    "paper_reset": ("paper",),
    "start_strategy": ("S",),
    "stop_strategy": ("S",),
}


def test_every_route_has_a_client_method(client_server: Server) -> None:
    spec = httpx.get(client_server.base_url + "/openapi.json").json()
    served = {
        (method.upper(), path.removeprefix("/api/v1"))
        for path, item in spec["paths"].items()
        if path.startswith("/api/v1/")
        for method in item
    }
    made = set()
    for name, function in _route_functions().items():
        call = function(*SAMPLE_ARGS.get(name, ()))
        matches = [
            (method, template)
            for method, template in served
            if method == call.method
            and re.fullmatch(re.sub(r"\{[^}]+\}", "[^/]+", template), call.path)
        ]
        assert matches, f"routes.{name} makes {call.method} {call.path}, which is not served"
        made.update(matches)
    assert sorted(served - made) == [], "routes without a method in tradebridge_client"
    for name in _route_functions():
        assert getattr(Client, name).__doc__ == getattr(AsyncClient, name).__doc__


def test_async_client_answers_as_the_sync_one(client_server: Server, admin: Client) -> None:
    import asyncio

    async def run() -> None:
        async with AsyncClient(
            client_server.base_url, username="admin", password=admin.credentials.password
        ) as client:
            order = await client.buy("paper", SYMBOL, 100, limit_price=ASK)
            assert order.status is OrderStatus.FILLED
            assert (await client.order("paper", order.id)) == admin.order("paper", order.id)
            assert await client.positions("paper") == admin.positions("paper")
            assert await client.balance("paper") == admin.balance("paper")
            with pytest.raises(OrderRejected) as refused:
                await client.sell("paper", SYMBOL, 100, limit_price="1499.99")
            assert refused.value.reason == "insufficient_position"

    asyncio.run(run())


def test_a_client_of_another_address_form(client_server: Server) -> None:
    with (
        admin_client(client_server) as plain,
        Client(
            client_server.base_url + "/api/v1/",
            username="admin",
            password=plain.credentials.password,
        ) as suffixed,
    ):
        assert suffixed.accounts() == plain.accounts()
