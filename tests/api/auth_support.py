"""Helpers of the auth tests: users and keys made through the CLI and the API of a server."""

import subprocess
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.conftest import Server, tradebridge_command

PASSWORD = "a-long-enough-password"


def cli(config: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """`tradebridge ARGS --config CONFIG`, its output captured."""
    return subprocess.run(
        tradebridge_command(*args, "--config", str(config)),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


def add_user(server: Server, role: str, password: str = PASSWORD) -> str:
    """A new user with a unique name, added through the CLI; its name."""
    name = f"{role}-{uuid.uuid4().hex[:8]}"
    result = cli(server.config, "user", "add", name, "--role", role, stdin=password + "\n")
    assert result.returncode == 0, result.stderr
    return name


def create_key(server: Server, token: str, **body: Any) -> dict[str, Any]:
    """A new API key made through `POST /api/v1/keys`: the answer, with `key`."""
    with server.client(token) as client:
        response = client.post("/api/v1/keys", json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 30) -> None:
    """Poll `condition` until it holds; fail naming `what` if it never does."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what}")
        time.sleep(0.2)
