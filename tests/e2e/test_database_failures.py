"""A database that is locked, full or unreachable: clear errors, nothing half-written, and
the server comes back by itself once the database does.

When the order journal cannot be written the engine answers 503 `engine_unavailable` saying
why, then exits with status 74 so that `tradebridge serve` restarts it and it rebuilds its
state from the database. A database that cannot be opened at start makes `tradebridge engine`
and `tradebridge db upgrade` exit with status 69 and one line naming it; `serve` keeps trying.
"""

import os
import sqlite3
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import websockets
from tests.conftest import (
    ADMIN_PASSWORD,
    Server,
    free_port,
    start_server,
    tradebridge_command,
    wait_healthy,
    write_config,
)
from tests.e2e.lifecycle_support import (
    ORDERS,
    WAIT_S,
    on_small_disk,
    order_body,
    orders_with_client_id,
    start_serve,
    wait_until,
    with_settings,
)

JOURNAL_FAILED = "engine exited with status 74"
DATABASE_UNAVAILABLE = "engine exited with status 69"


def new_client_id() -> str:
    return f"d-{uuid.uuid4().hex[:20]}"


def assert_journal_failure(response: httpx.Response, database_error: str) -> None:
    assert response.status_code == 503, response.text
    error = response.json()["error"]
    assert error["code"] == "engine_unavailable"
    assert error["message"] == (
        f"the order journal could not be written ({database_error}); "
        "the engine restarts and recovers from the database"
    )


def assert_placed_once(server: Server, token: str, client_order_id: str) -> None:
    """The order can now be placed: 201 once, then 200 with the same order; listed once."""
    with server.client(token) as client:
        created = client.post(ORDERS, json=order_body(client_order_id))
        assert created.status_code == 201, created.text
        retried = client.post(ORDERS, json=order_body(client_order_id))
        assert retried.status_code == 200, retried.text
        assert retried.json()["id"] == created.json()["id"]
        listed = orders_with_client_id(client, client_order_id)
        assert [o["id"] for o in listed] == [created.json()["id"]]


def assert_not_recorded(server: Server, token: str, client_order_id: str) -> None:
    with server.client(token) as client:
        response = client.get(f"{ORDERS}:by_client_id/{client_order_id}")
        assert response.status_code == 404, response.text


@pytest.fixture
def locked_server(tmp_path: Path) -> Iterator[Server]:
    """A server whose engine gives up on a locked database after 0.5 s (well inside the
    heartbeats, so that the web hears the engine's answer rather than losing the link)."""
    config = write_config(tmp_path)
    with_settings(config, "database", busy_timeout_ms=500)
    with_settings(config, "engine", heartbeat_ms=1000)
    server = start_server(config)
    yield server
    assert server.stop() == 0


def test_a_locked_database_refuses_the_order_then_the_restarted_engine_takes_it(
    locked_server: Server, tmp_path: Path
) -> None:
    server = locked_server
    token = server.login()
    with server.client(token) as client:
        before = client.post(ORDERS, json=order_body(new_client_id()))
        assert before.status_code == 201, before.text

    client_order_id = new_client_id()
    database = tmp_path / "data" / "tradebridge.db"
    holder = sqlite3.connect(database, isolation_level=None)
    try:
        holder.execute("BEGIN EXCLUSIVE")  # another program holds the write lock
        with server.client(token) as client:
            refused = client.post(ORDERS, json=order_body(client_order_id))
        assert_journal_failure(refused, "database is locked")
        rows = holder.execute(
            "SELECT count(*) FROM orders WHERE client_order_id = ?", (client_order_id,)
        ).fetchone()
        assert rows == (0,)
        wait_until(lambda: JOURNAL_FAILED in server.output(), "the engine to exit", server.output)
    finally:
        holder.rollback()
        holder.close()
    assert "CRITICAL" in server.output()

    wait_healthy(server, timeout=WAIT_S)
    assert_not_recorded(server, token, client_order_id)
    assert_placed_once(server, token, client_order_id)
    with server.client(token) as client:
        kept = client.get(f"{ORDERS}/{before.json()['id']}")
        assert kept.status_code == 200


def fill_up(directory: Path) -> Path:
    """Write a file into `directory` until its file system has no room left; the file."""
    filler = directory / "filler"
    with filler.open("wb", buffering=0) as sink:
        for size in (1 << 20, 1 << 12):
            block = b"\0" * size
            with pytest.raises(OSError, match="No space left on device"):  # noqa: PT012
                while True:  # ends only by the error
                    sink.write(block)
    return filler


@pytest.fixture
def server_on_small_disk(tmp_path: Path) -> Iterator[tuple[Server, Path]]:
    """A server whose data dir is an 8 MiB file system of its own; the data dir as the test
    process reaches it."""
    config = write_config(tmp_path)
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    server = start_serve(config, prefix=on_small_disk(data_dir, "8m"))
    yield server, Path(f"/proc/{server.process.pid}/root{data_dir}")
    assert server.stop() == 0


def test_a_full_disk_refuses_the_order_then_the_restarted_engine_takes_it(
    server_on_small_disk: tuple[Server, Path],
) -> None:
    server, data_dir = server_on_small_disk
    token = server.login()
    with server.client(token) as client:
        assert client.post(ORDERS, json=order_body(new_client_id())).status_code == 201
        filler = fill_up(data_dir)
        # The log file SQLite writes ahead may still have room from earlier writes: place
        # orders until one needs more.
        acked: dict[str, str] = {}
        for _ in range(5000):
            client_order_id = new_client_id()
            response = client.post(ORDERS, json=order_body(client_order_id))
            if response.status_code != 201:
                break
            acked[client_order_id] = response.json()["id"]
    assert_journal_failure(response, "database or disk is full")
    wait_until(lambda: JOURNAL_FAILED in server.output(), "the engine to exit", server.output)

    filler.unlink()
    wait_healthy(server, timeout=WAIT_S)
    assert_not_recorded(server, token, client_order_id)
    with server.client(token) as client:
        for acked_id, order_id in acked.items():
            stored = client.get(f"{ORDERS}:by_client_id/{acked_id}")
            assert stored.status_code == 200, stored.text
            assert stored.json()["id"] == order_id
    assert_placed_once(server, token, client_order_id)


def unopenable_sqlite(tmp_path: Path) -> str:
    """A SQLite URL whose directory cannot be created: a file is in the way."""
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    return f"sqlite:///{blocker / 'db' / 'tradebridge.db'}"


def closed_postgresql(tmp_path: Path) -> str:
    """A PostgreSQL URL with a password, on a port nobody listens on."""
    return f"postgresql+psycopg://trader:s3cret-pw@127.0.0.1:{free_port()}/tradebridge"


UNREACHABLE = {
    "sqlite": (unopenable_sqlite, "Not a directory"),
    "postgresql": (closed_postgresql, "Connection refused"),
}


@pytest.mark.parametrize("kind", sorted(UNREACHABLE))
@pytest.mark.parametrize("command", [("engine",), ("db", "upgrade")])
def test_an_unreachable_database_is_named_in_one_line_and_exits_69(
    tmp_path: Path, kind: str, command: tuple[str, ...]
) -> None:
    make_url, reason = UNREACHABLE[kind]
    url = make_url(tmp_path)
    config = write_config(tmp_path, database_url=url)
    result = subprocess.run(
        tradebridge_command(*command, "--config", str(config)),
        capture_output=True,
        text=True,
        timeout=WAIT_S,
        env={**os.environ, "TRADEBRIDGE_ADMIN_PASSWORD": ADMIN_PASSWORD},
    )
    assert result.returncode == 69, result.stderr
    shown = url.replace("s3cret-pw", "***")
    lines = [line for line in result.stderr.splitlines() if "cannot open the database" in line]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"error: cannot open the database {shown}: ")
    assert reason in lines[0]
    assert "s3cret-pw" not in result.stdout + result.stderr
    assert "Traceback" not in result.stderr


def assert_answers_503(server: Server) -> None:
    with server.client("any-token") as client:
        response = client.get("/api/v1/accounts")
        health = client.get("/api/v1/health")
    assert response.status_code == 503, response.text
    assert response.json()["error"] == {
        "code": "engine_unavailable",
        "message": "the database cannot be reached; try again shortly",
        "details": {},
    }
    assert health.status_code == 200
    assert health.json()["status"] == "degraded"


def wait_for_retries(server: Server) -> None:
    """Until the engine has failed twice and the web runs, saying why it waits."""
    wait_until(
        lambda: (
            server.output().count(DATABASE_UNAVAILABLE) >= 2
            and "answering 503 until it can be opened" in server.output()
            and "Application startup complete." in server.output()
        ),
        "the engine to be restarted after failing to open the database",
        server.output,
    )


@pytest.fixture
def unhealthy_serve(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Server]:
    """`tradebridge serve` on the database URL `request.param` builds from tmp_path."""
    make_url, _ = UNREACHABLE[request.param]
    config = write_config(tmp_path, database_url=make_url(tmp_path))
    server = start_serve(config, healthy=False)
    yield server
    assert server.stop() == 0


@pytest.mark.parametrize("unhealthy_serve", ["postgresql"], indirect=True)
def test_serve_retries_an_unreachable_postgresql_and_answers_503(
    unhealthy_serve: Server,
) -> None:
    server = unhealthy_serve
    wait_for_retries(server)
    assert_answers_503(server)
    assert "s3cret-pw" not in server.output()
    # Restarted with a growing delay, each time saying why.
    assert f"{DATABASE_UNAVAILABLE} (the database could not be opened); restarting in 0.5 s" in (
        server.output()
    )
    assert f"{DATABASE_UNAVAILABLE} (the database could not be opened); restarting in 1.0 s" in (
        server.output()
    )


@pytest.mark.parametrize("unhealthy_serve", ["sqlite"], indirect=True)
@pytest.mark.anyio
async def test_serve_retries_an_unopenable_sqlite_file_and_recovers_by_itself(
    unhealthy_serve: Server, tmp_path: Path
) -> None:
    server = unhealthy_serve
    wait_for_retries(server)
    assert_answers_503(server)
    url = server.base_url.replace("http://", "ws://") + "/api/v1/stream"
    async with websockets.connect(url) as ws:
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await ws.recv()
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1013

    (tmp_path / "not-a-directory").unlink()  # now the directory can be created
    wait_healthy(server, timeout=WAIT_S)

    def logged_in() -> bool:
        with server.client() as client:
            form = {"username": "admin", "password": ADMIN_PASSWORD}
            return client.post("/api/v1/auth/token", data=form).status_code == 200

    wait_until(logged_in, "the web to open the database", server.output)
    assert_placed_once(server, server.login(), new_client_id())


def test_a_lost_postgresql_connection_refuses_the_order_then_the_restarted_engine_takes_it(
    tmp_path: Path, postgres_url: str, postgres_admin_url: str
) -> None:
    import psycopg

    server = start_server(write_config(tmp_path, database_url=postgres_url))
    try:
        token = server.login()
        with server.client(token) as client:
            assert client.post(ORDERS, json=order_body(new_client_id())).status_code == 201
        # The database server ends every connection to the database (a restart, a failover).
        database = postgres_url.rsplit("/", 1)[1]
        with psycopg.connect(postgres_admin_url, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                (database,),
            )
        client_order_id = new_client_id()
        with server.client(token) as client:
            refused = client.post(ORDERS, json=order_body(client_order_id))
        assert refused.status_code == 503, refused.text
        error = refused.json()["error"]
        assert error["code"] == "engine_unavailable"
        assert error["message"].startswith("the order journal could not be written (")
        assert error["details"]["reason"] == "journal_failed"
        wait_until(lambda: JOURNAL_FAILED in server.output(), "the engine to exit", server.output)

        wait_healthy(server, timeout=WAIT_S)
        assert_not_recorded(server, token, client_order_id)
        assert_placed_once(server, token, client_order_id)
    finally:
        assert server.stop() == 0
