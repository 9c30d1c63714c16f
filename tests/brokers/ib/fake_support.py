"""The fake TWS as the tests run it: its own process on free loopback ports, driven through
its control channel."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[3]
START_S = 15.0


@dataclass
class FakeTwsProcess:
    """One running fake TWS; `restart()` starts it again on the same ports and state."""

    state: Path
    log: Path
    args: list[str] = field(default_factory=list)
    api_port: int = 0
    control_port: int = 0
    process: subprocess.Popen[bytes] | None = None
    _control: socket.socket | None = None
    _buffer: bytes = b""

    def start(self, *, closed: bool = False) -> "FakeTwsProcess":
        command = [
            sys.executable, "-m", "tests.brokers.ib.fake_tws", "--state", str(self.state),
            "--port", str(self.api_port), "--control-port", str(self.control_port), *self.args,
        ]  # fmt: skip
        if closed:
            command.append("--closed")
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                command, cwd=REPO, stdout=subprocess.PIPE, stderr=log, env={**os.environ}
            )
        assert self.process.stdout is not None
        deadline = time.monotonic() + START_S
        line = b""
        while not line.startswith(b"FAKE_TWS READY"):
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError(f"the fake TWS did not start:\n{self.output()}")
            line = self.process.stdout.readline()
        parts = dict(p.split("=") for p in line.decode().split()[2:])
        self.api_port = self.api_port or int(parts["api"])
        self.control_port = int(parts["control"])
        self._control = socket.create_connection(("127.0.0.1", self.control_port), timeout=10)
        self._buffer = b""
        return self

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def command(self, op: str, **values: Any) -> dict[str, Any]:
        assert self._control is not None, "the fake TWS is not running"
        self._control.sendall((json.dumps({"op": op, **values}, default=str) + "\n").encode())
        while b"\n" not in self._buffer:
            chunk = self._control.recv(1 << 20)
            if not chunk:
                raise ConnectionError("the fake TWS closed its control channel")
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        reply: dict[str, Any] = json.loads(line, parse_float=Decimal)
        if not reply.pop("ok"):
            raise FakeTwsRefused(reply.get("code"), reply["error"])
        return reply

    def quote(self, symbol: str, **values: Any) -> None:
        self.command("quote", symbol=symbol, **{k: str(v) for k, v in values.items()})

    def state_now(self) -> dict[str, Any]:
        return self.command("state")

    def account_value(self, key: str, currency: str) -> Decimal:
        for row_key, value, row_currency in self.state_now()["account_values"]:
            if (row_key, row_currency) == (key, currency):
                return Decimal(value)
        raise KeyError((key, currency))

    def orders(self) -> list[dict[str, Any]]:
        return list(self.state_now()["orders"])

    def executions(self) -> list[dict[str, Any]]:
        return list(self.state_now()["executions"])

    def kill(self) -> None:
        """SIGKILL: the API sockets close as when TWS dies."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)
        self._close_control()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._close_control()

    def _close_control(self) -> None:
        if self._control is not None:
            self._control.close()
            self._control = None
        if self.process is not None and self.process.stdout is not None:
            self.process.stdout.close()


class FakeTwsRefused(Exception):
    def __init__(self, code: int | None, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@contextmanager
def fake_tws(directory: Path, *args: str) -> Iterator[FakeTwsProcess]:
    """A fake TWS for the duration of the block (its log printed when the test fails)."""
    directory.mkdir(parents=True, exist_ok=True)
    tws = FakeTwsProcess(state=directory / "tws.json", log=directory / "tws.log", args=list(args))
    tws.start()
    try:
        yield tws
    finally:
        tws.stop()
        print(f"--- fake TWS log (tail) ---\n{tws.output()[-6000:]}")
