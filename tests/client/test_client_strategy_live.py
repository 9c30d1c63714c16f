"""`tradebridge strategy run`: a strategy live against a real `tradebridge serve` through
the client; killed in the middle of a bar and started again, it places no order twice."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from tests.client.conftest import DEEP
from tests.conftest import Server, tradebridge_command

from tradebridge_client import Client, Order

STRATEGY = Path(__file__).parent / "strategies" / "every_bar.py"
SYMBOL = "600519.SH"
WAIT_S = 30.0


class Run:
    """`tradebridge strategy run` as a child process, its output in a file."""

    def __init__(self, server: Server, key: str, state: Path, log: Path, env: dict[str, str]):
        self.log = log
        with log.open("ab") as output:
            self.process = subprocess.Popen(
                tradebridge_command(
                    "strategy",
                    "run",
                    str(STRATEGY),
                    "--account",
                    "paper",
                    "--url",
                    server.base_url,
                    "--state",
                    str(state),
                ),
                stdout=output,
                stderr=subprocess.STDOUT,
                env={**os.environ, "TRADEBRIDGE_API_KEY": key, **env},
            )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for(self, text: str, count: int = 1) -> None:
        deadline = time.monotonic() + WAIT_S
        while self.output().count(text) < count:
            if self.process.poll() is not None and self.output().count(text) < count:
                raise AssertionError(f"the run ended ({self.process.returncode}):\n{self.output()}")
            assert time.monotonic() < deadline, f"no {text!r} in:\n{self.output()}"
            time.sleep(0.05)

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(WAIT_S)
        return self.process.returncode


@pytest.fixture
def key(admin: Client) -> str:
    return admin.create_key(["read", "trade"], account="paper").key


@contextmanager
def running(
    server: Server, key: str, tmp_path: Path, log: str = "run.log", **env: str
) -> Iterator[Run]:
    run = Run(server, key, tmp_path / "state.json", tmp_path / log, env)
    try:
        yield run
    finally:
        if run.process.poll() is None:
            run.process.kill()
            run.process.wait()
        print(run.output())


def end_bar(admin: Client, close: str) -> None:
    """The market at `close`, then the paper clock a minute on and a quote there at the same
    price: the bar ends at `close`, and an order at its ask fills."""
    admin.paper_set_quote("paper", SYMBOL, close, **DEEP)
    (now,) = admin.quotes([SYMBOL], account="paper")
    admin.paper_clock("paper", to=now.time + timedelta(minutes=1))
    admin.paper_set_quote("paper", SYMBOL, close, **DEEP)


def own_orders(admin: Client, before: set[str] | frozenset[str] = frozenset()) -> list[Order]:
    """The strategy's orders, but for those of `before` (ids of earlier tests' orders)."""
    return [
        o
        for o in admin.orders("paper", limit=1000)
        if o.client_order_id.startswith("everybar:") and o.id not in before
    ]


def test_a_live_run_trades_each_bar_and_hears_of_its_fills(
    client_server: Server, admin: Client, key: str, tmp_path: Path
) -> None:
    before = {o.id for o in own_orders(admin)}
    with running(client_server, key, tmp_path) as run:
        run.wait_for("started in live with 5 bars of history")
        time.sleep(0.5)  # subscribed to the quotes
        end_bar(admin, "1500.00")
        run.wait_for("trade ")
        end_bar(admin, "1510.00")
        run.wait_for("trade ", 2)
        assert run.stop() == 0
    output = run.output()
    assert "stopped" in output
    orders = own_orders(admin, before)
    assert [o.limit_price for o in orders] == [Decimal("1500.01"), Decimal("1510.01")]
    assert all(o.status == "filled" for o in orders)
    told = re.findall(r"everybar: order (\S+) (\w+)", output)
    assert told == [(o.id, status) for o in orders for status in ("new", "filled")]  # on_order


def test_a_run_killed_in_the_middle_of_a_bar_does_not_order_twice(
    client_server: Server, admin: Client, key: str, tmp_path: Path
) -> None:
    marker = tmp_path / "crash"
    marker.touch()
    state = tmp_path / "state.json"
    before = {o.id for o in own_orders(admin)}
    with running(client_server, key, tmp_path, TB_CRASH_AFTER_ORDER=str(marker)) as first:
        first.wait_for("started in live")
        time.sleep(0.5)
        end_bar(admin, "1500.00")
        first.process.wait(WAIT_S)
    assert first.process.returncode == -signal.SIGKILL
    assert not marker.exists()
    assert '"pending_bar":{' in state.read_text()  # it died handling the bar
    (placed,) = own_orders(admin, before)
    with running(client_server, key, tmp_path, "second.log") as second:
        second.wait_for(f"order {placed.id}")  # the bar handled again: the same order
        time.sleep(0.5)
        end_bar(admin, "1505.00")
        second.wait_for("trade ", 2)  # the first order's fill, missed while down, then this one's
        assert second.stop() == 0
    orders = own_orders(admin, before)
    cids = Counter(o.client_order_id for o in orders)
    assert len(orders) == 2, orders
    assert max(cids.values()) == 1
    assert orders[0].id == placed.id
    assert [o.limit_price for o in orders] == [Decimal("1500.01"), Decimal("1505.01")]
    assert '"pending_bar":null' in state.read_text()


def test_the_same_strategy_runs_in_a_backtest(tmp_path: Path) -> None:
    bars = tmp_path / "bars.csv"
    rows = [
        f"600519.SH,2024-01-02T{9 + (30 + m) // 60:02d}:{(30 + m) % 60:02d}:00,"
        f"1500.00,{1501 + m}.00,1499.00,{1500 + m}.00,100"
        for m in range(4)
    ]
    bars.write_text("symbol,time,open,high,low,close,volume\n" + "\n".join(rows) + "\n")
    result = subprocess.run(
        tradebridge_command(
            "strategy",
            "backtest",
            str(STRATEGY),
            "--from",
            "2024-01-02",
            "--to",
            "2024-01-02",
            "--bars",
            str(bars),
            "--out",
            str(tmp_path / "report"),
            "--json",
        ),
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "started in backtest with 0 bars of history" in result.stdout
    assert result.stdout.count("trade ") == 4  # one order a bar, each filled at the next open
