import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import httpx
import pytest

from tests.postgres_support import (
    ADMIN_URL_ENV,
    Cluster,
    PostgresUnavailable,
    create_database,
    drop_database,
)

ADMIN_PASSWORD = "admin-pass-for-tests"

# Every engine the suite starts (in process or as a server) refuses a broker report made off
# its loop thread (brokers/threads.py).
os.environ["TRADEBRIDGE_CHECK_THREADS"] = "1"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def write_config(
    directory: Path,
    extra: str = "",
    database_url: str | None = None,
    *,
    private_link: bool = False,
) -> Path:
    """A config with free ports for the web, the RPC link and the event bus, and a paper
    account whose prices move only when a test sets them; the database is `database_url`,
    or SQLite under the data dir. Rate limits are off unless `extra` has `[rate_limits]`.
    `private_link`: no engine addresses, so `serve` uses its default (the data dir's).
    One web worker: tests read what a worker keeps for itself (rate counts, audit rows of its
    own just written); those about several workers say so."""
    database = f'[database]\nurl = "{database_url}"' if database_url else ""
    # Tests place orders as fast as they can; those about rate limits give their own section.
    rate_limits = "" if "[rate_limits]" in extra else "[rate_limits]\nenabled = false"
    path = directory / "tradebridge.toml"
    path.write_text(
        f"""
data_dir = "{directory / "data"}"
{database}
{rate_limits}

[server]
host = "127.0.0.1"
port = {free_port()}
workers = 1

[engine]
{"" if private_link else f'rpc_address = "tcp://127.0.0.1:{free_port()}"'}
{"" if private_link else f'events_address = "tcp://127.0.0.1:{free_port()}"'}
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

    def database_url(self) -> str:
        """The database the server uses, as its configuration names it."""
        from tradebridge.config import load_settings

        return load_settings(self.config).database_url

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


@contextmanager
def paper_api(server: Server, token: str) -> Iterator[httpx.Client]:
    """A client of `server` whose paper account `paper` was reset to its configured state."""
    with server.client(token) as client:
        client.post("/api/v1/paper/paper/reset").raise_for_status()
        yield client


@pytest.fixture
def api(server: Server, admin_token: str) -> Iterator[httpx.Client]:
    with paper_api(server, admin_token) as client:
        yield client


@pytest.fixture(scope="session")
def postgres_admin_url() -> Iterator[str]:
    """The admin URL of a PostgreSQL server: `$TRADEBRIDGE_TEST_POSTGRES_URL` (as `.ci/run`
    sets it), or a throwaway cluster started for this test session."""
    configured = os.environ.get(ADMIN_URL_ENV)
    if configured:
        yield configured
        return
    try:
        cluster = Cluster.start()
    except PostgresUnavailable as exc:
        raise pytest.fail.Exception(str(exc), pytrace=False) from None
    yield cluster.admin_url
    cluster.stop()


@pytest.fixture
def postgres_url(postgres_admin_url: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test (`postgresql+psycopg://…`)."""
    url = create_database(postgres_admin_url)
    yield url
    drop_database(postgres_admin_url, url)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of a fresh, empty database: a test using it runs once on each database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'tradebridge.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture(scope="session")
def postgres_server(
    tmp_path_factory: pytest.TempPathFactory, postgres_admin_url: str
) -> Iterator[Server]:
    """Like `server`, on a PostgreSQL database of its own."""
    url = create_database(postgres_admin_url)
    running = start_server(write_config(tmp_path_factory.mktemp("shared-pg"), database_url=url))
    yield running
    assert running.stop() == 0
    drop_database(postgres_admin_url, url)


@pytest.fixture(scope="session")
def postgres_admin_token(postgres_server: Server) -> str:
    return postgres_server.login()


_SHARED_SERVERS = {
    "sqlite": ("server", "admin_token"),
    "postgresql": ("postgres_server", "postgres_admin_token"),
}
"""Per database: the fixtures of its shared server and of that server's admin token."""


@pytest.fixture(params=list(_SHARED_SERVERS))
def shared_database(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def each_db_server(request: pytest.FixtureRequest, shared_database: str) -> Server:
    """The shared `server` (SQLite), then the shared `postgres_server`: a test using it runs
    once on each database."""
    return cast(Server, request.getfixturevalue(_SHARED_SERVERS[shared_database][0]))


@pytest.fixture
def each_db_api(
    request: pytest.FixtureRequest, shared_database: str, each_db_server: Server
) -> Iterator[httpx.Client]:
    """Like `api`, once on each database (a module runs all its `api` tests on both by
    overriding `api` with this)."""
    token = str(request.getfixturevalue(_SHARED_SERVERS[shared_database][1]))
    with paper_api(each_db_server, token) as client:
        yield client
