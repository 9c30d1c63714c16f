"""The fake OpenD as a process of its own: start, stop, kill, start again on the same ports
and state, and its control port."""

import os
from pathlib import Path
from typing import Any

from tests.brokers.fake_process import LineControlled
from tests.conftest import free_port

HK_SIM, US_SIM, REAL = 9_100_001, 9_100_002, 281_756_400_000_001
PASSWORD = "246810"


class FakeOpenD(LineControlled):
    """`python -m tests.brokers.futu.fake_opend` on free loopback ports, its state in
    `directory` (so a fake started again carries on where the killed one stopped)."""

    module = "tests.brokers.futu.fake_opend"
    name = "OpenD"

    def __init__(self, directory: Path) -> None:
        super().__init__(directory, control_port=free_port())
        self.port = free_port()

    def arguments(self) -> list[str]:
        return [
            *("--port", str(self.port), "--control-port", str(self.control_port)),
            *("--state", str(self.directory / "state.json")),
        ]

    def environment(self) -> dict[str, str]:
        return {**os.environ, "HOME": str(self.directory)}

    def start(self, *, paused: bool = False) -> "FakeOpenD":
        self.launch(*(["--paused"] if paused else []))
        return self

    def state(self) -> dict[str, Any]:
        return self.call("state")

    def price(self, code: str, last: str, size: int | None = None) -> None:
        self.call("price", code=code, last=last, size=size)
