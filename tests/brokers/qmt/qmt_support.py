"""Helpers of the qmt tests: the simulated MiniQMT as a child process with a control line, and
the xtquant stand-in on the import path."""

import contextlib
import itertools
import json
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

STANDIN = Path(__file__).parent / "standin"
"""The directory holding the stand-in package `xtquant` (put first on the engine's path)."""
ROOT = Path(__file__).parents[3]
ACCOUNT = "55001234"


class MiniQmtProcess:
    """`python -m tests.brokers.qmt.miniqmt` running, and the test's control connection."""

    def __init__(self, userdata: Path, accounts: list[str]) -> None:
        self.userdata = userdata
        self.log = userdata.parent / "miniqmt.log"
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-u", "-m", "tests.brokers.qmt.miniqmt", str(userdata), *accounts],
                cwd=ROOT,
                stdout=subprocess.PIPE,
                stderr=log,
            )
        assert self.process.stdout is not None
        line = self.process.stdout.readline().decode()
        if not line.startswith("ready "):
            self.process.kill()
            raise RuntimeError(f"the simulated MiniQMT did not start: {line!r}\n{self.output()}")
        self.port = int(line.split()[1])
        self._sock = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        self._file = self._sock.makefile("rb")
        self._seqs = itertools.count(1)
        self._send({"op": "hello", "role": "control"})
        assert json.loads(self._file.readline())["result"] == 0

    @property
    def data_address(self) -> str:
        """`xtdata_address` of a qmt account reaching this MiniQMT."""
        return f"127.0.0.1:{self.port}"

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def _send(self, message: dict[str, Any]) -> None:
        self._sock.sendall((json.dumps(message) + "\n").encode())

    def call(self, cmd: str, **args: Any) -> Any:
        seq = next(self._seqs)
        self._send({"op": "ctl", "seq": seq, "cmd": cmd, "args": args})
        answer = json.loads(self._file.readline())
        assert answer["seq"] == seq
        if "error" in answer:
            raise AssertionError(f"MiniQMT control {cmd}{args}: {answer['error']}")
        return answer["data"]

    def state(self, account: str = ACCOUNT) -> dict[str, Any]:
        return dict(self.call("state", account=account))

    def orders(self, account: str = ACCOUNT) -> list[dict[str, Any]]:
        return list(self.state(account)["orders"])

    def order_by_remark(self, remark_prefix: str, account: str = ACCOUNT) -> list[dict[str, Any]]:
        return [o for o in self.orders(account) if o["order_remark"].startswith(remark_prefix)]

    def wait(self, condition: Callable[[], bool], what: str, within: float = 20) -> None:
        deadline = time.monotonic() + within
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"gave up waiting for {what}")
            time.sleep(0.05)

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            self._file.close()
            self._sock.close()
        assert self.process.stdout is not None
        self.process.stdout.close()
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@contextlib.contextmanager
def miniqmt(userdata: Path, accounts: list[str] | None = None) -> Iterator[MiniQmtProcess]:
    sim = MiniQmtProcess(userdata, accounts or [ACCOUNT])
    try:
        yield sim
    finally:
        sim.stop()


@contextlib.contextmanager
def standin_importable() -> Iterator[None]:
    """The stand-in importable as `xtquant` in this process, for the duration (the real wheel,
    installed for the drift test, is shadowed and then restored)."""
    saved = {name: sys.modules.pop(name) for name in list(sys.modules) if _is_xtquant(name)}
    sys.path.insert(0, str(STANDIN))
    try:
        yield
    finally:
        xtdata = sys.modules.get("xtquant.xtdata")
        if xtdata is not None:
            xtdata.disconnect()
        sys.path.remove(str(STANDIN))
        for name in [n for n in sys.modules if _is_xtquant(n)]:
            del sys.modules[name]
        sys.modules.update(saved)


def _is_xtquant(name: str) -> bool:
    return name == "xtquant" or name.startswith("xtquant.")


def qmt_account_toml(userdata: Path, data_address: str, **settings: Any) -> str:
    """An `[[accounts]]` entry `qmt` trading the simulated MiniQMT's account."""
    extra = "".join(f"{key} = {json.dumps(value)}\n" for key, value in settings.items())
    return f"""
[[accounts]]
id = "qmt"
broker = "qmt"

[accounts.qmt]
userdata_path = '{userdata}'
account_id = "{ACCOUNT}"
account_type = "STOCK"
xtdata_address = "{data_address}"
{extra}"""
