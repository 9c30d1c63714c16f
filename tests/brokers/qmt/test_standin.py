"""The xtquant stand-in keeps the behaviours of the real SDK an adapter must live with: one
callback thread in arrival order, an order error held back until its order's response, sync
calls that would deadlock from a callback, no reconnection after a loss."""

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from tests.brokers.qmt.qmt_support import ACCOUNT, MiniQmtProcess


class Recorder:
    def __init__(self, base: type) -> None:
        self.events: list[tuple[str, Any, str]] = []
        self.raised: list[BaseException] = []
        recorder = self

        class Callbacks(base):  # type: ignore[misc, valid-type]
            def on_order_stock_async_response(self, response: Any) -> None:
                recorder.add("response", response.order_id)

            def on_order_error(self, error: Any) -> None:
                recorder.add("error", (error.seq, error.error_msg))

            def on_stock_order(self, order: Any) -> None:
                recorder.add("order", order.order_status)
                try:
                    recorder.trader.query_stock_asset(recorder.account)
                except RuntimeError as refused:
                    recorder.raised.append(refused)

            def on_disconnected(self) -> None:
                recorder.add("disconnected", None)

        self.callbacks = Callbacks()
        self.trader: Any = None
        self.account: Any = None

    def add(self, kind: str, value: Any) -> None:
        self.events.append((kind, value, threading.current_thread().name))

    def wait(self, count: int) -> None:
        deadline = time.monotonic() + 10
        while len(self.events) < count and time.monotonic() < deadline:
            time.sleep(0.02)


@pytest.fixture
def trader(sim: MiniQmtProcess, standin: None) -> Iterator[Recorder]:
    from xtquant import xttrader, xttype

    recorder = Recorder(xttrader.XtQuantTraderCallback)
    built: list[Any] = []

    def build() -> None:  # as an adapter must: on a thread that runs no asyncio loop
        trader = xttrader.XtQuantTrader(str(sim.userdata), 4242, recorder.callbacks)
        trader.start()
        assert trader.connect() == 0
        recorder.account = xttype.StockAccount(ACCOUNT)
        assert trader.subscribe(recorder.account) == 0
        built.append(trader)

    thread = threading.Thread(target=build)
    thread.start()
    thread.join()
    recorder.trader = built[0]
    yield recorder
    recorder.trader.stop()


def test_an_error_sent_before_the_response_is_delivered_after_it(
    trader: Recorder, sim: MiniQmtProcess
) -> None:
    seq = trader.trader.order_stock_async(
        trader.account, "600000.SH", 23, 10_000_000, 11, 10.0, "s", "r"
    )
    trader.wait(3)
    kinds = [(kind, value) for kind, value, _ in trader.events]
    order_id = kinds[0][1]
    assert kinds == [
        ("response", order_id),
        ("error", (seq, "[COUNTER] [251005][可用资金不足]")),
        ("order", 57),
    ]
    assert len({thread for _, _, thread in trader.events}) == 1  # one callback thread
    assert "deadlock" in str(trader.raised[0])


def test_a_lost_connection_is_reported_once_and_not_reconnected(
    trader: Recorder, sim: MiniQmtProcess
) -> None:
    sim.call("disconnect")
    trader.wait(1)
    assert [kind for kind, _, _ in trader.events] == ["disconnected"]
    sim.call("accept")
    seq = trader.trader.order_stock_async(trader.account, "600000.SH", 23, 100, 11, 10.0)
    time.sleep(0.5)
    assert seq > 0
    assert sim.orders() == []  # sent into the void: xtquant does not reconnect
    assert len(trader.events) == 1
