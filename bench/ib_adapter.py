"""The `ib` adapter's cost per order: place -> TWS's acknowledgement, against the fake TWS.

Floor: the plain ib_async client on its own loop, `placeOrder` then waiting for TWS's
`Submitted` status, one order after another. Measured: `IbBroker.place_order` from the
test's loop (the engine's, in production), which hops to ib_async's thread, places, waits
for the acknowledgement and hops back, reporting through a thread-checked sink. Both talk to
the same fake TWS process; orders are resting limit buys (no fills).

    .venv/bin/python bench/ib_adapter.py [--orders 300]
"""

import argparse
import asyncio
import statistics
import sys
import tempfile
import threading
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.brokers.ib.fake_support import FakeTwsProcess
from tests.brokers.ib.ib_support import Sink, an_order, settings_for

from tradebridge.brokers.ib.adapter import IbBroker
from tradebridge.brokers.threads import ThreadCheckedSink


async def floor(tws: FakeTwsProcess, orders: int) -> list[float]:
    from ib_async import IB, LimitOrder, Stock

    ib = IB()
    await ib.connectAsync("127.0.0.1", tws.api_port, clientId=90, timeout=5)
    (apple,) = await ib.qualifyContractsAsync(Stock("AAPL", "SMART", "USD"))
    took = []
    try:
        for n in range(orders):
            start = time.perf_counter()
            trade = ib.placeOrder(apple, LimitOrder("BUY", 1, 100.0, orderRef=f"floor-{n}"))
            while trade.orderStatus.status != "Submitted":
                await trade.statusEvent
            took.append(time.perf_counter() - start)
    finally:
        ib.disconnect()
    return took


async def adapter(tws: FakeTwsProcess, orders: int) -> list[float]:
    sink = ThreadCheckedSink(Sink(), threading.get_ident())
    broker = IbBroker("ib", settings_for(tws, client_id=91), sink)
    await broker.connect()
    took = []
    try:
        await broker.contract("AAPL.US")
        for _ in range(orders):
            order = an_order(qty=1, limit="100.00")
            start = time.perf_counter()
            await broker.place_order(order)
            took.append(time.perf_counter() - start)
    finally:
        await broker.close()
    return took


def p(values: list[float], q: float) -> float:
    return sorted(values)[min(len(values) - 1, int(q * len(values)))] * 1000


async def main(orders: int) -> None:
    with tempfile.TemporaryDirectory() as directory:
        tws = FakeTwsProcess(
            state=Path(directory) / "tws.json",
            log=Path(directory) / "tws.log",
            args=["--cash", f"USD={Decimal(10**9)},HKD=0"],
        )
        tws.start()
        try:
            base = (await floor(tws, orders))[orders // 10 :]
            ours = (await adapter(tws, orders))[orders // 10 :]
        finally:
            tws.stop()
    print(f"{'place -> ack, ms':<28}{'p50':>8}{'p90':>8}{'p99':>8}")
    for name, values in (("ib_async alone (floor)", base), ("IbBroker.place_order", ours)):
        print(f"{name:<28}{p(values, 0.5):>8.3f}{p(values, 0.9):>8.3f}{p(values, 0.99):>8.3f}")
    ratio = statistics.median(ours) / statistics.median(base)
    print(f"ratio of the medians: {ratio:.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=300)
    asyncio.run(main(parser.parse_args().orders))
