"""Helpers the benchmark scripts share: free ports, starting tradebridge, JSON requests."""

import contextlib
import http.client
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
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


RATE_LIMITS_OUT_OF_THE_WAY = """
[rate_limits]
api = "1000000/second"
orders = "1000000/second"
"""
"""Counted on every request, as in production, but never reached."""


def serve(
    workdir: Path,
    paper: str,
    *,
    workers: int | None = None,
    account: str = "",
    extra: str = "",
) -> tuple[subprocess.Popen[bytes], int]:
    """`tradebridge serve` on free loopback ports with data in `workdir`; `paper` is the body
    of its `[accounts.paper]` table, `account` more keys of its `[[accounts]]` entry, `extra`
    more TOML after it, `workers` the web workers (default: what `serve` chooses). Returns
    the process and the web port once it answers."""
    port = free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "bench.toml"
    workers_line = f"workers = {workers}" if workers else ""
    config.write_text(f"""
data_dir = "{workdir / "data"}"
{RATE_LIMITS_OUT_OF_THE_WAY}
[server]
port = {port}
{workers_line}
[engine]
rpc_address = "tcp://127.0.0.1:{free_port()}"
events_address = "tcp://127.0.0.1:{free_port()}"
[[accounts]]
id = "paper"
{account}
[accounts.paper]
{paper}
{extra}
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


def descendants(pid: int) -> list[int]:
    """`pid` and every process below it."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time the processes have used so far."""
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


def wrk(
    url: str,
    *,
    connections: int,
    seconds: float,
    method: str = "GET",
    body: str | None = None,
    headers: dict[str, str] | None = None,
) -> dict[str, float]:
    """`wrk` with `connections` keep-alive connections: requests/s, latency p50/p99 in ms,
    and the answers that were not 2xx/3xx (or failed) as `errors`."""
    script = Path(tempfile.mkstemp(suffix=".lua")[1])
    lines = [f'wrk.method = "{method}"']
    if body is not None:
        lines.append(f"wrk.body = '{body}'")
        lines.append('wrk.headers["Content-Type"] = "application/json"')
    lines += [f'wrk.headers["{k}"] = "{v}"' for k, v in (headers or {}).items()]
    lines.append(
        "function done(summary, latency, requests)\n"
        '  io.write(string.format("RESULT %d %d %d %d %f\\n", summary.requests,'
        " summary.errors.status + summary.errors.connect + summary.errors.read"
        " + summary.errors.write + summary.errors.timeout,"
        " latency:percentile(50), latency:percentile(99), summary.duration))\n"
        "end"
    )
    script.write_text("\n".join(lines) + "\n")
    threads = min(2, connections)
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds:g}s", "-s", str(script), url]
    try:
        output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    finally:
        script.unlink()
    found = re.search(r"RESULT (\d+) (\d+) (\d+) (\d+) ([\d.]+)", output)
    if found is None:
        raise RuntimeError(output)
    requests, errors, p50_us, p99_us, duration_us = found.groups()
    return {
        "requests": int(requests),
        "per_s": int(requests) / (float(duration_us) / 1e6),
        "errors": int(errors),
        "p50_ms": int(p50_us) / 1000,
        "p99_ms": int(p99_us) / 1000,
    }


def deep_market(port: int, token: str, symbol: str = "600519.SH") -> None:
    """Quote `symbol` on the paper account so deep that every buy fills at once: each order
    takes the whole path (journal, acknowledgement, fill, trade, position, account)."""
    quote = {
        "symbol": symbol,
        "last": "1500.00",
        "bid": "1499.99",
        "ask": "1500.01",
        "bid_size": 10**12,
        "ask_size": 10**12,
    }
    request(port, "POST", "/api/v1/paper/paper/quotes", quote, {"Authorization": f"Bearer {token}"})
