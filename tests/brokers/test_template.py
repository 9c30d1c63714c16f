"""The adapter template works as the pattern it shows: SDK callbacks from a foreign thread
reach the sink on the loop, a refusal is a rejection, a hung call times out, a lost link is
reconnected, and unmapped SDK values fail loudly. Also: every broker folder has the
template's file set and the registry and the config name the same brokers."""

import asyncio
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from tests.brokers.sinks import RecordingSink

import tradebridge.brokers as brokers_package
from tradebridge.brokers._template.adapter import TemplateBroker
from tradebridge.brokers._template.config import TemplateSettings
from tradebridge.brokers._template.reports import SdkCallbacks
from tradebridge.brokers.mapping import Table, UnmappedValue
from tradebridge.brokers.registry import BROKERS
from tradebridge.brokers.threads import ThreadCheckedSink
from tradebridge.config import BROKER_NAMES
from tradebridge.domain.enums import ConnectionState, OrderStatus, OrderType, Side
from tradebridge.domain.errors import OrderRejected, Timeout
from tradebridge.domain.orders import OrderRequest, new_order

pytestmark = pytest.mark.anyio

TEMPLATE_FILES = {"__init__.py", "config.py", "mapping.py", "adapter.py", "reports.py"}


class FakeClient:
    """An SDK that answers on the caller's thread and calls back on a thread of its own."""

    def __init__(self) -> None:
        self.callbacks: SdkCallbacks | None = None
        self.connects = 0
        self.placed: list[dict[str, Any]] = []
        self.hang = threading.Event()

    def connect(self, host: str, port: int, account_no: str, callbacks: SdkCallbacks) -> None:
        self.connects += 1
        self.callbacks = callbacks

    def disconnect(self) -> None:
        pass

    def place(self, **order: Any) -> str:
        if self.hang.is_set():
            time.sleep(0.5)
        if order["qty"] > 1000:
            raise ValueError("exceeds the order limit")
        self.placed.append(order)
        order_no = str(len(self.placed))
        record = {"order_no": order_no, "status": "part_traded", "traded_qty": 100, **order}
        threading.Thread(target=self._push, args=(record,)).start()
        return order_no

    def _push(self, record: dict[str, Any]) -> None:
        assert self.callbacks is not None
        self.callbacks.on_order(record)
        trade = {"trade_no": "T1", "qty": 100, "price": 10.01, "fee": 5, "time": 1.7e9}
        self.callbacks.on_trade({**record, **trade})

    def cancel(self, order_no: str) -> None:
        pass

    def orders(self) -> list[dict[str, Any]]:
        return []

    def trades(self) -> list[dict[str, Any]]:
        return []

    def positions(self) -> list[dict[str, Any]]:
        return []

    def asset(self) -> dict[str, Any]:
        return {}

    def instrument(self, symbol: str) -> dict[str, Any] | None:
        return None

    def ticks(self, symbols: list[str]) -> list[dict[str, Any]]:
        return []

    def market(self) -> dict[str, str]:
        return {"SH": "trading", "SZ": "lunch"}


def an_order(qty: int = 200) -> Any:
    request = OrderRequest(
        symbol="600000.SH", side=Side.BUY, qty=qty, type=OrderType.LIMIT, limit_price=10
    )
    return new_order(request, order_id="O1", client_order_id="c1", account="t", now=None)


async def started(client: FakeClient, timeout_s: float = 5) -> tuple[TemplateBroker, Any]:
    sink = RecordingSink()
    checked = ThreadCheckedSink(sink, threading.get_ident())
    settings = TemplateSettings(account_no="42", request_timeout_s=timeout_s)
    broker = TemplateBroker("t", settings, checked, client)
    await broker.connect()
    return broker, sink


async def settle(sink: RecordingSink, count: int) -> None:
    for _ in range(200):
        if len(sink.calls) >= count:
            return
        await asyncio.sleep(0.01)


async def test_callbacks_from_sdk_threads_reach_the_sink_on_the_loop() -> None:
    client = FakeClient()
    broker, sink = await started(client)
    assert sink.of("connection")[-1] is ConnectionState.CONNECTED
    await broker.place_order(an_order())
    await settle(sink, 5)
    (update, *_) = [u for u in sink.of("order") if u.broker_order_id == "1"]
    assert update.order_id == "O1"
    (fill,) = sink.of("fill")
    assert (fill.order_id, fill.qty, str(fill.price)) == ("O1", 100, "10.01")
    assert client.placed[0]["remark"] == "O1"
    assert [s.status.value for s in await broker.market_status()] == ["open", "break"]
    await broker.close()


async def test_a_refusal_is_a_rejection_and_a_hung_call_an_unknown_outcome() -> None:
    client = FakeClient()
    broker, _ = await started(client, timeout_s=0.1)
    with pytest.raises(OrderRejected, match="exceeds the order limit"):
        await broker.place_order(an_order(qty=5000))
    client.hang.set()
    with pytest.raises(Timeout):
        await broker.place_order(an_order())
    await broker.close()


async def test_a_lost_link_is_reconnected() -> None:
    client = FakeClient()
    broker, sink = await started(client)
    assert client.callbacks is not None
    threading.Thread(target=client.callbacks.on_disconnected, args=("socket closed",)).start()
    for _ in range(300):
        if client.connects == 2 and await broker.ping():
            break
        await asyncio.sleep(0.01)
    assert client.connects == 2
    assert sink.of("connection")[-3:] == [
        ConnectionState.DISCONNECTED,
        ConnectionState.CONNECTING,
        ConnectionState.CONNECTED,
    ]
    await broker.close()


def test_an_unmapped_value_names_itself_both_ways() -> None:
    table = Table("status", {"a": OrderStatus.NEW, "b": OrderStatus.NEW, "c": OrderStatus.FILLED})
    assert table.to_ours("a") is OrderStatus.NEW
    assert table.to_sdk(OrderStatus.FILLED) == "c"
    with pytest.raises(UnmappedValue, match="status: unknown SDK value 'z'"):
        table.to_ours("z")
    with pytest.raises(UnmappedValue, match="no SDK value"):
        table.to_sdk(OrderStatus.NEW)  # two SDK values map to it: no guess


def test_the_registry_and_the_config_name_the_same_brokers() -> None:
    assert set(BROKERS) == set(BROKER_NAMES)


def test_every_broker_folder_has_the_template_file_set() -> None:
    root = Path(brokers_package.__file__).parent
    for name in BROKER_NAMES:
        if name == "paper":  # the simulator: a venue, not an adapter of an SDK
            continue
        files = {p.name for p in (root / name).glob("*.py")}
        assert files >= TEMPLATE_FILES, f"brokers/{name} lacks {TEMPLATE_FILES - files}"
    assert {p.name for p in (root / "_template").glob("*.py")} == TEMPLATE_FILES
