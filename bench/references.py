"""The compatibility dialects beside the projects they stand in for, measured side by side.

httptrading: tradebridge's httptrading dialect (`/httptrading/api/{instance}/...`, paper
account, every order a fill) against httptrading 1.0.8 itself with a broker that answers at
once from memory (`ref_httptrading.py`), on `GET cash/state` and `POST order/place` with
`wrk`, 32 connections. Goal (issue 17): at least 1x the reference on both.

httptrading is not a dependency of tradebridge: it runs in a venv of its own under
`bench/.venvs/` that this script creates (it needs Python 3.13, found on PATH as
`python3.13`).

vnpy: the vnpy WebTrader dialect (`[compat.vnpy]`, `POST /order`) against vnpy_webtrader 1.1
itself (vnpy 4, WebTrader's web process and its RPC server in a MainEngine) with a gateway
that takes every order at once and fills none (`ref_vnpy.py`), installed headless in a venv of
its own (`--no-deps vnpy vnpy_webtrader` and the few modules they import). Goal: ≥ 10× at 32
connections, p99 ≤ 15 ms.

Rounds are interleaved as in `orders.py`; medians are reported.
"""

import argparse
import http.client
import json
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import urllib.parse
from pathlib import Path

from loopback import ADMIN_PASSWORD, deep_market, free_port, login, serve, wait_for, wrk

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
VNPY_ORDER = {
    "symbol": "600519",
    "exchange": "SSE",
    "direction": "Long",
    "type": "Limit",
    "volume": 100,
    "price": 1600,
    "offset": "",
}
VNPY_USER, VNPY_PASSWORD = "vnpy", "vnpy-bench-password"
VNPY_REQUIREMENTS = [
    ["--no-deps", "vnpy==4.5.0", "vnpy_webtrader==1.1.0"],
    ["tzlocal", "numpy", "ta-lib", "loguru", "requests", "pyzmq", "fastapi<0.116", "uvicorn"],
    ["python-jose", "passlib", "python-multipart", "websockets"],
]


def bench_venv(name: str, python: str, requirements: list[list[str]]) -> Path:
    """The Python of `bench/.venvs/<name>`, made (and each `pip install` of `requirements`
    run) if missing."""
    venv = VENVS / name
    executable = venv / "bin" / "python"
    if not executable.exists():
        interpreter = _interpreter(python)
        if interpreter is None:
            sys.exit(f"{python} is needed for the {name} reference")
        subprocess.run([interpreter, "-m", "venv", str(venv)], check=True)
        pip = [str(executable), "-m", "pip", "install", "--quiet"]
        subprocess.run([*pip, "--upgrade", "pip"], check=True)
        for packages in requirements:
            subprocess.run([*pip, *packages], check=True)
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
    python = bench_venv("httptrading", "python3.13", [["httptrading==1.0.8"]])
    port = free_port()
    script = str(HERE / "ref_httptrading.py")
    process = subprocess.Popen([str(python), script, str(port), INSTANCE, TOKEN])
    wait_for(port, f"/httptrading/api/{INSTANCE}/ping/state")
    return process, port


def start_vnpy(workdir: Path) -> tuple[list[subprocess.Popen[bytes]], int]:
    """vnpy_webtrader's two processes, with their settings in `workdir/.vntrader`."""
    python = str(bench_venv("vnpy", sys.executable, VNPY_REQUIREMENTS))
    req, pub, port = (free_port() for _ in range(3))
    (workdir / ".vntrader").mkdir(parents=True)
    settings = {
        "username": VNPY_USER,
        "password": VNPY_PASSWORD,
        "req_address": f"tcp://127.0.0.1:{req}",
        "sub_address": f"tcp://127.0.0.1:{pub}",
    }
    (workdir / ".vntrader" / "web_trader_setting.json").write_text(json.dumps(settings))
    script = str(HERE / "ref_vnpy.py")
    addresses = [settings["req_address"], settings["sub_address"]]
    log = (workdir / "vnpy.log").open("wb")  # vnpy logs every order to the console
    engine = subprocess.Popen(
        [python, script, "engine", *addresses], cwd=workdir, stdout=log, stderr=log
    )
    web = subprocess.Popen([python, script, "web", str(port)], cwd=workdir, stdout=log, stderr=log)
    wait_for(port, "/")
    return [engine, web], port


def vnpy_token(port: int, username: str, password: str) -> str:
    """A token from the WebTrader login (`POST /token`, a form)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    form = urllib.parse.urlencode({"username": username, "password": password})
    conn.request("POST", "/token", form, {"Content-Type": "application/x-www-form-urlencoded"})
    answer = json.loads(conn.getresponse().read())
    token: str = answer["access_token"]
    return token


def start_tradebridge(workdir: Path) -> tuple[subprocess.Popen[bytes], int]:
    account = f'httptrading_instance_id = "{INSTANCE}"\nhttptrading_tokens = ["{TOKEN}"]'
    paper = 'cash = { CNY = 1000000000000 }\nmarket = "manual"'
    extra = "[compat.vnpy]\nenabled = true"
    process, port = serve(workdir, paper, account=account, extra=extra)
    deep_market(port, login(port))
    return process, port


def vnpy_order(port: int, token: str, seconds: float) -> dict[str, float]:
    return wrk(
        f"http://127.0.0.1:{port}/order",
        connections=32,
        seconds=seconds,
        method="POST",
        body=json.dumps(VNPY_ORDER),
        headers={"Authorization": f"Bearer {token}"},
    )


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
    vnpy, vnpy_port = start_vnpy(workdir / "vnpy")
    tradebridge, port = start_tradebridge(workdir / "tradebridge")
    vnpy_tokens = (
        vnpy_token(vnpy_port, VNPY_USER, VNPY_PASSWORD),
        vnpy_token(port, "admin", ADMIN_PASSWORD),
    )
    names = [name for name, _, _ in SCENARIOS] + ["vnpy POST /order c=32"]
    ours: dict[str, list[dict[str, float]]] = {name: [] for name in names}
    theirs: dict[str, list[dict[str, float]]] = {name: [] for name in names}
    try:
        for _ in range(args.rounds):
            for name, method, path in SCENARIOS:
                theirs[name].append(measure(reference_port, method, path, args.seconds))
                ours[name].append(measure(port, method, path, args.seconds))
            theirs[names[-1]].append(vnpy_order(vnpy_port, vnpy_tokens[0], args.seconds))
            ours[names[-1]].append(vnpy_order(port, vnpy_tokens[1], args.seconds))
    finally:
        tradebridge.send_signal(signal.SIGTERM)
        tradebridge.wait(30)
        for process in (reference, *vnpy):
            process.kill()
            process.wait()
        shutil.rmtree(workdir)

    results = {
        name: {
            "tradebridge": {k: statistics.median(r[k] for r in ours[name]) for k in ours[name][0]},
            "reference": {
                k: statistics.median(r[k] for r in theirs[name]) for k in theirs[name][0]
            },
        }
        for name in ours
    }
    print(f"{'dialect, c=32':<34}{'tradebridge':>12}{'reference':>12}{'ratio':>8}")
    for name, both in results.items():
        for metric in ("per_s", "p50_ms", "p99_ms", "errors"):
            mine, base = both["tradebridge"][metric], both["reference"][metric]
            ratio = f"{mine / base:>8.2f}" if base else f"{'':>8}"
            print(f"{name:<22}{metric:<12}{mine:>12.2f}{base:>12.2f}{ratio}")
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    (out / "references.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
