"""Risk limits and trading states of an account, over a real journal and paper broker."""

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from tests.engine.conftest import Harness, start_harness, stop_harness

from tradebridge.brokers.base import Capabilities
from tradebridge.brokers.paper.config import PaperSettings
from tradebridge.config import PaperAccount, RiskSettings
from tradebridge.domain.enums import (
    Offset,
    OrderStatus,
    OrderType,
    RejectReason,
    Side,
    TradingState,
)
from tradebridge.domain.errors import OrderRejected, ValidationFailed
from tradebridge.domain.models import Contract
from tradebridge.domain.orders import OrderRequest
from tradebridge.engine.checks import AccountView, Refusal, RiskLimits, check_order
from tradebridge.store import queries
from tradebridge.store.database import create_db_engine
from tradebridge.store.migrate import upgrade
from tradebridge.store.schema import account_risk, orders

pytestmark = pytest.mark.anyio

D = Decimal
MOUTAI = "600519.SH"  # manual market: last 1500.00, bid 1499.99, ask 1500.01; T+1
APPLE = "AAPL.US"  # last 230.00, bid 229.99, ask 230.01; T+0, so a buy can be sold at once
COPPER = "cu2601.SHFE"  # 5 t per lot, last 86000, bid 85990, ask 86010

Start = Callable[..., Awaitable[Harness]]


def account_settings(**risk: Any) -> PaperAccount:
    return PaperAccount(id="paper", paper=PaperSettings(market="manual"), risk=RiskSettings(**risk))


@pytest.fixture
async def start(tmp_path: Path) -> AsyncIterator[Start]:
    """Starts an account with the given `[accounts.risk]` on one database file; a second
    start is a restart of the engine on the same database."""
    running: list[Harness] = []

    async def start_account(**risk: Any) -> Harness:
        if running:
            await stop_harness(running.pop())
        harness = await start_harness(tmp_path / "risk.db", settings=account_settings(**risk))
        running.append(harness)
        return harness

    yield start_account
    for harness in running:
        await stop_harness(harness)


def order(
    side: str = "buy",
    qty: int = 100,
    price: str | None = "1490.00",
    symbol: str = MOUTAI,
    offset: Offset | None = None,
) -> OrderRequest:
    return OrderRequest(
        symbol=symbol,
        side=Side(side),
        qty=qty,
        type=OrderType.LIMIT if price else OrderType.MARKET,
        limit_price=D(price) if price else None,
        offset=offset,
    )


async def refused(harness: Harness, request: OrderRequest, reason: RejectReason) -> str:
    """Place `request`, expect it refused for `reason` and recorded as rejected; its message."""
    with pytest.raises(OrderRejected) as caught:
        await harness.account.place(request)
    assert caught.value.reason is reason
    order_id = caught.value.details["order_id"]
    with harness.db.connect() as conn:
        row = conn.execute(select(orders).where(orders.c.id == order_id)).one()
    assert (row.status, row.reject_reason) == ("rejected", reason.value)
    return caught.value.message


async def accepted(harness: Harness, request: OrderRequest) -> OrderStatus:
    return (await harness.account.place(request)).order.status


async def test_max_order_qty(start: Start) -> None:
    harness = await start(max_order_qty=200)
    message = await refused(harness, order(qty=300), RejectReason.RISK_LIMIT)
    assert "qty 300" in message
    assert "max_order_qty 200" in message
    assert await accepted(harness, order(qty=200)) is OrderStatus.NEW


async def test_a_risk_limit_is_named_before_missing_funds(start: Start) -> None:
    harness = await start(max_order_qty=1000)
    # 2,000 shares need 3 million CNY, three times the cash: the risk limit is the answer
    await refused(harness, order(qty=2000), RejectReason.RISK_LIMIT)
    await refused(harness, order(qty=1000), RejectReason.INSUFFICIENT_FUNDS)


async def test_max_order_notional_values_limit_orders_at_their_price(start: Start) -> None:
    harness = await start(max_order_notional=200_000)
    message = await refused(harness, order(qty=200), RejectReason.RISK_LIMIT)
    assert "order notional 298000.00 CNY" in message
    assert "max_order_notional 200000" in message
    assert await accepted(harness, order(qty=100)) is OrderStatus.NEW  # 149,000


async def test_max_order_notional_values_market_orders_at_the_last_price(start: Start) -> None:
    harness = await start(max_order_notional=150_000)
    message = await refused(harness, order(qty=200, price=None), RejectReason.RISK_LIMIT)
    assert "300000.00" in message
    assert await accepted(harness, order(qty=100, price=None)) is OrderStatus.FILLED  # 150,000


async def test_max_order_notional_counts_the_futures_multiplier(start: Start) -> None:
    harness = await start(max_order_notional=500_000)
    two_lots = order(qty=2, price="86010", symbol=COPPER, offset=Offset.OPEN)
    message = await refused(harness, two_lots, RejectReason.RISK_LIMIT)
    assert "860100.00 CNY" in message
    one_lot = order(qty=1, price="86010", symbol=COPPER, offset=Offset.OPEN)
    assert await accepted(harness, one_lot) is OrderStatus.FILLED


async def test_max_open_orders(start: Start) -> None:
    harness = await start(max_open_orders=2)
    first = (await harness.account.place(order())).order
    await harness.account.place(order())
    message = await refused(harness, order(), RejectReason.RISK_LIMIT)
    assert "2 orders are open" in message
    assert "max_open_orders is 2" in message
    await harness.account.cancel(first.id)
    assert await accepted(harness, order()) is OrderStatus.NEW


async def test_price_band_around_the_last_price(start: Start) -> None:
    harness = await start(price_band_pct=1)
    message = await refused(harness, order(price="1480.00"), RejectReason.RISK_LIMIT)
    assert "1.33% from the last price 1500.00" in message
    assert "price_band_pct is 1" in message
    await refused(harness, order(price="1515.01"), RejectReason.RISK_LIMIT)
    assert await accepted(harness, order(price="1485.00")) is OrderStatus.NEW
    assert await accepted(harness, order(price=None)) is OrderStatus.FILLED  # no limit price


async def test_max_position_notional_counts_the_holding_and_working_orders(
    start: Start,
) -> None:
    harness = await start(max_position_notional=400_000)
    assert await accepted(harness, order(price="1500.01")) is OrderStatus.FILLED
    assert await accepted(harness, order()) is OrderStatus.NEW  # 200 x 1490 = 298,000
    message = await refused(harness, order(), RejectReason.RISK_LIMIT)  # 300 x 1490
    assert "worth 447000.00 CNY" in message
    assert "100 held, 100 in working orders, 100 in this order" in message
    assert "max_position_notional is 400000" in message
    # another symbol has its own position; and what reduces a position is never refused
    assert await accepted(harness, order(qty=1000, price="230.01", symbol=APPLE)) is (
        OrderStatus.FILLED
    )
    assert await accepted(harness, order("sell", 1000, "229.99", APPLE)) is OrderStatus.FILLED


async def test_max_position_notional_takes_each_futures_side_apart(start: Start) -> None:
    harness = await start(max_position_notional=500_000)
    open_long = order(qty=1, price="86010", symbol=COPPER, offset=Offset.OPEN)
    assert await accepted(harness, open_long) is OrderStatus.FILLED
    await refused(harness, open_long, RejectReason.RISK_LIMIT)  # 2 lots long: 860,100
    open_short = order("sell", 1, "85990", COPPER, Offset.OPEN)
    assert await accepted(harness, open_short) is OrderStatus.FILLED
    close_long = order("sell", 1, "85990", COPPER, Offset.CLOSE_TODAY)
    assert await accepted(harness, close_long) is OrderStatus.FILLED


def test_max_orders_per_second_counts_a_sliding_second() -> None:
    """On a clock of the test's own, so that no real second has to pass."""
    now = [100.0]
    limits = RiskLimits(RiskSettings(max_orders_per_second=2), clock=lambda: now[0])
    contract = Contract(
        symbol=MOUTAI, name="", currency="CNY", lot_size=100, tick_size=D("0.01"), pre_close=D(1500)
    )
    nothing = AccountView(
        balances={}, positions={}, reserved_cash={}, reserved_qty={}, open_orders={}
    )

    def check() -> None:
        limits.check(order(), contract, None, nothing)

    check()
    now[0] = 100.5
    check()
    with pytest.raises(Refusal) as caught:
        check()
    assert caught.value.reason is RejectReason.RISK_LIMIT
    assert caught.value.message == (
        "2 orders in the last second on this account; max_orders_per_second is 2"
    )
    now[0] = 101.0  # the first one has left the window
    check()
    with pytest.raises(Refusal):
        check()


def test_funds_are_the_broker_s_to_check_where_it_says_so() -> None:
    """A margin broker (IB) lends: a buy beyond the cash of its currency is not refused here."""
    contract = Contract(
        symbol=APPLE, name="", currency="USD", lot_size=1, tick_size=D("0.01"), pre_close=D(230)
    )
    no_cash = AccountView(
        balances={}, positions={}, reserved_cash={}, reserved_qty={}, open_orders={}
    )
    buy = order(qty=10, price="230.00", symbol=APPLE)
    limits = RiskLimits(RiskSettings())
    with pytest.raises(Refusal) as caught:
        check_order(buy, contract, None, Capabilities(), no_cash, limits)
    assert caught.value.reason is RejectReason.INSUFFICIENT_FUNDS
    check_order(buy, contract, None, Capabilities(broker_checks_funds=True), no_cash, limits)


async def test_halted_refuses_every_new_order_but_cancels_work(start: Start) -> None:
    harness = await start()
    resting = (await harness.account.place(order())).order
    await harness.account.set_risk({"trading_state": TradingState.HALTED})
    assert harness.account.info().trading_state is TradingState.HALTED
    message = await refused(harness, order(), RejectReason.TRADING_HALTED)
    assert "halted" in message
    await refused(harness, order("sell", 100, "1500.00"), RejectReason.TRADING_HALTED)
    # the account-wide state comes before what is wrong with the order itself
    await refused(harness, order(symbol="999999.SH"), RejectReason.TRADING_HALTED)
    canceled = await harness.account.cancel(resting.id)
    assert canceled.status is OrderStatus.CANCELED


async def test_reducing_accepts_only_sells_of_a_holding(start: Start) -> None:
    harness = await start()
    assert await accepted(harness, order(qty=300, price="230.01", symbol=APPLE)) is (
        OrderStatus.FILLED
    )
    await harness.account.set_risk({"trading_state": TradingState.REDUCING})
    assert harness.account.info().trading_state is TradingState.REDUCING
    message = await refused(
        harness, order(price="230.01", symbol=APPLE), RejectReason.TRADING_HALTED
    )
    assert "reducing" in message
    assert "buy 100 AAPL.US is refused: it would open or add to a position" in message
    too_many = order("sell", 400, "229.99", APPLE)
    message = await refused(harness, too_many, RejectReason.TRADING_HALTED)
    assert "more than the position of 300 it would reduce" in message
    await refused(harness, order("sell", 100, "1499.99"), RejectReason.TRADING_HALTED)  # none
    assert await accepted(harness, order("sell", 100, "229.99", APPLE)) is OrderStatus.FILLED
    assert await accepted(harness, order("sell", 200, "229.99", APPLE)) is OrderStatus.FILLED
    await refused(harness, order("sell", 100, "229.99", APPLE), RejectReason.TRADING_HALTED)


async def test_reducing_accepts_only_futures_closes_of_a_held_side(start: Start) -> None:
    harness = await start()
    open_long = order(qty=2, price="86010", symbol=COPPER, offset=Offset.OPEN)
    assert await accepted(harness, open_long) is OrderStatus.FILLED
    await harness.account.set_risk({"trading_state": TradingState.REDUCING})
    await refused(harness, open_long, RejectReason.TRADING_HALTED)
    open_short = order("sell", 1, "85990", COPPER, Offset.OPEN)
    await refused(harness, open_short, RejectReason.TRADING_HALTED)
    close_short = order("buy", 1, "86010", COPPER, Offset.CLOSE_TODAY)  # no short side held
    message = await refused(harness, close_short, RejectReason.TRADING_HALTED)
    assert "buy 1 cu2601.SHFE (close_today)" in message
    close_long = order("sell", 2, "85990", COPPER, Offset.CLOSE_TODAY)
    assert await accepted(harness, close_long) is OrderStatus.FILLED


async def test_changes_hold_at_once_and_survive_a_restart(start: Start) -> None:
    harness = await start(max_order_qty=500, max_open_orders=10)
    changed = await harness.account.set_risk(
        {"max_order_notional": D(100_000), "max_order_qty": None}
    )
    assert changed == RiskSettings(max_order_notional=D(100_000), max_open_orders=10)
    await refused(harness, order(), RejectReason.RISK_LIMIT)  # 149,000
    assert await accepted(harness, order(price="229.00", symbol=APPLE)) is OrderStatus.NEW

    restarted = await start(max_order_qty=500, max_open_orders=10)
    assert restarted.account.risk() == changed
    assert "max_order_notional" in await refused(restarted, order(), RejectReason.RISK_LIMIT)


async def test_the_config_file_gives_what_was_never_changed(start: Start) -> None:
    harness = await start(max_open_orders=10)
    await harness.account.set_risk({"trading_state": TradingState.REDUCING})
    restarted = await start(max_open_orders=20, price_band_pct=5)
    assert restarted.account.risk() == RiskSettings(
        max_open_orders=20, price_band_pct=D(5), trading_state=TradingState.REDUCING
    )


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"max_order_qty": 0}, "max_order_qty"),
        ({"max_order_notional": D(-1)}, "max_order_notional"),
        ({"trading_state": "paused"}, "trading_state"),
        ({"max_open_orders": 5, "price_band_pct": D(0)}, "price_band_pct"),
    ],
)
async def test_invalid_changes_change_nothing(
    start: Start, changes: dict[str, Any], field: str
) -> None:
    harness = await start(max_order_qty=500)
    with pytest.raises(ValidationFailed) as caught:
        await harness.account.set_risk(changes)
    assert [e["field"] for e in caught.value.details["errors"]] == [field]
    assert harness.account.risk() == RiskSettings(max_order_qty=500)
    with harness.db.connect() as conn:
        assert conn.execute(select(account_risk)).all() == []


async def test_reset_forgets_every_change(start: Start) -> None:
    harness = await start(max_order_qty=500)
    await harness.account.set_risk({"max_order_qty": 5, "trading_state": TradingState.HALTED})
    assert await harness.account.reset_risk() == RiskSettings(max_order_qty=500)
    assert harness.account.trading_state is TradingState.ACTIVE
    restarted = await start(max_order_qty=500)
    assert restarted.account.risk() == RiskSettings(max_order_qty=500)


def test_stored_settings_keep_their_exact_values(database_url: str) -> None:
    db = create_db_engine(database_url)
    upgrade(db)
    changes = {
        "max_order_notional": D("1234567.89"),
        "max_order_qty": 10,
        "price_band_pct": None,
        "trading_state": TradingState.HALTED,
    }
    with db.begin() as conn:
        queries.store_risk_overrides(conn, "a", changes, datetime.now(UTC))
        queries.store_risk_overrides(conn, "a", {"max_order_qty": 20}, datetime.now(UTC))
        queries.store_risk_overrides(conn, "b", {"max_order_qty": 30}, datetime.now(UTC))
    with db.connect() as conn:
        stored = queries.risk_overrides(conn, "a")
    assert RiskSettings.model_validate(stored) == RiskSettings(
        max_order_notional=D("1234567.89"), max_order_qty=20, trading_state=TradingState.HALTED
    )
    assert stored["price_band_pct"] is None
    with db.begin() as conn:
        queries.clear_risk_overrides(conn, "a")
    with db.connect() as conn:
        assert queries.risk_overrides(conn, "a") == {}
        assert queries.risk_overrides(conn, "b") == {"max_order_qty": 30}
    db.dispose()
