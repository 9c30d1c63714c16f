"""vnpy clients send no client order id and retry what failed, so a lost engine answer must
not double an order (issue 12): the dialect asks the engine again under the id it gave the
request, and answers 504 only when the engine stayed away; what it answered 503 or 504 for is
never carried out later."""

import os
import signal
import threading
import time
from pathlib import Path

import httpx
from tests.compat.vnpy_support import WebTrader, vnpy_config
from tests.conftest import ADMIN_PASSWORD, start_server
from tests.stream.stream_support import role_pid

BUY = {
    "symbol": "600519",
    "exchange": "SSE",
    "direction": "Long",
    "type": "Limit",
    "volume": 100,
    "price": 1400,
}


def paused_for(pid: int, seconds: float) -> threading.Thread:
    """SIGSTOP `pid` now and SIGCONT it after `seconds`, in the background."""
    os.kill(pid, signal.SIGSTOP)
    resume = threading.Timer(seconds, os.kill, (pid, signal.SIGCONT))
    resume.start()
    return resume


def test_a_lost_answer_is_asked_again_and_the_order_placed_once(tmp_path: Path) -> None:
    config = vnpy_config(tmp_path, extra="")
    config.write_text(config.read_text().replace("heartbeat_ms = 200", "rpc_timeout_ms = 1000"))
    server = start_server(config)
    trader = WebTrader(server.base_url)
    try:
        assert trader.login("admin", ADMIN_PASSWORD)
        engine = role_pid(server, "engine")
        order_url = f"{server.base_url}/order"
        # The engine link up before it is paused (a link still coming up when the first ask
        # is sent answers 503 at once: nothing was sent).
        deadline = time.monotonic() + 60
        while httpx.get(f"{server.base_url}/api/v1/health").json()["status"] != "ok":
            assert time.monotonic() < deadline, server.output()
            time.sleep(0.1)

        resume = paused_for(engine, 1.8)  # the first ask times out; a later one is answered
        answer = httpx.post(
            f"{server.base_url}/order", json=BUY, headers=trader.headers, timeout=30
        )
        resume.join()
        assert answer.status_code == 200, answer.text
        vt_orderid = trader.result(answer)
        orders = trader.get("/order")
        assert [o["vt_orderid"] for o in orders] == [vt_orderid]
        assert orders[0]["reference"] == ""

        resume = paused_for(engine, 6)  # every ask times out
        lost = httpx.post(order_url, json=BUY, headers=trader.headers, timeout=30)
        assert lost.status_code == 504, lost.text
        assert lost.json()["error"]["details"]["client_order_id"].startswith("vnpy-")
        resume.join()
        time.sleep(1)  # the engine works through what was queued while it was stopped
        assert [o["vt_orderid"] for o in trader.get("/order")] == [vt_orderid]
    finally:
        os.kill(role_pid(server, "engine"), signal.SIGCONT)
        server.stop()
