"""`tradebridge` on PostgreSQL as a user runs it: `db upgrade`, then `serve` with two web
workers on the new database, trading, and a restart that keeps everything."""

import os
import subprocess
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, inspect, select
from tests.conftest import Server, start_server, tradebridge_command, write_config

from tradebridge.store import queries
from tradebridge.store.database import create_db_engine
from tradebridge.store.schema import events, metadata

ORDERS = "/api/v1/accounts/paper/orders"
ORDER = {"symbol": "600519.SH", "side": "buy", "qty": 100}  # paper: bid 1499.99, ask 1500.01
Json = dict[str, Any]


def db_upgrade(config: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        tradebridge_command("db", "upgrade", "--config", str(config)),
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )


def test_db_upgrade_builds_a_new_database_and_again_changes_nothing(
    tmp_path: Path, postgres_url: str
) -> None:
    config = write_config(tmp_path)  # the URL from the environment, as a deployment may set it
    first = db_upgrade(config, env={"TRADEBRIDGE_DATABASE_URL": postgres_url})
    assert first.returncode == 0, first.stderr
    db = create_db_engine(postgres_url)
    tables = set(inspect(db).get_table_names())
    db.dispose()
    assert tables == {*metadata.tables, "alembic_version"}

    config = write_config(tmp_path, database_url=postgres_url)
    again = db_upgrade(config)
    assert again.returncode == 0, again.stderr
    assert again.stdout == first.stdout
    assert first.stdout.startswith("database at revision ")
    assert not (tmp_path / "data" / "tradebridge.db").exists()  # no SQLite file on the side


def stored_seqs(database_url: str) -> tuple[int, int, tuple[int, int] | None]:
    """How many events are stored, the last `seq`, and the first and last `seq`."""
    db = create_db_engine(database_url)
    with db.connect() as conn:
        count = conn.execute(select(func.count()).select_from(events)).scalar_one()
        last = queries.last_seq(conn, "paper")
        bounds = queries.seq_range(conn, "paper")
    db.dispose()
    return count, last, bounds


def buy(api: httpx.Client, limit_price: str, client_order_id: str) -> httpx.Response:
    body = ORDER | {"limit_price": limit_price, "client_order_id": client_order_id}
    return api.post(ORDERS, json=body)


def trade(server: Server) -> tuple[list[Json], list[Json]]:
    """A fill, a retried fill, a cancel; returns the account's orders and trades then."""
    with server.client(server.login()) as api:
        first = buy(api, "1510", "pg-1")
        retry = buy(api, "1510", "pg-1")
        assert (first.status_code, retry.status_code) == (201, 200)
        assert first.json()["status"] == "filled"
        assert retry.json() == first.json()

        resting = buy(api, "1400", "pg-2")
        assert resting.json()["status"] == "new"
        canceled = api.delete(f"{ORDERS}/{resting.json()['id']}")
        assert canceled.json()["status"] == "canceled"

        orders = api.get(ORDERS, params={"status": "all"}).json()
        trades = api.get("/api/v1/accounts/paper/trades").json()
    assert [o["status"] for o in orders] == ["filled", "canceled"]
    assert [(t["client_order_id"], t["price"]) for t in trades] == [("pg-1", 1500.01)]
    return orders, trades


def test_serve_on_postgresql_trades_and_a_restart_keeps_everything(
    tmp_path: Path, postgres_url: str
) -> None:
    config = write_config(tmp_path, database_url=postgres_url)
    config.write_text(config.read_text().replace("workers = 1\n", "workers = 2\n"))

    server = start_server(config)
    try:
        orders, trades = trade(server)
    finally:
        assert server.stop() == 0
    count, last, bounds = stored_seqs(postgres_url)
    assert count == last  # gap-free from 1
    assert bounds == (1, last)

    server = start_server(config)  # same database: the admin, orders, trades and seq stay
    try:
        with server.client(server.login()) as api:
            assert api.get(ORDERS, params={"status": "all"}).json() == orders
            assert api.get("/api/v1/accounts/paper/trades").json() == trades
            again = buy(api, "1510", "pg-1")
            assert again.status_code == 200  # the idempotency key outlives the engine
            assert again.json()["id"] == orders[0]["id"]
            more = buy(api, "1510", "pg-3")
            assert more.status_code == 201
    finally:
        assert server.stop() == 0
    count_after, last_after, bounds_after = stored_seqs(postgres_url)
    assert last_after > last  # numbered on from the stored events
    assert (count_after, bounds_after) == (last_after, (1, last_after))
