"""The fake LongPort server as a process of its own: start, stop, start again on the same
ports and state; its control port; the settings that point the SDK at it."""

from pathlib import Path
from typing import Any

import httpx
from tests.brokers.fake_process import FakeProcess
from tests.brokers.longport.fake_longport import ACCESS_TOKEN, APP_KEY, APP_SECRET
from tests.conftest import free_port


class FakeLongport(FakeProcess):
    """`python -m tests.brokers.longport.fake_longport` on free loopback ports, its state in
    `directory` (a fake started again carries on where the stopped one ended); controlled
    over HTTP."""

    module = "tests.brokers.longport.fake_longport"
    name = "LongPort"

    def __init__(self, directory: Path) -> None:
        super().__init__(directory)
        self.port = free_port()
        self.control_port = free_port()

    def arguments(self) -> list[str]:
        return [
            *("--port", str(self.port), "--control-port", str(self.control_port)),
            *("--state", str(self.directory / "state.json")),
        ]

    def start(self, *, paused: bool = False) -> "FakeLongport":
        self.launch(*(["--paused"] if paused else []))
        return self

    def answers(self) -> bool:
        try:
            self.call("state")
        except httpx.TransportError:
            return False
        return True

    def call(self, op: str, **arguments: Any) -> dict[str, Any]:
        response = httpx.post(
            f"http://127.0.0.1:{self.control_port}/{op}", json=arguments, timeout=10
        )
        assert response.status_code == 200, response.text
        reply: dict[str, Any] = response.json()
        return reply

    def state(self) -> dict[str, Any]:
        return self.call("state")

    def order(self, remark: str) -> dict[str, Any]:
        return next(o for o in self.state()["orders"].values() if o["remark"] == remark)

    def settings_toml(self, secrets: Path) -> str:
        """The `[accounts.longport]` table for this fake, secrets written owner-only."""
        secrets.mkdir(parents=True, exist_ok=True)
        for name, value in (("secret", APP_SECRET), ("token", ACCESS_TOKEN)):
            path = secrets / name
            path.write_text(value + "\n")
            path.chmod(0o600)
        base = f"127.0.0.1:{self.port}"
        return f"""
app_key = "{APP_KEY}"
app_secret_file = "{secrets / "secret"}"
access_token_file = "{secrets / "token"}"
http_url = "http://{base}"
quote_ws_url = "ws://{base}/v2/quote"
trade_ws_url = "ws://{base}/v2/trade"
request_timeout_s = 3
"""
