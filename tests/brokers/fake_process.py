"""A fake broker server run as a process of its own (`python -m <module> ...`): started on free
loopback ports, its log and state kept in a directory, so a fake stopped or killed and started
again carries on where it ended. Subclasses say how to run it and how it is controlled."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
START_S = 20.0


class FakeProcess:
    module: str
    """What `python -m` runs."""
    name: str
    """The broker's name in messages ("the fake OpenD exited")."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def log(self) -> Path:
        return self.directory / f"{self.module.rsplit('.', 1)[-1]}.log"

    def arguments(self) -> list[str]:
        raise NotImplementedError

    def environment(self) -> dict[str, str]:
        return dict(os.environ)

    def answers(self) -> bool:
        """Whether it takes control calls yet (False while it starts)."""
        raise NotImplementedError

    def launch(self, *extra: str) -> None:
        """Start it and wait until it answers."""
        command = [sys.executable, "-m", self.module, *self.arguments(), *extra]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=self.environment()
            )
        deadline = time.monotonic() + START_S
        while not self.answers():
            if self.process.poll() is not None:
                raise RuntimeError(f"the fake {self.name} exited:\n{self.log.read_text()}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"the fake {self.name} did not start:\n{self.log.read_text()}")
            time.sleep(0.05)

    def disconnect(self) -> None:
        """Let go of the control connection, if any (before the process ends)."""

    def kill(self) -> None:
        """SIGKILL: the broker gone at once, its connections reset."""
        self.disconnect()
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        self.disconnect()
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class LineControlled(FakeProcess):
    """A fake controlled over one TCP connection: a JSON line per call, a JSON line back with
    `ok`."""

    def __init__(self, directory: Path, control_port: int) -> None:
        super().__init__(directory)
        self.control_port = control_port
        self._control: socket.socket | None = None
        self._reader: Any = None

    def answers(self) -> bool:
        try:
            self._control = socket.create_connection(("127.0.0.1", self.control_port), 1)
        except OSError:
            return False
        self._reader = self._control.makefile("rb")
        return True

    def call(self, op: str, **arguments: Any) -> dict[str, Any]:
        assert self._control is not None, f"the fake {self.name} is not running"
        self._control.sendall(json.dumps({"op": op, **arguments}).encode() + b"\n")
        reply: dict[str, Any] = json.loads(self._reader.readline())
        assert reply.pop("ok"), reply
        return reply

    def disconnect(self) -> None:
        if self._control is not None:
            self._reader.close()
            self._control.close()
            self._control = None
