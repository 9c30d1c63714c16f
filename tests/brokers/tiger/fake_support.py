"""The fake Tiger OpenAPI as a process of its own: start, stop, kill, start again on the same
ports and state; its control port; the key pair its signatures are checked with."""

from pathlib import Path
from typing import Any

from tests.brokers.fake_process import LineControlled
from tests.brokers.tiger.fake_tiger import generate_key
from tests.conftest import free_port

TIGER_ID = "20150001"
ACCOUNT = "U1234567"


class FakeTiger(LineControlled):
    """`python -m tests.brokers.tiger.fake_tiger` on free loopback ports, its state in
    `directory` (so a fake started again carries on where the stopped one ended)."""

    module = "tests.brokers.tiger.fake_tiger"
    name = "Tiger"

    def __init__(self, directory: Path) -> None:
        super().__init__(directory, control_port=free_port())
        self.private_key, self.public_key = generate_key(directory)
        self.http_port, self.push_port = free_port(), free_port()

    @property
    def server_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}/gateway"

    @property
    def socket_host_port(self) -> str:
        return f"tcp,127.0.0.1,{self.push_port}"

    def arguments(self) -> list[str]:
        return [
            *("--http-port", str(self.http_port), "--push-port", str(self.push_port)),
            *("--control-port", str(self.control_port)),
            *("--state", str(self.directory / "state.json")),
            *("--public-key", str(self.public_key)),
            *("--tiger-id", TIGER_ID, "--account", ACCOUNT),
        ]

    def start(self) -> "FakeTiger":
        self.launch()
        return self

    def state(self) -> dict[str, Any]:
        state: dict[str, Any] = self.call("state")["state"]
        return state

    def order(self, user_mark: str) -> dict[str, Any]:
        return next(o for o in self.state()["orders"].values() if o["userMark"] == user_mark)
