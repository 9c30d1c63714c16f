"""The SQLite database holds password and key hashes: a real server creates its files (the
database, its WAL, its shared-memory index) readable by their owner only, also in a data dir
that already existed with a wider mode, and narrows files an earlier run left readable."""

import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.conftest import start_server, write_config

ORDER = {"symbol": "600519.SH", "side": "buy", "qty": 100, "limit_price": "1400.00"}


@contextmanager
def umask(mask: int) -> Iterator[None]:
    previous = os.umask(mask)
    try:
        yield
    finally:
        os.umask(previous)


def modes(data: Path) -> dict[str, int]:
    return {
        p.name: stat.S_IMODE(p.stat().st_mode)
        for p in data.iterdir()
        if p.name.startswith("tradebridge.db")
    }


def serve_and_write(config: Path) -> None:
    """Start a server, write to its database (an order, an audit row), stop it."""
    server = start_server(config)
    try:
        with server.client(server.login()) as api:
            assert api.post("/api/v1/accounts/paper/orders", json=ORDER).status_code == 201
        while_running = modes(config.parent / "data")
    finally:
        assert server.stop() == 0
    assert {"tradebridge.db", "tradebridge.db-wal", "tradebridge.db-shm"} <= while_running.keys()
    assert while_running == dict.fromkeys(while_running, 0o600), while_running


def test_database_files_are_private_in_an_existing_data_dir(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    with umask(0o022):
        serve_and_write(config)
        # Files of an earlier run (or an older version) that others may read are narrowed.
        for path in data.iterdir():
            if path.name.startswith("tradebridge.db"):
                path.chmod(0o644)
        serve_and_write(config)
    assert modes(data) == dict.fromkeys(modes(data), 0o600)
