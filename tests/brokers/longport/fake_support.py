"""The fake LongPort server as a process of its own: start, stop, start again on the same
ports and state; its control port; the settings that point the SDK at it."""

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from tests.brokers.longport.fake_longport import ACCESS_TOKEN, APP_KEY, APP_SECRET
from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[3]
START_S = 20.0


class FakeLongport:
    """`python -m tests.brokers.longport.fake_longport` on free loopback ports, its state in
    `directory` (a fake started again carries on where the stopped one ended)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.control_port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def log(self) -> Path:
        return self.directory / "fake_longport.log"

    def start(self, *, paused: bool = False) -> "FakeLongport":
        command = [
            sys.executable,
            "-m",
            "tests.brokers.longport.fake_longport",
            "--port",
            str(self.port),
            "--control-port",
            str(self.control_port),
            "--state",
            str(self.directory / "state.json"),
            *(["--paused"] if paused else []),
        ]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=dict(os.environ)
            )
        deadline = time.monotonic() + START_S
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"the fake LongPort exited:\n{self.log.read_text()}")
            try:
                self.call("state")
                return self
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"the fake did not start:\n{self.log.read_text()}") from None
                time.sleep(0.05)

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

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

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
