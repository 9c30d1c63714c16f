"""How the engine takes what a real broker reports (issue 13, the broker contract): fill
statuses before the fill, fees after it, reports by broker order number only, fills before
the order is known, orders placed outside tradebridge, and an account whose broker is
disconnected."""

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import msgspec
import pytest
from tests.engine.conftest import Harness, stop_harness
from tests.engine.test_recovery import CONTRACT, Venue, buy, start_remote

from tradebridge.brokers.base import Fill, OrderDetails, OrderUpdate
from tradebridge.domain.enums import ConnectionState, OrderStatus, OrderType, Side
from tradebridge.domain.errors import BrokerUnavailable
from tradebridge.domain.models import Trade
from tradebridge.engine import reports
from tradebridge.engine.protocol import ListOrders, ListTrades

pytestmark = pytest.mark.anyio


@pytest.fixture
async def remote(tmp_path: Path) -> AsyncIterator[Harness]:
    harness = await start_remote(tmp_path / "reports.db", Venue())
    yield harness
    await stop_harness(harness)


def fill(trade_id: str, qty: int, **ids: str | None) -> Fill:
    fee = ids.pop("fee", "1.00")
    return Fill(
        trade_id=trade_id,
        qty=qty,
        price=Decimal("42.00"),
        fee=None if fee is None else Decimal(fee),
        time=datetime.now(UTC),
        **ids,
    )


async def placed(harness: Harness, cid: str) -> str:
    order = (await harness.account.place(buy(cid))).order
    assert order.broker_order_id == f"B-{cid}"
    return order.id


async def test_a_fill_status_before_the_fill_only_acknowledges(remote: Harness) -> None:
    order_id = await placed(remote, "a")
    sink = remote.account.reports
    sink.on_order_update(OrderUpdate(status=OrderStatus.PARTIALLY_FILLED, order_id=order_id))
    assert remote.account.get_order(order_id).filled_qty == 0
    sink.on_fill(fill("T1", 40, order_id=order_id))
    sink.on_order_update(OrderUpdate(status=OrderStatus.FILLED, order_id=order_id))
    sink.on_fill(fill("T2", 60, order_id=order_id))
    sink.on_fill(fill("T2", 60, order_id=order_id))  # seen twice, booked once
    order = remote.account.get_order(order_id)
    assert (order.status, order.filled_qty) == (OrderStatus.FILLED, 100)
    await remote.journal.commit()
    trades = remote.account.list_trades(ListTrades(account="paper"))
    assert [t.qty for t in trades] == [40, 60]


async def test_a_fee_that_comes_later_completes_the_trade(remote: Harness) -> None:
    order_id = await placed(remote, "a")
    sink = remote.account.reports
    sink.on_fill(fill("T1", 100, order_id=order_id, fee=None))
    await remote.journal.commit()
    (trade,) = remote.account.list_trades(ListTrades(account="paper"))
    assert trade.fee is None
    sink.on_fee("T1", Decimal("1.25"))
    await remote.journal.commit()
    (trade,) = remote.account.list_trades(ListTrades(account="paper"))
    assert trade.fee == Decimal("1.25")
    pushed = [e for e in remote.published_events() if e.type == "trade"]
    assert [msgspec.msgpack.decode(e.data, type=Trade).fee for e in pushed] == [
        None,
        Decimal("1.25"),
    ]


async def test_reports_by_broker_number_and_fills_before_the_order(remote: Harness) -> None:
    order_id = await placed(remote, "a")
    sink = remote.account.reports
    sink.on_fill(fill("T1", 30, broker_order_id="B-a"))
    assert remote.account.get_order(order_id).filled_qty == 30
    sink.on_fill(fill("T9", 10, broker_order_id="B-later"))  # no order has that number yet
    await remote.journal.commit()
    assert remote.account.list_trades(ListTrades(account="paper"))[-1].qty == 30
    other = (await remote.account.place(buy("b"))).order
    sink.on_order_update(
        OrderUpdate(status=OrderStatus.NEW, order_id=other.id, broker_order_id="B-later")
    )
    assert remote.account.get_order(other.id).filled_qty == 10  # the held fill, booked now


async def test_an_end_counting_fills_not_yet_here_waits_for_them(remote: Harness) -> None:
    order_id = await placed(remote, "a")
    sink = remote.account.reports
    sink.on_order_update(OrderUpdate(status=OrderStatus.CANCELED, order_id=order_id, filled_qty=70))
    assert remote.account.get_order(order_id).status is OrderStatus.NEW
    sink.on_fill(fill("T1", 70, order_id=order_id))
    order = remote.account.get_order(order_id)
    assert (order.status, order.filled_qty) == (OrderStatus.CANCELED, 70)


async def test_an_end_whose_fills_never_come_ends_after_a_while(
    remote: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reports, "FILLS_AWAITED_S", 0.05)
    order_id = await placed(remote, "a")
    remote.account.reports.on_order_update(
        OrderUpdate(status=OrderStatus.CANCELED, order_id=order_id, filled_qty=70)
    )
    await asyncio.sleep(0.2)
    assert remote.account.get_order(order_id).status is OrderStatus.CANCELED


async def test_an_order_placed_outside_tradebridge_is_recorded(remote: Harness) -> None:
    sink = remote.account.reports
    details = OrderDetails(
        symbol=CONTRACT.symbol,
        side=Side.SELL,
        qty=200,
        type=OrderType.LIMIT,
        limit_price=Decimal("43.00"),
        created_at=datetime.now(UTC),
    )
    sink.on_order_update(
        OrderUpdate(status=OrderStatus.NEW, broker_order_id="APP-1", details=details)
    )
    sink.on_fill(fill("T1", 200, broker_order_id="APP-1"))
    await remote.journal.commit()
    (order,) = remote.account.list_orders(ListOrders(account="paper"))
    assert (order.client_order_id, order.side, order.status) == (
        None,
        Side.SELL,
        OrderStatus.FILLED,
    )
    (trade,) = remote.account.list_trades(ListTrades(account="paper"))
    assert (trade.client_order_id, trade.order_id) == (None, order.id)


async def test_an_order_on_a_disconnected_account_is_503_and_not_recorded(
    remote: Harness,
) -> None:
    remote.account.reports.on_connection(ConnectionState.DISCONNECTED, "link lost")
    with pytest.raises(BrokerUnavailable, match="link lost"):
        await remote.account.place(buy("a"))
    assert remote.account.list_orders(ListOrders(account="paper")) == []
