"""Fixtures of the Python client tests: real `tradebridge serve` processes, clients of them."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from tests.conftest import ADMIN_PASSWORD, Server, start_server, wait_healthy, write_config
from tests.e2e.crash_support import serve_children, wait_replaced

from tradebridge_client import Client, RetryPolicy

DEEP = {"bid_size": 10**9, "ask_size": 10**9}
"""Sizes of a quote no order of these tests exhausts."""


def admin_client(server: Server, **options: object) -> Client:
    return Client(server.base_url, username="admin", password=ADMIN_PASSWORD, **options)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def client_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server of this module alone (tests here reset its paper account at will)."""
    server = start_server(write_config(tmp_path_factory.mktemp("client")))
    yield server
    assert server.stop() == 0


@pytest.fixture
def admin(client_server: Server) -> Iterator[Client]:
    """An admin client of `client_server`, whose paper account was just reset to a deep
    market on 600519.SH around 1500.00."""
    with admin_client(client_server) as client:
        client.paper_reset("paper")
        client.paper_set_quote("paper", "600519.SH", "1500.00", **DEEP)
        yield client


RPC_TIMEOUT_MS = 300
"""The web's wait for the engine in `own_server`: short, so a stopped engine answers 504."""


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[Server]:
    """A server of one test (for those that kill or stop its processes)."""
    config = write_config(tmp_path)
    text = config.read_text().replace(
        "heartbeat_ms = 200", f"heartbeat_ms = 200\nrpc_timeout_ms = {RPC_TIMEOUT_MS}"
    )
    config.write_text(text)
    server = start_server(config)
    yield server
    server.stop()


@contextmanager
def engine_down(server: Server) -> Iterator[None]:
    """The engine killed (SIGKILL) and kept down while the block runs (serve is stopped so
    it cannot restart it); then serve goes on, restarts it, and the API answers again."""
    os.kill(server.process.pid, signal.SIGSTOP)
    killed = serve_children(server)["engine"]
    try:
        os.kill(killed, signal.SIGKILL)
        yield
    finally:
        os.kill(server.process.pid, signal.SIGCONT)
    wait_replaced(server, "engine", {killed})


@contextmanager
def engine_frozen(server: Server) -> Iterator[None]:
    """The engine stopped (SIGSTOP) while the block runs: calls to it time out, then it goes
    on with what it was sent meanwhile."""
    pid = serve_children(server)["engine"]
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)
    wait_healthy(server)


PATIENT = RetryPolicy(attempts=1000, first_delay_s=0.05, max_delay_s=0.5, deadline_s=60)
"""Retries long enough to outlast an engine restart."""
