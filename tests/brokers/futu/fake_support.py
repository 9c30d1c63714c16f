"""The fake OpenD as a process of its own: start, stop, kill, start again on the same ports
and state, and its control port."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[3]
START_S = 20.0
HK_SIM, US_SIM, REAL = 9_100_001, 9_100_002, 281_756_400_000_001
PASSWORD = "246810"


class FakeOpenD:
    """`python -m tests.brokers.futu.fake_opend` on free loopback ports, its state in
    `directory` (so a fake started again carries on where the killed one stopped)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.control_port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self._control: socket.socket | None = None
        self._reader: Any = None

    @property
    def log(self) -> Path:
        return self.directory / "fake_opend.log"

    def start(self, *, paused: bool = False) -> "FakeOpenD":
        command = [
            sys.executable,
            "-m",
            "tests.brokers.futu.fake_opend",
            "--port",
            str(self.port),
            "--control-port",
            str(self.control_port),
            "--state",
            str(self.directory / "state.json"),
            *(["--paused"] if paused else []),
        ]
        env = {**os.environ, "HOME": str(self.directory)}
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=env
            )
        deadline = time.monotonic() + START_S
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"the fake OpenD exited:\n{self.log.read_text()}")
            try:
                self._control = socket.create_connection(("127.0.0.1", self.control_port), 1)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        f"the fake OpenD did not start:\n{self.log.read_text()}"
                    ) from None
                time.sleep(0.05)
        self._reader = self._control.makefile("rb")
        return self

    def call(self, op: str, **arguments: Any) -> dict[str, Any]:
        assert self._control is not None, "the fake OpenD is not running"
        self._control.sendall(json.dumps({"op": op, **arguments}).encode() + b"\n")
        reply: dict[str, Any] = json.loads(self._reader.readline())
        assert reply.pop("ok"), reply
        return reply

    def state(self) -> dict[str, Any]:
        return self.call("state")

    def price(self, code: str, last: str, size: int | None = None) -> None:
        self.call("price", code=code, last=last, size=size)

    def _forget_control(self) -> None:
        if self._control is not None:
            self._reader.close()
            self._control.close()
            self._control = None

    def kill(self) -> None:
        """SIGKILL: OpenD gone at once, its connections reset."""
        self._forget_control()
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        self._forget_control()
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
