"""`tradebridge serve` as a user runs it: children, first run, restarts, clean stop."""

import os
import re
import shlex
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from tests.conftest import (
    ADMIN_PASSWORD,
    Server,
    free_port,
    start_server,
    tradebridge_command,
    wait_healthy,
    write_config,
)

from tradebridge.config import load_settings


def children(server: Server) -> dict[str, int]:
    """pid of each child of serve, by role, read from their command lines."""
    found = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        match = re.search(r"tradebridge (engine|web)\b", cmdline)
        if parent == server.process.pid and match:
            found[match.group(1)] = int(pid)
    return found


@pytest.fixture
def own_server(tmp_path: Path) -> Server:
    server = start_server(write_config(tmp_path))
    yield server
    server.stop()


def test_children_are_named_and_restarted_after_a_crash(own_server: Server) -> None:
    before = children(own_server)
    assert set(before) == {"engine", "web"}
    token = own_server.login()

    os.kill(before["engine"], signal.SIGKILL)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        now = children(own_server)
        if now.get("engine") not in (None, before["engine"]):
            break
        time.sleep(0.1)
    else:
        pytest.fail("the engine was not restarted")
    wait_healthy(own_server)
    with own_server.client(token) as client:
        assert client.get("/api/v1/accounts").status_code == 200
    assert "engine killed by SIGKILL; restarting" in own_server.output()

    os.kill(children(own_server)["web"], signal.SIGKILL)
    time.sleep(0.5)
    wait_healthy(own_server)
    assert "web killed by SIGKILL; restarting" in own_server.output()


def test_sigterm_stops_everything_cleanly(tmp_path: Path) -> None:
    server = start_server(write_config(tmp_path))
    pids = children(server)
    assert server.stop() == 0
    for pid in pids.values():
        assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text()
    with pytest.raises(httpx.ConnectError):
        httpx.get(server.base_url + "/api/v1/health", timeout=1)


def test_web_answers_engine_unavailable_while_the_engine_is_down(own_server: Server) -> None:
    token = own_server.login()
    os.kill(own_server.process.pid, signal.SIGSTOP)  # keep serve from restarting the engine
    try:
        os.kill(children(own_server)["engine"], signal.SIGKILL)
        time.sleep(1.0)  # a few heartbeats: the link is declared down
        started = time.monotonic()
        with own_server.client(token) as client:
            response = client.get("/api/v1/accounts")
            health = client.get("/api/v1/health").json()
        assert time.monotonic() - started < 2
        assert response.status_code == 503
        assert response.json()["error"]["code"] == "engine_unavailable"
        assert health["status"] == "degraded"
    finally:
        os.kill(own_server.process.pid, signal.SIGCONT)
    wait_healthy(own_server)


def _first_run_box(output: str) -> list[str]:
    """The lines of the box that closes `output`: its last line is the box's bottom edge."""
    lines = output.rstrip("\n").splitlines()
    assert lines[-1:][0].startswith("╰"), f"no box at the end of:\n{output}"
    top = max(i for i, line in enumerate(lines) if line.startswith("╭"))
    return lines[top:]


def _serve_until_announced(config: Path, log: Path, env: dict[str, str]) -> Server:
    """`serve` with stdout and stderr into one file, as a terminal shows them, once it has
    said it is ready (and a little longer, for any log line that would follow)."""
    port = int(re.search(r"port = (\d+)", config.read_text()).group(1))  # type: ignore[union-attr]
    with log.open("wb") as sink:
        process = subprocess.Popen(
            tradebridge_command("serve", "--config", str(config)),
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=env,
        )
    server = Server(config=config, process=process, base_url=f"http://127.0.0.1:{port}", log=log)
    wait_healthy(server)
    deadline = time.monotonic() + 30
    while "tradebridge is ready on" not in server.output():
        assert time.monotonic() < deadline, server.output()
        time.sleep(0.1)
    time.sleep(2)
    return server


def test_first_run_prints_the_admin_password_last_in_a_box(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    env = {k: v for k, v in os.environ.items() if k != "TRADEBRIDGE_ADMIN_PASSWORD"}
    server = _serve_until_announced(config, tmp_path / "first.log", env)
    try:
        box = _first_run_box(server.output())
        text = "\n".join(line.strip("│ ") for line in box)
        heading = next(i for i, line in enumerate(box) if "with the password" in line)
        password = box[heading + 2].strip("│ ")
        assert len(password) >= 12
        assert "Shown only this once" in text
        assert load_settings(config).database_url in text  # where its hash is kept
        assert f"tradebridge user passwd admin --config {config}" in text
        assert server.login(password=password)
    finally:
        server.stop()
    second = _serve_until_announced(config, tmp_path / "second.log", env)
    try:
        assert password not in second.output()
        assert "password" not in second.output().lower()
        assert "tradebridge is ready on" in second.output().splitlines()[-1]
        assert second.login(password=password)
        with second.client() as client:
            wrong = client.post(
                "/api/v1/auth/token", data={"username": "admin", "password": ADMIN_PASSWORD}
            )
        assert wrong.status_code == 401
    finally:
        second.stop()


def test_the_printed_command_changes_the_admin_password(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    env = {k: v for k, v in os.environ.items() if k != "TRADEBRIDGE_ADMIN_PASSWORD"}
    server = _serve_until_announced(config, tmp_path / "serve.log", env)
    try:
        command = _first_run_box(server.output())[-2].strip("│ ")
        assert command.startswith("tradebridge user passwd admin ")
        changed = subprocess.run(
            tradebridge_command(*shlex.split(command)[1:], "--password-stdin"),
            input="a-new-admin-password\n",
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert changed.returncode == 0, changed.stderr
        assert server.login(password="a-new-admin-password")
    finally:
        server.stop()


def test_unknown_config_key_is_named_with_the_file(tmp_path: Path) -> None:
    config = write_config(tmp_path, extra="[server.tls]\ncert = 'x'\n")
    config.write_text(config.read_text().replace("[server]\n", "[server]\nprot = 1\n"))
    result = subprocess.run(
        tradebridge_command("serve", "--config", str(config)),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "unknown key 'server.prot'" in result.stderr
    assert str(config) in result.stderr


def test_port_from_the_command_line_wins(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    port = free_port()
    process = subprocess.Popen(
        tradebridge_command("serve", "--config", str(config), "--port", str(port)),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "TRADEBRIDGE_ADMIN_PASSWORD": ADMIN_PASSWORD},
    )
    server = Server(
        config=config,
        process=process,
        base_url=f"http://127.0.0.1:{port}",
        log=tmp_path / "unused.log",
    )
    try:
        wait_healthy(server)
    finally:
        assert server.stop() == 0
