"""Order entry and reads through /api/v1, beside the floor measured in the same run.

Starts `tradebridge serve` (paper account in `manual` mode, SQLite, default durability, rate
limits counted but out of reach) and the floor (`floor_app.py`: a bare FastAPI route plus one
ZeroMQ round trip to another process) on loopback. Each scenario runs with `wrk` against the
floor and then against tradebridge, in `--rounds` rounds (interleaved, so a machine that gets
busier or quieter meanwhile affects both); the median of the rounds is reported, each number
beside its ratio to the floor's. CPU is what the web process(es) and the engine used per
request, which a busy machine disturbs far less than latency. See bench/README.md.
"""

import argparse
import json
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loopback import (
    cpu_seconds,
    deep_market,
    descendants,
    free_port,
    login,
    request,
    serve,
    wait_for,
    wrk,
)

HERE = Path(__file__).resolve().parent
ORDER = {"symbol": "600519.SH", "side": "buy", "qty": 100, "limit_price": "1600.00"}
ACCOUNT = "/api/v1/accounts/paper"


@dataclass(frozen=True)
class Scenario:
    name: str
    method: str
    path: str
    floor_path: str
    connections: int


@dataclass(frozen=True)
class Goal:
    scenario: str
    metric: str
    target: float
    higher_is_better: bool

    def met(self, value: float) -> bool:
        return value >= self.target if self.higher_is_better else value <= self.target


GOALS = [
    Goal("order c=1", "p50_ms", 0.5, False),
    Goal("order c=32", "per_s", 5000, True),
    Goal("order c=32", "p99_ms", 15, False),
    Goal("order c=32", "errors", 0, False),
    Goal("read account c=32", "per_s", 8000, True),
    Goal("read account c=32", "p99_ms", 10, False),
    Goal("read positions c=32", "per_s", 8000, True),
    Goal("read positions c=32", "p99_ms", 10, False),
    Goal("read order c=32", "per_s", 8000, True),
    Goal("read order c=32", "p99_ms", 10, False),
]
"""Issue 17's goals, on this 2-core machine."""


def start_tradebridge(
    workdir: Path, workers: int | None
) -> tuple[subprocess.Popen[bytes], int, str]:
    process, port = serve(
        workdir, 'cash = { CNY = 1000000000000 }\nmarket = "manual"', workers=workers
    )
    token = login(port)
    deep_market(port, token)
    return process, port, token


def start_floor() -> tuple[list[subprocess.Popen[bytes]], int]:
    address = f"tcp://127.0.0.1:{free_port()}"
    port = free_port()
    script = str(HERE / "floor_app.py")
    echo = subprocess.Popen([sys.executable, script, "echo", address])
    web = subprocess.Popen([sys.executable, script, "web", address, str(port)])
    wait_for(port, "/read")
    return [echo, web], port


def roles(serve_pid: int) -> dict[str, list[int]]:
    """The web process(es) and the engine below `tradebridge serve`."""
    found: dict[str, list[int]] = {"web": [], "engine": []}
    for pid in descendants(serve_pid)[1:]:
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        found["engine" if b"engine" in command else "web"].append(pid)
    return found


def run(
    scenario: Scenario, port: int, path: str, headers: dict[str, str], seconds: float
) -> dict[str, float]:
    body = json.dumps(ORDER) if scenario.method == "POST" else None
    return wrk(
        f"http://127.0.0.1:{port}{path}",
        connections=scenario.connections,
        seconds=seconds,
        method=scenario.method,
        body=body,
        headers=headers,
    )


def median(results: list[dict[str, float]]) -> dict[str, float]:
    return {key: statistics.median(r[key] for r in results) for key in results[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=5, help="length of each wrk run")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each scenario")
    parser.add_argument("--workers", type=int, default=None, help="web workers (serve's default)")
    parser.add_argument("--only", default="", help="run the scenarios whose name has this")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed: apt-get install wrk")

    workdir = Path(tempfile.mkdtemp(prefix="tb-bench-"))
    floor_processes, floor_port = start_floor()
    tradebridge, port, token = start_tradebridge(workdir, args.workers)
    auth = {"Authorization": f"Bearer {token}"}
    order_id = request(port, "POST", f"{ACCOUNT}/orders", ORDER, auth)["id"]
    scenarios = [
        Scenario("order c=1", "POST", f"{ACCOUNT}/orders", "/orders", 1),
        Scenario("order c=32", "POST", f"{ACCOUNT}/orders", "/orders", 32),
        Scenario("read account c=32", "GET", ACCOUNT, "/read", 32),
        Scenario("read positions c=32", "GET", f"{ACCOUNT}/positions", "/read", 32),
        Scenario("read order c=32", "GET", f"{ACCOUNT}/orders/{order_id}", "/read", 32),
    ]
    scenarios = [s for s in scenarios if args.only in s.name]
    processes = roles(tradebridge.pid)
    ours: dict[str, list[dict[str, float]]] = {s.name: [] for s in scenarios}
    floor: dict[str, list[dict[str, float]]] = {s.name: [] for s in scenarios}
    try:
        for _ in range(args.rounds):
            for scenario in scenarios:
                floor_before = cpu_seconds([floor_processes[1].pid])
                floor_result = run(scenario, floor_port, scenario.floor_path, {}, args.seconds)
                used = cpu_seconds([floor_processes[1].pid]) - floor_before
                floor_result["web_cpu_us"] = used / max(floor_result["requests"], 1) * 1e6
                floor[scenario.name].append(floor_result)
                before = {role: cpu_seconds(pids) for role, pids in processes.items()}
                result = run(scenario, port, scenario.path, auth, args.seconds)
                for role, pids in processes.items():
                    used = cpu_seconds(pids) - before[role]
                    result[f"{role}_cpu_us"] = used / max(result["requests"], 1) * 1e6
                ours[scenario.name].append(result)
    finally:
        tradebridge.send_signal(signal.SIGTERM)
        tradebridge.wait(30)
        for process in floor_processes:
            process.kill()
            process.wait()
        shutil.rmtree(workdir)

    results: dict[str, Any] = {
        "workers": args.workers,
        "rounds": args.rounds,
        "seconds": args.seconds,
        "scenarios": {
            name: {"tradebridge": median(ours[name]), "floor": median(floor[name])} for name in ours
        },
    }
    print_results(results["scenarios"])
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    (out / "orders.json").write_text(json.dumps(results, indent=2))


def print_results(scenarios: dict[str, dict[str, dict[str, float]]]) -> None:
    print(f"{'':38}{'tradebridge':>12}{'floor':>10}{'ratio':>8}")
    for name, both in scenarios.items():
        ours, floor = both["tradebridge"], both["floor"]
        for metric in ("per_s", "p50_ms", "p99_ms", "errors"):
            base = floor[metric]
            ratio = f"{ours[metric] / base:>8.2f}" if base else f"{'':>8}"
            print(f"{name:<22}{metric:<16}{ours[metric]:>12.2f}{base:>10.2f}{ratio}")
        web, base = ours["web_cpu_us"], floor["web_cpu_us"]
        print(f"{name:<22}{'web cpu µs/req':<16}{web:>12.0f}{base:>10.0f}{web / base:>8.2f}")
        print(f"{name:<22}{'engine cpu µs/req':<16}{ours['engine_cpu_us']:>12.0f}")
    print()
    print(f"{'goal':<38}{'target':>10}{'measured':>10}{'floor':>10}  met")
    for goal in GOALS:
        if goal.scenario not in scenarios:
            continue
        ours = scenarios[goal.scenario]["tradebridge"][goal.metric]
        base = scenarios[goal.scenario]["floor"][goal.metric]
        sign = ">=" if goal.higher_is_better else "<="
        print(
            f"{goal.scenario + ' ' + goal.metric:<38}{sign + ' ' + format(goal.target, 'g'):>10}"
            f"{ours:>10.2f}{base:>10.2f}  {'yes' if goal.met(ours) else 'no'}"
        )


if __name__ == "__main__":
    main()
