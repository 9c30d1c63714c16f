"""The futu adapter in process, with the real futu-api, against the fake OpenD running as its
own process: what reaches the sink (on the loop's thread), and what the fake then holds."""

import asyncio
import functools
import os
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
import pytest
from tests.brokers.adapter_support import broker_order, until
from tests.brokers.futu.fake_support import HK_SIM, PASSWORD, REAL, FakeOpenD
from tests.brokers.sinks import RecordingSink

from tradebridge.brokers.base import Fill, OrderUpdate
from tradebridge.brokers.fees import FillShare, split_fee
from tradebridge.brokers.futu import create
from tradebridge.brokers.futu.adapter import FutuBroker
from tradebridge.brokers.futu.config import FutuSettings
from tradebridge.brokers.futu.mapping import tables, to_futu_code, to_our_symbol
from tradebridge.brokers.mapping import UnmappedValue
from tradebridge.brokers.threads import ThreadCheckedSink
from tradebridge.domain.enums import ConnectionState, MarketStatus, OrderStatus, Side
from tradebridge.domain.errors import BrokerUnavailable, NotCancelable, OrderRejected

pytestmark = pytest.mark.anyio

an_order = functools.partial(broker_order, "futu")


class Account:
    def __init__(self, settings: FutuSettings, base_currency: str = "HKD") -> None:
        self.id = "futu"
        self.futu = settings
        self.base_currency = base_currency


@pytest.fixture
def fake(tmp_path: Path) -> Iterator[FakeOpenD]:
    running = FakeOpenD(tmp_path / "opend").start()
    yield running
    running.stop()


async def started(
    fake: FakeOpenD, tmp_path: Path, **settings: Any
) -> tuple[FutuBroker, RecordingSink]:
    sink = RecordingSink()
    checked = ThreadCheckedSink(sink, threading.get_ident())
    config = FutuSettings(port=fake.port, request_timeout_s=15, **settings)
    broker = create(Account(config), checked, tmp_path / "files")
    assert isinstance(broker, FutuBroker)
    await broker.connect()
    return broker, sink


@pytest.fixture
async def hk(fake: FakeOpenD, tmp_path: Path) -> AsyncIterator[tuple[FutuBroker, RecordingSink]]:
    broker, sink = await started(fake, tmp_path)
    yield broker, sink
    await broker.close()


def updates_of(sink: RecordingSink, order_id: str) -> list[OrderUpdate]:
    return [u for u in sink.of("order") if u.order_id == order_id]


def fills_of(sink: RecordingSink, broker_order_id: str) -> list[Fill]:
    return [f for f in sink.of("fill") if f.broker_order_id == broker_order_id]


def fake_order(fake: FakeOpenD, broker_order_id: str) -> dict[str, Any]:
    return next(o for o in fake.state()["orders"].values() if o["id_ex"] == broker_order_id)


async def test_connects_and_reports_the_books_as_the_fake_holds_them(
    hk: tuple[FutuBroker, RecordingSink], fake: FakeOpenD
) -> None:
    broker, sink = hk
    assert sink.of("connection")[-1] is ConnectionState.CONNECTED, sink.connection_messages
    assert await broker.ping()
    held = fake.state()["accounts"][str(HK_SIM)]
    summary = await broker.query_account()
    balances = {b.currency: b for b in summary.balances}
    assert balances["HKD"].cash == Decimal(held["cash"]["HKD"])
    assert balances["USD"].cash == Decimal(held["cash"]["USD"])
    assert summary.cash == Decimal(held["cash"]["HKD"]) + Decimal(held["cash"]["USD"]) * Decimal(
        "7.8"
    )
    (position,) = await broker.query_positions()
    assert (position.symbol, position.qty, position.avg_cost) == ("09988.HK", 500, Decimal("75.5"))
    assert position.market_value == Decimal("40000.0")
    statuses = {s.venue: s for s in await broker.market_status()}
    assert (statuses["HK"].status, statuses["HK"].broker_status) == (MarketStatus.OPEN, "MORNING")
    assert statuses["SH"].status is MarketStatus.CLOSED


async def test_a_resting_order_fills_in_two_parts_and_gets_the_order_fee(
    hk: tuple[FutuBroker, RecordingSink], fake: FakeOpenD
) -> None:
    broker, sink = hk
    order = an_order("00700.HK", 200, "370.0")
    await broker.place_order(order)
    acknowledged = await until(
        lambda: [u for u in updates_of(sink, order.id) if u.status is OrderStatus.NEW], "new"
    )
    broker_order_id = acknowledged[0].broker_order_id
    assert fake_order(fake, broker_order_id)["remark"] == order.id
    fake.price("HK.00700", "369.8", size=100)  # the ask comes down to 370.0, 100 shares deep
    await until(lambda: len(fills_of(sink, broker_order_id)) == 1, "the first fill")
    fake.price("HK.00700", "369.8", size=100)
    fills = await until(
        lambda: len(fills_of(sink, broker_order_id)) == 2 and fills_of(sink, broker_order_id),
        "the second fill",
    )
    assert [(f.qty, f.price, f.fee) for f in fills] == [(100, Decimal("370.0"), None)] * 2
    fees = await until(lambda: len(sink.of("fee")) == 2 and dict(sink.of("fee")), "the fees")
    assert set(fees) == {f.trade_id for f in fills}
    assert sum(fees.values()) == Decimal(fake_order(fake, broker_order_id)["fee"]) > 0
    assert [u.status for u in updates_of(sink, order.id)][-1] is OrderStatus.FILLED


async def test_a_marketable_order_is_reported_filled_whichever_push_comes_first(
    hk: tuple[FutuBroker, RecordingSink], fake: FakeOpenD
) -> None:
    broker, sink = hk
    fake.call("deal_before_order", on=True)
    order = an_order("00700.HK", 100, "381.0")
    await broker.place_order(order)
    # the SDK looks the order up before `place_order` returns: the pushes came first
    statuses = [u.status for u in updates_of(sink, order.id)]
    assert OrderStatus.FILLED in statuses
    broker_order_id = updates_of(sink, order.id)[0].broker_order_id
    (fill,) = await until(lambda: fills_of(sink, broker_order_id), "the fill")
    assert (fill.qty, fill.price) == (100, Decimal("380.2"))


async def test_a_refusal_carries_futu_s_message_and_a_cancel_cancels(
    hk: tuple[FutuBroker, RecordingSink], fake: FakeOpenD
) -> None:
    broker, sink = hk
    with pytest.raises(OrderRejected, match="multiple of the lot size 100"):
        await broker.place_order(an_order("00700.HK", 150, "370.0"))
    with pytest.raises(OrderRejected, match="Insufficient buying power"):
        await broker.place_order(an_order("00700.HK", 100_000, "370.0"))
    order = an_order("00700.HK", 100, "360.0")
    await broker.place_order(order)
    new, *_ = await until(
        lambda: [u for u in updates_of(sink, order.id) if u.status is OrderStatus.NEW], "new"
    )
    resting = msgspec.structs.replace(order, broker_order_id=new.broker_order_id)
    await broker.cancel_order(resting)
    await until(
        lambda: OrderStatus.CANCELED in [u.status for u in updates_of(sink, order.id)], "canceled"
    )
    with pytest.raises(NotCancelable, match="cannot be cancelled"):
        await broker.cancel_order(resting)


async def test_an_order_entered_in_the_futu_app_carries_its_details(
    hk: tuple[FutuBroker, RecordingSink], fake: FakeOpenD
) -> None:
    broker, sink = hk
    placed = fake.call("external", acc=HK_SIM, code="HK.00700", side="buy", qty=200, price="350.0")
    update = await until(
        lambda: next(
            (u for u in sink.of("order") if u.broker_order_id == placed["order_id"]), None
        ),
        "the app's order",
    )
    assert update.order_id is None
    assert update.details is not None
    assert (update.details.symbol, update.details.qty, update.details.limit_price) == (
        "00700.HK",
        200,
        Decimal("350.0"),
    )
    listed = [o for o in await broker.query_orders() if o.broker_order_id == placed["order_id"]]
    assert listed[0].order_id is None
    assert listed[0].details is not None


async def test_an_answer_lost_on_the_way_is_looked_up_before_it_counts_as_a_refusal(
    hk: tuple[FutuBroker, RecordingSink], fake: FakeOpenD
) -> None:
    broker, sink = hk
    fake.call("fault", lose_place_answer=True)
    order = an_order("00700.HK", 100, "360.0")
    await broker.place_order(order)  # Futu has it: no rejection
    (found,) = [o for o in fake.state()["orders"].values() if o["remark"] == order.id]
    await until(
        lambda: any(u.broker_order_id == found["id_ex"] for u in updates_of(sink, order.id)),
        "the order's report",
    )


async def test_quotes_snapshots_and_streaming(
    hk: tuple[FutuBroker, RecordingSink], fake: FakeOpenD
) -> None:
    broker, sink = hk
    (quote,) = await broker.quotes(["AAPL.US"])
    assert (quote.last, quote.bid, quote.ask) == (
        Decimal("230.0"),
        Decimal("229.99"),
        Decimal("230.01"),
    )
    contract = await broker.contract("00700.HK")
    assert contract is not None
    assert (contract.lot_size, contract.currency, contract.name) == (100, "HKD", "TENCENT")
    assert await broker.contract("99999.HK") is None
    with pytest.raises(Exception, match=r"99999\.HK"):
        await broker.quotes(["00700.HK", "99999.HK"])
    await broker.subscribe_quotes(["00700.HK"])
    fake.price("HK.00700", "385.0")
    await until(
        lambda: any(
            q.symbol == "00700.HK" and q.last == Decimal("385.0") for q in sink.of("quote")
        ),
        "the pushed quote",
    )
    await broker.unsubscribe_quotes(["00700.HK"])


async def test_opend_gone_is_disconnected_and_back_is_reconnected(
    hk: tuple[FutuBroker, RecordingSink], fake: FakeOpenD
) -> None:
    broker, sink = hk
    order = an_order("00700.HK", 100, "360.0")
    await broker.place_order(order)
    fake.kill()
    await until(lambda: sink.of("connection")[-1] is not ConnectionState.CONNECTED, "the loss")
    assert not await broker.ping()
    with pytest.raises(BrokerUnavailable):
        await broker.place_order(an_order("00700.HK", 100, "360.0"))
    fake.start(paused=True)
    fake.price("HK.00700", "359.8")  # fills the resting order while nobody listens
    fake.call("listen")
    await until(lambda: sink.of("connection")[-1] is ConnectionState.CONNECTED, "reconnected")
    (report,) = [o for o in await broker.query_orders() if o.order_id == order.id]
    assert (report.status, report.filled_qty) == (OrderStatus.FILLED, 100)
    fills = [f for f in await broker.query_trades() if f.order_id == order.id]
    assert [f.qty for f in fills] == [100]


async def test_opend_down_at_start_is_reported_at_once_and_connected_later(
    fake: FakeOpenD, tmp_path: Path
) -> None:
    fake.kill()
    began = time.monotonic()
    broker, sink = await started(fake, tmp_path)
    try:
        assert time.monotonic() - began < 5
        assert sink.of("connection")[-1] is ConnectionState.DISCONNECTED
        fake.start()
        await until(lambda: sink.of("connection")[-1] is ConnectionState.CONNECTED, "connected")
    finally:
        await broker.close()


async def test_real_trading_unlocks_from_the_password_file(fake: FakeOpenD, tmp_path: Path) -> None:
    secret = tmp_path / "unlock"
    secret.write_text(PASSWORD + "\n")
    secret.chmod(0o600)
    broker, sink = await started(fake, tmp_path, trd_env="real", unlock_password_file=secret)
    try:
        assert sink.of("connection")[-1] is ConnectionState.CONNECTED
        hk_order = an_order("00700.HK", 100, "360.0")
        await broker.place_order(hk_order)
        assert [o["acc"] for o in fake.state()["orders"].values()] == [str(REAL)]
    finally:
        await broker.close()


async def test_a_wrong_unlock_password_is_not_tried_again(fake: FakeOpenD, tmp_path: Path) -> None:
    secret = tmp_path / "unlock"
    secret.write_text("wrong")
    secret.chmod(0o600)
    broker, sink = await started(fake, tmp_path, trd_env="real", unlock_password_file=secret)
    try:
        assert sink.of("connection")[-1] is ConnectionState.DISCONNECTED
        await asyncio.sleep(2.5)  # several backoff periods
        assert fake.state()["requests"]["2005"] == 1
    finally:
        await broker.close()


def test_the_fee_split_adds_up_and_does_not_depend_on_the_order_of_the_fills() -> None:
    from datetime import UTC, datetime

    first = FillShare("7", 100, datetime(2025, 1, 2, 1, tzinfo=UTC))
    second = FillShare("12", 200, datetime(2025, 1, 2, 2, tzinfo=UTC))
    shares = split_fee(Decimal("18.34"), [second, first])
    assert shares == {"7": Decimal("6.11"), "12": Decimal("12.23")}
    assert split_fee(Decimal("18.34"), [first, second]) == shares


def test_symbols_and_unknown_values() -> None:
    import futu

    assert to_futu_code("BRK.B.US") == "US.BRK.B"
    assert to_our_symbol("US.BRK.B") == "BRK.B.US"
    assert to_futu_code("600519.SH") == "SH.600519"
    mapped = tables(futu)
    assert mapped.status.to_ours(futu.OrderStatus.FILLED_PART) is OrderStatus.PARTIALLY_FILLED
    assert mapped.side.to_sdk(Side.SELL) == futu.TrdSide.SELL
    with pytest.raises(UnmappedValue, match="futu order status: unknown SDK value 'N/A'"):
        mapped.status.to_ours(futu.OrderStatus.NONE)


def test_importing_the_sdk_keeps_the_process_s_sigint_handler(tmp_path: Path) -> None:
    script = (
        "import signal, os\n"
        "def mine(*_): pass\n"
        "signal.signal(signal.SIGINT, mine)\n"
        "from pathlib import Path\n"
        "from tradebridge.brokers.futu.sdk import load_futu\n"
        f"load_futu(Path({str(tmp_path / 'files')!r}))\n"
        "assert signal.getsignal(signal.SIGINT) is mine\n"
        "print(os.environ['HOME'])\n"
    )
    env = {**os.environ, "HOME": str(tmp_path / "home")}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(tmp_path / "home")
    assert list((tmp_path / "files").rglob("py_*.log"))
    assert not (tmp_path / "home").exists()
