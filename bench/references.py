"""The compatibility dialects beside the projects they stand in for, measured side by side.

httptrading: tradebridge's httptrading dialect (`/httptrading/api/{instance}/...`, paper
account, every order a fill) against httptrading 1.0.8 itself with a broker that answers at
once from memory (`ref_httptrading.py`), on `GET cash/state` and `POST order/place` with
`wrk`, 32 connections. Goal (issue 17): at least 1x the reference on both.

httptrading is not a dependency of tradebridge: it runs in a venv of its own under
`bench/.venvs/` that this script creates (it needs Python 3.13, found on PATH as
`python3.13`). Rounds are interleaved as in `orders.py`; medians are reported.
"""

import argparse
import json
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from loopback import deep_market, free_port, login, serve, wait_for, wrk

HERE = Path(__file__).resolve().parent
VENVS = HERE / ".venvs"
INSTANCE = "BenchInstance000001"
TOKEN = "bench-ht-token-000000001"
PLACE = {
    "tradeType": "Securities",
    "region": "CN",
    "ticker": "600519",
    "price": 1600.0,
    "qty": 100,
    "orderType": "Limit",
    "timeInForce": "DAY",
    "lifecycle": "RTH",
    "direction": "BUY",
}
SCENARIOS = [("cash/state c=32", "GET", "cash/state"), ("order/place c=32", "POST", "order/place")]


def bench_venv(name: str, python: str, requirements: list[str]) -> Path:
    """The Python of `bench/.venvs/<name>`, made (and `requirements` installed) if missing."""
    venv = VENVS / name
    executable = venv / "bin" / "python"
    if not executable.exists():
        interpreter = _interpreter(python)
        if interpreter is None:
            sys.exit(f"{python} is needed for the {name} reference")
        subprocess.run([interpreter, "-m", "venv", str(venv)], check=True)
        pip = [str(executable), "-m", "pip", "install", "--quiet"]
        subprocess.run([*pip, "--upgrade", "pip"], check=True)
        subprocess.run([*pip, *requirements], check=True)
    return executable


def _interpreter(python: str) -> str | None:
    """`python` on PATH; behind a pyenv shim, the installed version it names."""
    found = shutil.which(python)
    if found is None or "shims" not in found:
        return found
    version = python.removeprefix("python")
    bare = subprocess.run(["pyenv", "versions", "--bare"], capture_output=True, text=True)
    for name in bare.stdout.split():
        if name.startswith(version):
            prefix = subprocess.run(["pyenv", "prefix", name], capture_output=True, text=True)
            return str(Path(prefix.stdout.strip()) / "bin" / python)
    return None


def start_httptrading() -> tuple[subprocess.Popen[bytes], int]:
    python = bench_venv("httptrading", "python3.13", ["httptrading==1.0.8"])
    port = free_port()
    script = str(HERE / "ref_httptrading.py")
    process = subprocess.Popen([str(python), script, str(port), INSTANCE, TOKEN])
    wait_for(port, f"/httptrading/api/{INSTANCE}/ping/state")
    return process, port


def start_tradebridge(workdir: Path) -> tuple[subprocess.Popen[bytes], int]:
    account = f'httptrading_instance_id = "{INSTANCE}"\nhttptrading_tokens = ["{TOKEN}"]'
    paper = 'cash = { CNY = 1000000000000 }\nmarket = "manual"'
    process, port = serve(workdir, paper, account=account)
    deep_market(port, login(port))
    return process, port


def measure(port: int, method: str, path: str, seconds: float) -> dict[str, float]:
    return wrk(
        f"http://127.0.0.1:{port}/httptrading/api/{INSTANCE}/{path}",
        connections=32,
        seconds=seconds,
        method=method,
        body=json.dumps(PLACE) if method == "POST" else None,
        headers={"HT-TOKEN": TOKEN},
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=5, help="length of each wrk run")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each scenario")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed: apt-get install wrk")

    workdir = Path(tempfile.mkdtemp(prefix="tb-bench-"))
    reference, reference_port = start_httptrading()
    tradebridge, port = start_tradebridge(workdir)
    ours: dict[str, list[dict[str, float]]] = {name: [] for name, _, _ in SCENARIOS}
    theirs: dict[str, list[dict[str, float]]] = {name: [] for name, _, _ in SCENARIOS}
    try:
        for _ in range(args.rounds):
            for name, method, path in SCENARIOS:
                theirs[name].append(measure(reference_port, method, path, args.seconds))
                ours[name].append(measure(port, method, path, args.seconds))
    finally:
        tradebridge.send_signal(signal.SIGTERM)
        tradebridge.wait(30)
        reference.kill()
        reference.wait()
        shutil.rmtree(workdir)

    results = {
        name: {
            "tradebridge": {k: statistics.median(r[k] for r in ours[name]) for k in ours[name][0]},
            "httptrading": {
                k: statistics.median(r[k] for r in theirs[name]) for k in theirs[name][0]
            },
        }
        for name in ours
    }
    print(f"{'httptrading dialect':<34}{'tradebridge':>12}{'httptrading':>12}{'ratio':>8}")
    for name, both in results.items():
        for metric in ("per_s", "p50_ms", "p99_ms", "errors"):
            mine, base = both["tradebridge"][metric], both["httptrading"][metric]
            ratio = f"{mine / base:>8.2f}" if base else f"{'':>8}"
            print(f"{name:<18}{metric:<16}{mine:>12.2f}{base:>12.2f}{ratio}")
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    (out / "references.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
