"""Fixtures of the WebSocket stream tests: a `tradebridge serve` with short stream timings."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import cast

import pytest
from tests.conftest import Server, start_server, tradebridge_command
from tests.postgres_support import create_database, drop_database
from tests.stream.stream_support import OPEN, deep_market, write_stream_config


def start_stream_server(directory: Path, database_url: str | None = None) -> Server:
    """A server for the stream tests that do not stop or starve it; two paper accounts."""
    config = write_stream_config(
        directory,
        server={"stream_backlog": 2000},
        accounts=("paper", "other"),
        database_url=database_url,
    )
    return start_server(config)


def stream_login(server: Server) -> str:
    """An admin token, after a deep market is set on both accounts."""
    token = server.login()
    for account in ("paper", "other"):
        deep_market(server, token, account)
    return token


@pytest.fixture(scope="session")
def stream_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Shared by the stream tests that do not stop or starve it."""
    running = start_stream_server(tmp_path_factory.mktemp("stream"))
    yield running
    assert running.stop() == 0


@pytest.fixture(scope="session")
def stream_token(stream_server: Server) -> str:
    return stream_login(stream_server)


@pytest.fixture(scope="session")
def postgres_stream_server(
    tmp_path_factory: pytest.TempPathFactory, postgres_admin_url: str
) -> Iterator[Server]:
    """Like `stream_server`, on a PostgreSQL database of its own."""
    url = create_database(postgres_admin_url)
    running = start_stream_server(tmp_path_factory.mktemp("stream-pg"), database_url=url)
    yield running
    assert running.stop() == 0
    drop_database(postgres_admin_url, url)


@pytest.fixture(scope="session")
def postgres_stream_token(postgres_stream_server: Server) -> str:
    return stream_login(postgres_stream_server)


_SHARED_STREAM_SERVERS = {
    "sqlite": ("stream_server", "stream_token"),
    "postgresql": ("postgres_stream_server", "postgres_stream_token"),
}


@pytest.fixture(params=list(_SHARED_STREAM_SERVERS))
def stream_database(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def each_db_stream_server(request: pytest.FixtureRequest, stream_database: str) -> Server:
    """`stream_server`, then `postgres_stream_server`: a test using it runs on both
    databases."""
    return cast(Server, request.getfixturevalue(_SHARED_STREAM_SERVERS[stream_database][0]))


@pytest.fixture
def each_db_stream_token(
    request: pytest.FixtureRequest, stream_database: str, each_db_stream_server: Server
) -> str:
    """The admin token of `each_db_stream_server`."""
    return str(request.getfixturevalue(_SHARED_STREAM_SERVERS[stream_database][1]))


def create_api_key(server: Server, *, scopes: str, account: str | None = None) -> str:
    args = ["key", "create", "--user", "admin", "--scopes", scopes]
    if account is not None:
        args += ["--account", account]
    result = subprocess.run(
        tradebridge_command(*args, "--config", str(server.config)),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout.strip().splitlines()[-1]


@pytest.fixture
async def close_clients() -> AsyncIterator[None]:
    """Close the stream clients a test left open (say, when it failed half-way)."""
    yield
    while OPEN:
        client = OPEN.pop()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(client.close(), 2)
