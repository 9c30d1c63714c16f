"""vnpy_ctp's real `CtpGateway` (its native CTP API built for Linux) hosted by the adapter
without MainEngine or GUI, against loopback ports nothing listens on: the connection fails
cleanly with the reason, orders before login are refused with the gateway's own words, its
flow files go to the trader dir and nothing to HOME, and closing ends every thread it
started, native ones included."""

import contextlib
import json
import os
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from tests.brokers.sinks import RecordingSink
from tests.brokers.vnpy.counter_support import until
from tests.conftest import free_port

from tradebridge.brokers.threads import ThreadCheckedSink
from tradebridge.brokers.vnpy.adapter import VnpyBroker
from tradebridge.brokers.vnpy.config import VnpySettings
from tradebridge.domain.enums import ConnectionState, Offset, Side
from tradebridge.domain.errors import OrderRejected
from tradebridge.domain.orders import OrderRequest, new_order

pytestmark = pytest.mark.anyio


def ctp_setting(directory: Path) -> Path:
    path = directory / "ctp.json"
    setting = {
        "用户名": "000001",
        "密码": "not-a-real-one",
        "经纪商代码": "9999",
        "交易服务器": f"127.0.0.1:{free_port()}",  # nothing listens there
        "行情服务器": f"tcp://127.0.0.1:{free_port()}",
        "产品名称": "",
        "授权编码": "",
        "柜台环境": "测试",
    }
    path.write_text(json.dumps(setting, ensure_ascii=False))
    path.chmod(0o600)
    return path


def os_threads() -> int:
    return len(os.listdir("/proc/self/task"))


def copper(order_id: str, offset: Offset | None) -> object:
    request = OrderRequest(
        symbol="cu2601.SHFE", side=Side.BUY, qty=1, limit_price=Decimal(86000), offset=offset
    )
    return new_order(
        request, order_id=order_id, client_order_id=order_id, account="ctp", now=datetime.now(UTC)
    )


async def test_ctp_gateway_headless(tmp_path: Path, trader_dir: Path) -> None:
    sink = RecordingSink()
    settings = VnpySettings(
        gateway="vnpy_ctp:CtpGateway",
        gateway_name="CTP_TEST",
        setting_file=ctp_setting(tmp_path),
        trader_dir=trader_dir,
        connect_timeout_s=2.0,
    )
    broker = VnpyBroker("ctp", settings, "CNY", ThreadCheckedSink(sink, threading.get_ident()))  # type: ignore[arg-type]
    python_threads, native_threads = threading.active_count(), os_threads()
    started = time.monotonic()
    await broker.connect()
    assert time.monotonic() - started < 2.0 + 6.0
    assert sink.of("connection")[:2] == [ConnectionState.CONNECTING, ConnectionState.DISCONNECTED]
    assert not await broker.ping()
    assert broker.capabilities.markets == {"cn_futures"}
    assert os_threads() > native_threads  # CTP's own threads, trying its front
    assert (trader_dir / "ctp_test").is_dir()  # its flow files (Td*.con, Md*.con)

    with pytest.raises(OrderRejected) as before_login:
        await broker.send(copper("c-1", Offset.OPEN))  # type: ignore[arg-type]
    assert "委托请求发送失败" in before_login.value.message
    with pytest.raises(OrderRejected) as no_offset:
        await broker.send(copper("c-2", None))  # type: ignore[arg-type]
    assert "请选择开平方向" in no_offset.value.message
    assert sink.of("order") == []

    await broker.close()
    with contextlib.suppress(TimeoutError):
        await until(
            lambda: threading.active_count() == python_threads and os_threads() == native_threads,
            timeout_s=5,
        )
    assert threading.active_count() == python_threads, threading.enumerate()
    assert os_threads() == native_threads


HOSTING_SCRIPT = """
import asyncio, sys
from pathlib import Path
from tests.brokers.sinks import RecordingSink
from tradebridge.brokers.vnpy.adapter import VnpyBroker
from tradebridge.brokers.vnpy.config import VnpySettings

async def main() -> None:
    settings = VnpySettings(
        gateway="vnpy_ctp:CtpGateway", gateway_name="CTP", setting_file=Path(sys.argv[1]),
        trader_dir=Path(sys.argv[2]), connect_timeout_s=0.5,
    )
    broker = VnpyBroker("ctp", settings, "CNY", RecordingSink())
    await broker.connect()
    await broker.close()

asyncio.run(main())
"""


def test_nothing_goes_to_home_or_the_working_directory(tmp_path: Path) -> None:
    home, cwd, trader = tmp_path / "home", tmp_path / "cwd", tmp_path / "data" / "vnpy"
    home.mkdir()
    cwd.mkdir()
    repo = Path(__file__).resolve().parents[3]
    env = {**os.environ, "HOME": str(home), "PYTHONPATH": str(repo)}
    subprocess.run(
        [sys.executable, "-c", HOSTING_SCRIPT, str(ctp_setting(tmp_path)), str(trader)],
        cwd=cwd,
        env=env,
        check=True,
        timeout=60,
    )
    assert list(home.iterdir()) == []
    assert list(cwd.iterdir()) == []
    assert sorted(p.name for p in trader.iterdir()) == ["ctp"]
    assert any((trader / "ctp").iterdir())
