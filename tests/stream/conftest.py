"""Fixtures of the WebSocket stream tests: a `tradebridge serve` with short stream timings."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
from collections.abc import AsyncIterator, Iterator

import pytest
from tests.conftest import Server, start_server, tradebridge_command
from tests.stream.stream_support import OPEN, deep_market, write_stream_config


@pytest.fixture(scope="session")
def stream_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Shared by the stream tests that do not stop or starve it; two paper accounts."""
    config = write_stream_config(
        tmp_path_factory.mktemp("stream"),
        server={"stream_backlog": 2000},
        accounts=("paper", "other"),
    )
    running = start_server(config)
    yield running
    assert running.stop() == 0


@pytest.fixture(scope="session")
def stream_token(stream_server: Server) -> str:
    token = stream_server.login()
    for account in ("paper", "other"):
        deep_market(stream_server, token, account)
    return token


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
