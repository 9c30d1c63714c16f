"""Two instances on one host with default settings never share an engine (issue 12): each
`serve` links its engine and web through sockets in its own data dir, with keys only that data
dir has; a web pointed at another instance's engine is refused; a bind failure is one line and
stops `serve`."""

import os
import socket
import stat
import subprocess
import time
import tomllib
import uuid
from pathlib import Path

import httpx
from tests.conftest import (
    ADMIN_PASSWORD,
    Server,
    start_server,
    tradebridge_command,
    write_config,
)
from tests.e2e.lifecycle_support import WAIT_S, start_alone, with_settings

BUY = {"symbol": "600519.SH", "side": "buy", "qty": 100, "limit_price": "1400.00"}


def instance(directory: Path) -> Server:
    directory.mkdir()
    return start_server(write_config(directory, private_link=True))


def place(server: Server) -> httpx.Response:
    with server.client(server.login()) as api:
        body = BUY | {"client_order_id": uuid.uuid4().hex}
        return api.post("/api/v1/accounts/paper/orders", json=body)


def order_ids(server: Server) -> set[str]:
    with server.client(server.login()) as api:
        response = api.get("/api/v1/accounts/paper/orders")
    assert response.status_code == 200, response.text
    return {order["id"] for order in response.json()}


def test_two_default_instances_keep_their_own_books(tmp_path: Path) -> None:
    first = instance(tmp_path / "first")
    second = instance(tmp_path / "second")
    try:
        placed = place(second)
        assert placed.status_code == 201, placed.text
        assert placed.json()["id"] in order_ids(second)
        assert order_ids(first) == set()
        for server in (first, second):
            link = server.config.parent / "data" / "link"
            assert stat.S_IMODE(link.stat().st_mode) == 0o700
            assert {p.name for p in link.iterdir()} >= {"rpc", "events"}
    finally:
        assert first.stop() == 0
        assert second.stop() == 0


def test_a_web_pointed_at_another_instances_engine_is_refused(tmp_path: Path) -> None:
    victim = instance(tmp_path / "victim")
    link = victim.config.parent / "data" / "link"
    (tmp_path / "intruder").mkdir()
    config = write_config(tmp_path / "intruder", private_link=True)
    env = {
        **os.environ,
        "TRADEBRIDGE_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "TRADEBRIDGE_RPC_ADDRESS": f"ipc://{link / 'rpc'}",
        "TRADEBRIDGE_EVENTS_ADDRESS": f"ipc://{link / 'events'}",
    }
    log = tmp_path / "intruder" / "web.log"
    with log.open("ab") as sink:
        web = subprocess.Popen(
            tradebridge_command("web", "--config", str(config)),
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=env,
        )
    port = tomllib.loads(config.read_text())["server"]["port"]
    intruder = Server(config=config, process=web, base_url=f"http://127.0.0.1:{port}", log=log)
    try:
        deadline = time.monotonic() + WAIT_S
        while True:  # the web itself comes up (its own database), the engine stays out of reach
            try:
                health = httpx.get(intruder.base_url + "/api/v1/health", timeout=2).json()
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, intruder.output()
                time.sleep(0.2)
        assert health["status"] != "ok", health
        refused = place(intruder)
        assert refused.status_code == 503, refused.text
        assert refused.json()["error"]["code"] == "engine_unavailable"
        assert order_ids(victim) == set()  # nothing reached the victim's books
    finally:
        intruder.stop()
        assert victim.stop() == 0


def test_an_engine_address_in_use_is_one_line_and_stops_serve(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        address = f"tcp://127.0.0.1:{taken.getsockname()[1]}"
        with_settings(config, "engine", rpc_address=address)
        serve = start_alone("serve", config)
        try:
            status = serve.process.wait(WAIT_S)
        finally:
            serve.process.kill()
    output = serve.log.read_text()
    assert status == 2, output
    assert "Traceback" not in output
    lines = [line for line in output.splitlines() if address in line]
    assert len(lines) == 1, output  # said once: not restarted
    assert "rpc_address" in lines[0]
