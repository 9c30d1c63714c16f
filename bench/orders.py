"""Order placement speed: POST order → 201, sequential latency and 16-client throughput.

Starts `tradebridge serve` (paper account, SQLite) and the floor (`floor_app.py`: a bare
FastAPI route plus one ZeroMQ hop) on loopback, measures both in the same run with the same
clients, and prints each number beside its ratio to the floor. See bench/README.md.
"""

import argparse
import http.client
import json
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from loopback import free_port, login, request, serve, wait_for

HERE = Path(__file__).resolve().parent
ORDER = {"symbol": "600519.SH", "side": "buy", "qty": 100, "limit_price": "1600.00"}


def start_tradebridge(workdir: Path) -> tuple[subprocess.Popen[bytes], int, str]:
    process, port = serve(workdir, 'cash = { CNY = 1000000000000 }\nmarket = "manual"')
    token = login(port)
    auth = {"Authorization": f"Bearer {token}"}
    # Deep market so every order fills at once, exercising the whole path.
    request(
        port,
        "POST",
        "/api/v1/paper/paper/quotes",
        {
            "symbol": "600519.SH",
            "last": "1500.00",
            "bid": "1499.99",
            "ask": "1500.01",
            "bid_size": 10**12,
            "ask_size": 10**12,
        },
        auth,
    )
    return process, port, token


def start_floor() -> tuple[list[subprocess.Popen[bytes]], int]:
    address = f"tcp://127.0.0.1:{free_port()}"
    port = free_port()
    script = str(HERE / "floor_app.py")
    echo = subprocess.Popen([sys.executable, script, "echo", address])
    web = subprocess.Popen([sys.executable, script, "web", address, str(port)])
    wait_for(port, "/")
    return [echo, web], port


def sequential(port: int, path: str, headers: dict[str, str], count: int) -> list[float]:
    """Latency in ms of `count` POSTs one after another on one keep-alive connection."""
    conn = http.client.HTTPConnection("127.0.0.1", port)
    body = json.dumps(ORDER)
    all_headers = {"Content-Type": "application/json", **headers}
    samples = []
    for i in range(count + count // 10):
        started = time.perf_counter()
        conn.request("POST", path, body=body, headers=all_headers)
        response = conn.getresponse()
        response.read()
        elapsed = (time.perf_counter() - started) * 1000
        if response.status != 201:
            raise RuntimeError(f"POST {path}: {response.status}")
        if i >= count // 10:  # the first tenth warms up
            samples.append(elapsed)
    return samples


def concurrent(port: int, path: str, headers: dict[str, str], seconds: int) -> dict[str, float]:
    """wrk with 16 keep-alive connections: requests/s and latency percentiles."""
    script = Path(tempfile.mkstemp(suffix=".lua")[1])
    header_lines = "".join(f'wrk.headers["{k}"] = "{v}"\n' for k, v in headers.items())
    script.write_text(
        'wrk.method = "POST"\n'
        f"wrk.body = '{json.dumps(ORDER)}'\n"
        'wrk.headers["Content-Type"] = "application/json"\n'
        f"{header_lines}"
        "function done(summary, latency, requests)\n"
        '  io.write(string.format("RESULT %d %d %d %d %f\\n", summary.requests,'
        " summary.errors.status + summary.errors.connect + summary.errors.read"
        " + summary.errors.write + summary.errors.timeout,"
        " latency:percentile(50), latency:percentile(99), summary.duration))\n"
        "end\n"
    )
    output = subprocess.run(
        [
            "wrk",
            "-t2",
            "-c16",
            f"-d{seconds}s",
            "-s",
            str(script),
            f"http://127.0.0.1:{port}{path}",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    script.unlink()
    match = re.search(r"RESULT (\d+) (\d+) (\d+) (\d+) ([\d.]+)", output)
    if match is None:
        raise RuntimeError(output)
    requests, errors, p50_us, p99_us, duration_us = match.groups()
    return {
        "orders_per_s": int(requests) / (float(duration_us) / 1e6),
        "errors": int(errors),
        "p50_ms": int(p50_us) / 1000,
        "p99_ms": int(p99_us) / 1000,
    }


def summarize(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_ms": statistics.median(ordered),
        "p90_ms": ordered[int(len(ordered) * 0.9)],
        "p99_ms": ordered[int(len(ordered) * 0.99)],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=3000, help="sequential orders")
    parser.add_argument("--seconds", type=int, default=10, help="length of the wrk run")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed for the concurrent run: apt-get install wrk")

    workdir = Path(tempfile.mkdtemp(prefix="tb-bench-"))
    floor_processes, floor_port = start_floor()
    tradebridge, port, token = start_tradebridge(workdir)
    auth = {"Authorization": f"Bearer {token}"}
    path = "/api/v1/accounts/paper/orders"
    try:
        results = {
            "floor_sequential": summarize(sequential(floor_port, "/orders", {}, args.orders)),
            "sequential": summarize(sequential(port, path, auth, args.orders)),
            "floor_concurrent": concurrent(floor_port, "/orders", {}, args.seconds),
            "concurrent": concurrent(port, path, auth, args.seconds),
        }
    finally:
        tradebridge.send_signal(signal.SIGTERM)
        tradebridge.wait(30)
        for process in floor_processes:
            process.kill()
            process.wait()
        shutil.rmtree(workdir)

    seq, floor_seq = results["sequential"], results["floor_sequential"]
    con, floor_con = results["concurrent"], results["floor_concurrent"]
    print(f"{'':34}{'tradebridge':>12}{'floor':>10}{'ratio':>8}")
    for name in ("p50_ms", "p90_ms", "p99_ms"):
        print(
            f"sequential POST→201 {name:<14}{seq[name]:>12.3f}{floor_seq[name]:>10.3f}"
            f"{seq[name] / floor_seq[name]:>8.2f}"
        )
    print(
        f"16 clients orders/s{'':15}{con['orders_per_s']:>12.0f}"
        f"{floor_con['orders_per_s']:>10.0f}"
        f"{con['orders_per_s'] / floor_con['orders_per_s']:>8.2f}"
    )
    for name in ("p50_ms", "p99_ms"):
        print(
            f"16 clients {name:<23}{con[name]:>12.3f}{floor_con[name]:>10.3f}"
            f"{con[name] / floor_con[name]:>8.2f}"
        )
    print(f"errors: tradebridge {con['errors']}, floor {floor_con['errors']}")
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    (out / "orders.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
