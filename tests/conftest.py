import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

ADMIN_PASSWORD = "admin-pass-for-tests"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def write_config(directory: Path, extra: str = "") -> Path:
    """A config with free ports for the web, the RPC link and the event bus, and a paper
    account whose prices move only when a test sets them."""
    path = directory / "tradebridge.toml"
    path.write_text(
        f"""
data_dir = "{directory / "data"}"

[server]
host = "127.0.0.1"
port = {free_port()}

[engine]
rpc_address = "tcp://127.0.0.1:{free_port()}"
events_address = "tcp://127.0.0.1:{free_port()}"
heartbeat_ms = 200

[[accounts]]
id = "paper"

[accounts.paper]
market = "manual"
{extra}
"""
    )
    return path


@dataclass
class Server:
    """`tradebridge serve` running as a real child process."""

    config: Path
    process: subprocess.Popen[bytes]
    base_url: str
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.base_url, headers=headers, timeout=10)

    def login(self, username: str = "admin", password: str = ADMIN_PASSWORD) -> str:
        with self.client() as c:
            response = c.post(
                "/api/v1/auth/token", data={"username": username, "password": password}
            )
        response.raise_for_status()
        return str(response.json()["access_token"])

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


def tradebridge_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "tradebridge", *args]


def start_server(config: Path, env: dict[str, str] | None = None) -> Server:
    import tomllib

    port = tomllib.loads(config.read_text())["server"]["port"]
    environment = {**os.environ, "TRADEBRIDGE_ADMIN_PASSWORD": ADMIN_PASSWORD, **(env or {})}
    log = config.parent / "serve.log"
    with log.open("ab") as sink:
        process = subprocess.Popen(
            tradebridge_command("serve", "--config", str(config)),
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=environment,
        )
    server = Server(config=config, process=process, base_url=f"http://127.0.0.1:{port}", log=log)
    wait_healthy(server)
    return server


def wait_healthy(server: Server, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"serve exited:\n{server.output()}")
        try:
            body = httpx.get(server.base_url + "/api/v1/health", timeout=1).json()
            if body["status"] == "ok":
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise TimeoutError("server did not become healthy")


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server shared by the API tests; tests use their own symbols or client ids."""
    config = write_config(tmp_path_factory.mktemp("shared"))
    running = start_server(config)
    yield running
    assert running.stop() == 0


@pytest.fixture(scope="session")
def admin_token(server: Server) -> str:
    return server.login()


@pytest.fixture
def api(server: Server, admin_token: str) -> Iterator[httpx.Client]:
    with server.client(admin_token) as client:
        client.post("/api/v1/paper/paper/reset").raise_for_status()
        yield client
