"""The fake gateway hosted in-process by the adapter, in front of a fake counter process."""

import threading
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from tests.brokers.sinks import RecordingSink
from tests.brokers.vnpy.counter_support import FAKE_GATEWAY, Counter, running_counter, setting_file

from tradebridge.brokers.base import JournalSnapshot
from tradebridge.brokers.threads import ThreadCheckedSink
from tradebridge.brokers.vnpy.adapter import VnpyBroker
from tradebridge.brokers.vnpy.config import VnpySettings


@pytest.fixture(scope="session")
def trader_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """vnpy's trader folder: one per process, as vnpy keeps it in a module global."""
    return tmp_path_factory.mktemp("vntrader")


@pytest.fixture
def counter() -> Iterator[Counter]:
    with running_counter() as running:
        yield running


class Hosted:
    def __init__(self, broker: VnpyBroker, sink: RecordingSink) -> None:
        self.broker = broker
        self.sink = sink


@pytest.fixture
def host(tmp_path: Path, counter: Counter, trader_dir: Path) -> Callable[..., Any]:
    """`async with host(**setting) as hosted`: the fake gateway hosted by the adapter."""

    @asynccontextmanager
    async def hosted(
        snapshot: JournalSnapshot | None = None, **setting: Any
    ) -> AsyncIterator[Hosted]:
        sink = RecordingSink()
        checked = ThreadCheckedSink(sink, threading.get_ident())  # type: ignore[arg-type]
        vnpy = VnpySettings(
            gateway=FAKE_GATEWAY,
            gateway_name="FAKE",
            setting_file=setting_file(tmp_path, counter, **setting),
            trader_dir=trader_dir,
            settle_s=0.3,
            connect_timeout_s=10,
            cancel_timeout_s=1.0,
        )
        broker = VnpyBroker("fake", vnpy, "CNY", checked)
        if snapshot is not None:
            await broker.restore(snapshot)
        try:
            await broker.connect()
            yield Hosted(broker, sink)
        finally:
            await broker.close()

    return hosted
