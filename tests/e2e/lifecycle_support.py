"""Helpers of the worker, shutdown and database-failure tests: `tradebridge engine` and
`tradebridge web` started alone, the processes under a server, bounded waits."""

import os
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.conftest import ADMIN_PASSWORD, Server, tradebridge_command, wait_healthy
from tests.stream.stream_support import child_pids

WAIT_S = 60.0
"""Every wait of these tests is bounded by this generous deadline."""
ORDERS = "/api/v1/accounts/paper/orders"
SYMBOL = "159915.SZ"  # a paper fund at 2.200: thousands of resting buys fit in the cash


def with_settings(config: Path, section: str, **values: Any) -> Path:
    """Set keys of `[section]` in a config written by `write_config` (strings quoted)."""
    lines = config.read_text().splitlines()
    header = f"[{section}]"
    if header not in lines:
        lines.insert(lines.index("[server]"), header)
    start = lines.index(header)
    for key, value in values.items():
        rendered = f'{key} = "{value}"' if isinstance(value, str) else f"{key} = {value}"
        end = next(
            (i for i in range(start + 1, len(lines)) if lines[i].startswith("[")), len(lines)
        )
        keys = [line.split("=")[0].strip() for line in lines[start + 1 : end]]
        if key in keys:
            lines[start + 1 + keys.index(key)] = rendered
        else:
            lines.insert(start + 1, rendered)
    config.write_text("\n".join(lines) + "\n")
    return config


def port_of(server: Server) -> int:
    return int(server.base_url.rsplit(":", 1)[1])


@dataclass
class Alone:
    """`tradebridge engine` or `tradebridge web` started by hand, logging to a file."""

    role: str
    process: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def terminate(self) -> int:
        """SIGTERM, then its exit status (killed after `WAIT_S`: the test then fails)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(WAIT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            pytest.fail(f"{self.role} did not stop on SIGTERM:\n{self.output()}")


def start_alone(role: str, config: Path, *args: str) -> Alone:
    log = config.parent / f"{role}.log"
    env = {**os.environ, "TRADEBRIDGE_ADMIN_PASSWORD": ADMIN_PASSWORD}
    with log.open("ab") as sink:
        process = subprocess.Popen(
            tradebridge_command(role, "--config", str(config), *args),
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=env,
        )
    return Alone(role=role, process=process, log=log)


def web_server(config: Path, web: Alone) -> Server:
    """A `Server` handle on a `tradebridge web` started alone, once it is healthy."""
    import tomllib

    port = tomllib.loads(config.read_text())["server"]["port"]
    server = Server(
        config=config, process=web.process, base_url=f"http://127.0.0.1:{port}", log=web.log
    )
    wait_healthy(server, timeout=WAIT_S)
    return server


def wait_until(condition: Callable[[], bool], what: str, log: Callable[[], str]) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up after {WAIT_S:.0f} s waiting for {what}\n{log()[-6000:]}")
        time.sleep(0.05)


def descendants(pid: int) -> set[int]:
    """Every live process below `pid` (children, their children, ...)."""
    found: set[int] = set()
    frontier = [pid]
    while frontier:
        for child in child_pids(frontier.pop()):
            if child not in found and is_running(child):
                found.add(child)
                frontier.append(child)
    return found


def is_running(pid: int) -> bool:
    """True while the process exists and is not a zombie waiting to be reaped."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def order_body(client_order_id: str, **fields: Any) -> dict[str, Any]:
    """A buy of 100 `SYMBOL` below the market: it rests (status `new`)."""
    return {
        "symbol": SYMBOL,
        "side": "buy",
        "qty": 100,
        "limit_price": "2.100",
        "client_order_id": client_order_id,
    } | fields


def orders_with_client_id(client: httpx.Client, client_order_id: str) -> list[dict[str, Any]]:
    """Every order of the account with this client id, from the list route (all pages)."""
    found: list[dict[str, Any]] = []
    after = "0"  # sorts before every id
    while True:
        response = client.get(ORDERS, params={"limit": "1000", "after": after})
        assert response.status_code == 200, response.text
        page = response.json()
        found += [o for o in page if o["client_order_id"] == client_order_id]
        if len(page) < 1000:
            return found
        after = page[-1]["id"]


def start_serve(config: Path, *, prefix: tuple[str, ...] = (), healthy: bool = True) -> Server:
    """`tradebridge serve` like `tests.conftest.start_server`, optionally run through a
    command `prefix`, and without waiting for health when `healthy` is False."""
    import tomllib

    port = tomllib.loads(config.read_text())["server"]["port"]
    log = config.parent / "serve.log"
    env = {**os.environ, "TRADEBRIDGE_ADMIN_PASSWORD": ADMIN_PASSWORD}
    with log.open("ab") as sink:
        process = subprocess.Popen(
            [*prefix, *tradebridge_command("serve", "--config", str(config))],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=env,
        )
    server = Server(config=config, process=process, base_url=f"http://127.0.0.1:{port}", log=log)
    if healthy:
        wait_healthy(server, timeout=WAIT_S)
    return server


def on_small_disk(mount_point: Path, size: str) -> tuple[str, ...]:
    """A command prefix: run the command with a tmpfs of `size` mounted over `mount_point`
    (which must exist), in a mount namespace of its own, so nothing else sees the mount. A
    user namespace makes this work without root. From outside, the tmpfs is reached through
    `/proc/<pid>/root`."""
    script = 'mount -t tmpfs -o "size=$0" tradebridge-test "$1" && shift && exec "$@"'
    namespaces = ("unshare", "--user", "--map-root-user", "--mount")
    return (*namespaces, "sh", "-c", script, size, str(mount_point))
