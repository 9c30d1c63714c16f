"""Hosted strategies (`[[strategies]]`): the engine runs them as supervised children, listed
at GET /api/v1/strategies and started or stopped there by admins, through the client."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from tests.client.conftest import admin_client
from tests.client.test_client_strategy_live import end_bar
from tests.conftest import Server, start_server, tradebridge_command, write_config
from tests.e2e.crash_support import kill_child, wait_replaced

from tradebridge_client import Client, Forbidden, NotFound, StrategyInfo

STRATEGY = Path(__file__).parent / "strategies" / "every_bar.py"
WAIT_S = 30.0


@pytest.fixture
def hosting(tmp_path: Path) -> Iterator[Server]:
    """A server hosting the test strategy as `hosted-eb` (and a second, not started)."""
    extra = f"""
[[strategies]]
name = "hosted-eb"
file = "{STRATEGY}"
account = "paper"

[[strategies]]
name = "idle"
file = "{STRATEGY}"
account = "paper"
autostart = false
"""
    server = start_server(write_config(tmp_path, extra))
    yield server
    server.stop()


def wait_for(client: Client, name: str, check: Callable[[StrategyInfo], bool]) -> StrategyInfo:
    deadline = time.monotonic() + WAIT_S
    while True:
        (info,) = [s for s in client.strategies() if s.name == name]
        if check(info):
            return info
        assert time.monotonic() < deadline, info
        time.sleep(0.1)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def log_of(server: Server, name: str) -> str:
    return (server.config.parent / "data" / "strategies" / f"{name}.log").read_text()


def wait_started(server: Server, name: str, count: int = 1) -> None:
    """Until the strategy's `on_start` has run `count` times."""
    deadline = time.monotonic() + WAIT_S
    while log_of(server, name).count("started in live") < count:
        assert time.monotonic() < deadline, log_of(server, name)
        time.sleep(0.1)


def test_a_hosted_strategy_runs_trades_and_restarts_when_killed(hosting: Server) -> None:
    with admin_client(hosting) as admin:
        running = wait_for(admin, "hosted-eb", lambda s: s.state == "running" and s.pid is not None)
        assert running.pid is not None
        assert (running.account, running.file, running.restarts) == ("paper", str(STRATEGY), 0)
        idle = wait_for(admin, "idle", lambda s: True)
        assert (idle.state, idle.pid) == ("stopped", None)
        wait_started(hosting, "hosted-eb")
        time.sleep(0.5)
        end_bar(admin, "1500.00")
        deadline = time.monotonic() + WAIT_S
        while not [o for o in admin.orders("paper") if o.client_order_id.startswith("hosted-eb:")]:
            assert time.monotonic() < deadline, log_of(hosting, "hosted-eb")
            time.sleep(0.1)

        os.kill(running.pid, signal.SIGKILL)
        again = wait_for(
            admin, "hosted-eb", lambda s: s.state == "running" and s.pid not in (None, running.pid)
        )
        assert again.restarts == 1
        assert again.last_exit == "killed by SIGKILL"
        key = hosting.config.parent / "data" / "strategies" / "hosted-eb.key"
        assert oct(key.stat().st_mode & 0o777) == "0o600"


def test_admins_stop_and_start_hosted_strategies_and_a_stop_is_kept(hosting: Server) -> None:
    with admin_client(hosting) as admin:
        first = wait_for(admin, "hosted-eb", lambda s: s.pid is not None)
        assert first.pid is not None
        wait_started(hosting, "hosted-eb")
        stopped = admin.stop_strategy("hosted-eb")
        assert (stopped.state, stopped.pid) == ("stopped", None)
        assert not alive(first.pid)
        assert "stopped" in log_of(hosting, "hosted-eb")  # on_stop ran: a clean stop
        engine = kill_child(hosting, "engine")
        wait_replaced(hosting, "engine", {engine})
        time.sleep(1.0)
        assert wait_for(admin, "hosted-eb", lambda s: True).state == "stopped"  # still

        started = admin.start_strategy("hosted-eb")
        assert started.state == "running"
        assert started.pid is not None
        assert alive(started.pid)
        assert admin.start_strategy("hosted-eb").pid == started.pid  # running: left as is
        idle = admin.start_strategy("idle")
        assert idle.state == "running"
        with pytest.raises(NotFound):
            admin.start_strategy("nosuch")


def test_the_children_end_with_the_engine_and_come_back_with_it(hosting: Server) -> None:
    with admin_client(hosting) as admin:
        first = wait_for(admin, "hosted-eb", lambda s: s.pid is not None)
        assert first.pid is not None
        engine = kill_child(hosting, "engine")  # SIGKILL: the kernel tells the children
        deadline = time.monotonic() + WAIT_S
        while alive(first.pid):
            assert time.monotonic() < deadline
            time.sleep(0.1)
        wait_replaced(hosting, "engine", {engine})
        back = wait_for(admin, "hosted-eb", lambda s: s.pid not in (None, first.pid))
        assert back.state == "running"


def test_only_admins_start_or_stop_them_also_from_the_command_line(hosting: Server) -> None:
    with admin_client(hosting) as admin:
        reader = admin.create_key(["read", "trade"]).key
        boss = admin.create_key(["read", "trade", "admin"]).key
    with Client(hosting.base_url, api_key=reader) as client:
        assert {s.name for s in client.strategies()} == {"hosted-eb", "idle"}
        with pytest.raises(Forbidden):
            client.stop_strategy("hosted-eb")
        with pytest.raises(Forbidden):
            client.start_strategy("idle")

    def command(*args: str, key: str = boss) -> subprocess.CompletedProcess[str]:
        where = ["--url", hosting.base_url, "--api-key", key]
        return subprocess.run(
            tradebridge_command("strategy", *args, *where),
            capture_output=True,
            text=True,
            timeout=60,
        )

    listed = json.loads(command("list", "--json").stdout)
    assert {s["name"]: s["account"] for s in listed} == {"hosted-eb": "paper", "idle": "paper"}
    table = command("list").stdout
    assert "hosted-eb" in table
    assert "idle" in table
    refused = command("start", "idle", key=reader)
    assert refused.returncode == 1
    assert "forbidden" in refused.stderr
    started = command("start", "idle")
    assert started.returncode == 0, started.stderr
    assert started.stdout.startswith("idle: running (pid ")
    assert command("stop", "idle").stdout.strip() == "idle: stopped"


def test_a_server_without_hosted_strategies_lists_none(client_server: Server) -> None:
    with admin_client(client_server) as admin:
        assert admin.strategies() == []
        with pytest.raises(NotFound):
            admin.stop_strategy("anything")


def test_a_strategy_on_an_unknown_account_is_a_config_error(tmp_path: Path) -> None:
    from tradebridge.config import ConfigError, load_settings

    config = write_config(
        tmp_path, f'[[strategies]]\nname = "x"\nfile = "{STRATEGY}"\naccount = "nope"\n'
    )
    with pytest.raises(ConfigError, match="account 'nope', which is not configured"):
        load_settings(config)
