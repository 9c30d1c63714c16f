"""The fake Tiger OpenAPI as a process of its own: start, stop, kill, start again on the same
ports and state; its control port; the key pair its signatures are checked with."""

import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tests.brokers.tiger.fake_tiger import generate_key
from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[3]
START_S = 20.0
TIGER_ID = "20150001"
ACCOUNT = "U1234567"


class FakeTiger:
    """`python -m tests.brokers.tiger.fake_tiger` on free loopback ports, its state in
    `directory` (so a fake started again carries on where the stopped one ended)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.private_key, self.public_key = generate_key(directory)
        self.http_port, self.push_port, self.control_port = free_port(), free_port(), free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self._control: socket.socket | None = None
        self._reader: Any = None

    @property
    def server_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}/gateway"

    @property
    def socket_host_port(self) -> str:
        return f"tcp,127.0.0.1,{self.push_port}"

    @property
    def log(self) -> Path:
        return self.directory / "fake_tiger.log"

    def start(self) -> "FakeTiger":
        command = [
            sys.executable,
            "-m",
            "tests.brokers.tiger.fake_tiger",
            *("--http-port", str(self.http_port), "--push-port", str(self.push_port)),
            *("--control-port", str(self.control_port)),
            *("--state", str(self.directory / "state.json")),
            *("--public-key", str(self.public_key)),
            *("--tiger-id", TIGER_ID, "--account", ACCOUNT),
        ]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + START_S
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"the fake Tiger exited:\n{self.log.read_text()}")
            try:
                self._control = socket.create_connection(("127.0.0.1", self.control_port), 1)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        f"the fake Tiger did not start:\n{self.log.read_text()}"
                    ) from None
                time.sleep(0.05)
        self._reader = self._control.makefile("rb")
        return self

    def call(self, op: str, **arguments: Any) -> dict[str, Any]:
        assert self._control is not None, "the fake Tiger is not running"
        self._control.sendall(json.dumps({"op": op, **arguments}).encode() + b"\n")
        reply: dict[str, Any] = json.loads(self._reader.readline())
        assert reply.pop("ok"), reply
        return reply

    def state(self) -> dict[str, Any]:
        state: dict[str, Any] = self.call("state")["state"]
        return state

    def order(self, user_mark: str) -> dict[str, Any]:
        return next(o for o in self.state()["orders"].values() if o["userMark"] == user_mark)

    def _forget_control(self) -> None:
        if self._control is not None:
            self._reader.close()
            self._control.close()
            self._control = None

    def kill(self) -> None:
        """SIGKILL: Tiger gone at once, its connections reset."""
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
