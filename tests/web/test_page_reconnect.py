"""The page across a restart of the web process: `serve`'s web child is killed with SIGKILL and
restarted by the supervisor; the connection indicator goes down, then up, and the tables go
on from the last event the page had (a `resume`, not a reload), including an order placed
while the page was disconnected."""

import json
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Request, WebSocket, expect
from tests.conftest import (
    Server,
    free_port,
    start_server,
    tradebridge_command,
    wait_healthy,
    write_config,
)
from tests.e2e.crash_support import serve_children
from tests.web.conftest import OpenTab

ORDERS = "/api/v1/accounts/paper/orders"
ORDER = {"symbol": "600519.SH", "side": "buy", "qty": 100, "limit_price": "1480.00"}


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[Server]:
    server = start_server(write_config(tmp_path))
    yield server
    assert server.stop() == 0


@pytest.fixture
def second_web(own_server: Server, tmp_path: Path) -> Iterator[Server]:
    """Another web process in front of the same engine (as on another host), to place an
    order while the page's own web process is down."""
    port = free_port()
    log = tmp_path / "second-web.log"
    with log.open("ab") as sink:
        process = subprocess.Popen(
            tradebridge_command("web", "--config", str(own_server.config), "--port", str(port)),
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    web = Server(own_server.config, process, f"http://127.0.0.1:{port}", log)
    wait_healthy(web)
    yield web
    assert web.stop() == 0


def test_page_resumes_after_the_web_process_restarts(
    open_tab: OpenTab, own_server: Server, second_web: Server
) -> None:
    tab = open_tab(own_server)
    sent: list[dict[str, object]] = []
    order_reads: list[str] = []

    def watch(socket: WebSocket) -> None:
        socket.on("framesent", lambda payload: sent.append(json.loads(payload)))

    def note_order_read(request: Request) -> None:
        if "/orders?" in request.url:
            order_reads.append(request.url)

    tab.page.on("websocket", watch)
    tab.page.on("request", note_order_read)
    tab.log_in()
    page = tab.page
    page.click("#tab-open")
    token = own_server.login()
    with own_server.client(token) as rest:
        before = rest.post(ORDERS, json=ORDER).json()
    expect(page.locator(f"#open-orders-table tr[data-order-id='{before['id']}']")).to_be_visible()
    reads_before_restart = len(order_reads)

    os.kill(serve_children(own_server)["web"], signal.SIGKILL)
    expect(page.locator("#link-state")).to_have_attribute("data-state", "down")
    expect(page.locator("#engine-state")).to_have_attribute("data-state", "unknown")
    tab.shot("disconnected")
    with second_web.client(second_web.login()) as elsewhere:
        missed = elsewhere.post(ORDERS, json={**ORDER, "limit_price": "1470.00"}).json()

    expect(page.locator("#link-state")).to_have_attribute("data-state", "up")
    expect(page.locator("#engine-state")).to_have_attribute("data-state", "up")
    expect(page.locator(f"#open-orders-table tr[data-order-id='{missed['id']}']")).to_be_visible()
    tab.shot("reconnected")
    resumes = [op for op in sent if op.get("op") == "resume"]
    assert len(resumes) == 1
    assert resumes[0]["account"] == "paper"
    assert isinstance(resumes[0]["since_seq"], int)
    assert resumes[0]["since_seq"] > 0
    assert len(order_reads) == reads_before_restart, "the page reloaded instead of resuming"

    wait_healthy(own_server)
    with own_server.client(own_server.login()) as rest:
        rest.delete(f"{ORDERS}/{before['id']}").raise_for_status()
    expect(page.locator(f"#open-orders-table tr[data-order-id='{before['id']}']")).to_have_count(0)
    expect(page.locator("#open-orders-table tbody tr[data-order-id]")).to_have_count(1)
    # While the web process was down, the browser logged its failed connection attempts.
    assert tab.errors(ignore_network=True) == []
