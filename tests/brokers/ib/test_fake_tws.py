"""The fake TWS speaks what ib_async reads, at every server version ib_async negotiates: the
plain SDK (no adapter) connects with a strict start-up synchronization, describes contracts,
takes quotes, places, fills and cancels orders, and lists orders and executions. A layout
that is off by one field shows here as a decoded value gone wrong (ib_async only logs it)."""

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest
from tests.brokers.ib.fake_support import fake_tws

pytestmark = pytest.mark.anyio

VERSIONS = (157, 158, 163, 164, 166, 169, 170, 176, 177, 178)


async def settled(condition: Any, timeout_s: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "gave up waiting"
        await asyncio.sleep(0.01)


@pytest.mark.parametrize("version", VERSIONS)
async def test_ib_async_against_the_fake(
    tmp_path: Path, version: int, caplog: pytest.LogCaptureFixture
) -> None:
    from ib_async import IB, LimitOrder, Stock

    caplog.set_level(logging.ERROR, logger="ib_async.decoder")
    with fake_tws(tmp_path, "--server-version", str(version)) as tws:
        ib = IB()
        try:
            await ib.connectAsync(
                "127.0.0.1", tws.api_port, clientId=5, timeout=3, raiseSyncErrors=True
            )
            assert ib.client.serverVersion() == version
            assert ib.managedAccounts() == ["DU1234567"]
            apple, tencent = await ib.qualifyContractsAsync(
                Stock("AAPL", "SMART", "USD"), Stock("700", "SEHK", "HKD")
            )
            assert (apple.conId, apple.primaryExchange) == (265598, "NASDAQ")
            (details,) = await ib.reqContractDetailsAsync(tencent)
            assert (details.longName, details.minTick, details.timeZoneId) == (
                "TENCENT HOLDINGS LTD",
                0.001,
                "Asia/Hong_Kong",
            )
            assert details.stockType == "COMMON"
            (ticker,) = await ib.reqTickersAsync(apple)
            assert (ticker.bid, ticker.ask, ticker.last, ticker.close) == (
                229.99,
                230.01,
                230.0,
                228.5,
            )

            trade = ib.placeOrder(apple, LimitOrder("BUY", 100, 229.0, orderRef="ref-1"))
            await settled(lambda: trade.orderStatus.status == "Submitted")
            tws.quote("AAPL", ask="228.90", ask_size=60)
            tws.quote("AAPL", ask="228.95", ask_size=500)
            await settled(lambda: trade.orderStatus.status == "Filled")
            await settled(lambda: all(f.commissionReport.execId for f in trade.fills))
            assert [f.execution.shares for f in trade.fills] == [60, 40]
            assert [f.commissionReport.commission for f in trade.fills] == [1.0, 1.0]
            assert trade.fills[1].execution.orderRef == "ref-1"
            assert trade.orderStatus.avgFillPrice == pytest.approx(228.92)
            await settled(lambda: ib.portfolio())
            (item,) = ib.portfolio()
            assert (item.position, item.averageCost) == (100, 228.94)
            values = {(v.tag, v.currency): v.value for v in ib.accountValues()}
            assert values[("CashBalance", "USD")] == str(tws.account_value("CashBalance", "USD"))

            resting = ib.placeOrder(tencent, LimitOrder("BUY", 100, 370.0, orderRef="ref-2"))
            await settled(lambda: resting.orderStatus.status == "Submitted")
            (listed,) = await ib.reqAllOpenOrdersAsync()
            assert (listed.order.orderRef, listed.order.permId) == ("ref-2", resting.order.permId)
            assert (listed.order.clientId, listed.orderStatus.status) == (5, "Submitted")
            ib.cancelOrder(resting.order)
            await settled(lambda: resting.orderStatus.status == "Cancelled")

            completed = await ib.reqCompletedOrdersAsync(False)
            ended = [
                (t.order.orderRef, t.orderStatus.status, t.order.filledQuantity) for t in completed
            ]
            assert ended == [("ref-1", "Filled", 100), ("ref-2", "Cancelled", 0)]
            fills = await ib.reqExecutionsAsync()
            assert [(f.execution.orderRef, f.execution.side) for f in fills] == [
                ("ref-1", "BOT"),
                ("ref-1", "BOT"),
            ]
        finally:
            ib.disconnect()
    assert not [r for r in caplog.records if r.name == "ib_async.decoder"], "undecoded messages"


async def test_a_second_session_with_the_same_client_id_is_refused(tmp_path: Path) -> None:
    from ib_async import IB

    errors: list[int] = []
    with fake_tws(tmp_path) as tws:
        first, second = IB(), IB()
        second.errorEvent += lambda req_id, code, message, contract: errors.append(code)
        try:
            await first.connectAsync("127.0.0.1", tws.api_port, clientId=9, timeout=3)
            with pytest.raises(TimeoutError):  # ib_async waits for a session that never starts
                await second.connectAsync("127.0.0.1", tws.api_port, clientId=9, timeout=1)
            assert errors == [326]
            assert first.isConnected()
        finally:
            first.disconnect()
            second.disconnect()


async def test_the_state_survives_a_killed_fake(tmp_path: Path) -> None:
    from ib_async import IB, LimitOrder, Stock

    with fake_tws(tmp_path) as tws:
        ib = IB()
        try:
            await ib.connectAsync("127.0.0.1", tws.api_port, clientId=3, timeout=3)
            (apple,) = await ib.qualifyContractsAsync(Stock("AAPL", "SMART", "USD"))
            trade = ib.placeOrder(apple, LimitOrder("BUY", 10, 200.0, orderRef="kept"))
            await settled(lambda: trade.orderStatus.status == "Submitted")
        finally:
            ib.disconnect()
        tws.kill()
        tws.start()
        again = IB()
        try:
            await again.connectAsync("127.0.0.1", tws.api_port, clientId=3, timeout=3)
            (kept,) = again.openTrades()  # from the start-up synchronization
            assert (kept.order.orderRef, kept.order.permId) == ("kept", trade.order.permId)
            assert again.client.getReqId() > trade.order.orderId
        finally:
            again.disconnect()
