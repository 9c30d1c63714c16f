import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from tests.brokers.qmt.qmt_support import ACCOUNT, MiniQmtProcess, miniqmt, standin_importable
from tests.brokers.sinks import RecordingSink

from tradebridge.brokers.qmt.adapter import QmtBroker
from tradebridge.brokers.qmt.config import QmtSettings
from tradebridge.brokers.threads import ThreadCheckedSink


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[MiniQmtProcess]:
    with miniqmt(tmp_path / "userdata", [ACCOUNT, "55009999:CREDIT"]) as running:
        yield running


@pytest.fixture
def standin() -> Iterator[None]:
    with standin_importable():
        yield


def qmt_settings(sim: MiniQmtProcess, **changes: object) -> QmtSettings:
    return QmtSettings.model_validate(
        {
            "userdata_path": str(sim.userdata),
            "account_id": ACCOUNT,
            "xtdata_address": sim.data_address,
            "request_timeout_s": 2.0,
            **changes,
        }
    )


class Started:
    def __init__(self, broker: QmtBroker, sink: RecordingSink) -> None:
        self.broker = broker
        self.sink = sink


async def start_broker(sim: MiniQmtProcess, **changes: object) -> Started:
    """An adapter connected to `sim`, reporting to a sink that refuses calls off the loop."""
    sink = RecordingSink()
    checked = ThreadCheckedSink(sink, threading.get_ident())
    broker = QmtBroker("qmt", qmt_settings(sim, **changes), checked)
    await broker.connect()
    return Started(broker, sink)


@pytest.fixture
async def qmt(sim: MiniQmtProcess, standin: None) -> AsyncIterator[Started]:
    started = await start_broker(sim)
    yield started
    await started.broker.close()
