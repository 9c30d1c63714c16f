"""Helpers the benchmark scripts share: free ports, starting tradebridge, JSON requests."""

import http.client
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(port: int, path: str, timeout: float = 60) -> None:
    """Return once something on loopback `port` answers `GET path` below 500."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.request("GET", path)
            if conn.getresponse().status < 500:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"nothing answered on port {port}")


def request(
    port: int, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
) -> Any:
    """One JSON request on loopback; the decoded answer, or RuntimeError for a non-2xx."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request(
        method,
        path,
        body=json.dumps(body) if body is not None else None,
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    response = conn.getresponse()
    data = response.read()
    if response.status >= 300:
        raise RuntimeError(f"{method} {path}: {response.status} {data!r}")
    return json.loads(data)


ADMIN_PASSWORD = "bench-admin-password"


def serve(workdir: Path, paper: str) -> tuple[subprocess.Popen[bytes], int]:
    """`tradebridge serve` on free loopback ports with data in `workdir`; `paper` is the body
    of its `[accounts.paper]` table. Returns the process and the web port once it answers."""
    port = free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "bench.toml"
    config.write_text(f"""
data_dir = "{workdir / "data"}"
[rate_limits]
enabled = false
[server]
port = {port}
[engine]
rpc_address = "tcp://127.0.0.1:{free_port()}"
events_address = "tcp://127.0.0.1:{free_port()}"
[[accounts]]
id = "paper"
[accounts.paper]
{paper}
""")
    process = subprocess.Popen(
        [sys.executable, "-m", "tradebridge", "serve", "--config", str(config)],
        env={**os.environ, "TRADEBRIDGE_ADMIN_PASSWORD": ADMIN_PASSWORD},
        stdout=subprocess.DEVNULL,
        stderr=(workdir / "serve.log").open("wb"),
    )
    wait_for(port, "/api/v1/health")
    time.sleep(1)
    return process, port


def login(port: int) -> str:
    body = {"username": "admin", "password": ADMIN_PASSWORD}
    token: str = request(port, "POST", "/api/v1/auth/token", body)["access_token"]
    return token
