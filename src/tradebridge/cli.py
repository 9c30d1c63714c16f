"""The `tradebridge` command line."""

import asyncio
import getpass
import logging
import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console
from sqlalchemy.exc import IntegrityError

from tradebridge.config import ConfigError, Settings, load_settings
from tradebridge.exits import ExitStatus
from tradebridge.logs import configure_logging
from tradebridge.store.failures import DATABASE_ERRORS, DatabaseUnavailable

if TYPE_CHECKING:
    from tradebridge.bootstrap import Prepared

log = logging.getLogger(__name__)

app = typer.Typer(
    no_args_is_help=True, add_completion=False, help="tradebridge: a self-hosted trading gateway."
)
user_app = typer.Typer(no_args_is_help=True, help="Manage users.")
key_app = typer.Typer(no_args_is_help=True, help="Manage API keys.")
db_app = typer.Typer(no_args_is_help=True, help="Database schema.")
app.add_typer(user_app, name="user")
app.add_typer(key_app, name="key")
app.add_typer(db_app, name="db")

console = Console(stderr=True)

ConfigOption = Annotated[
    Path | None, typer.Option("--config", help="TOML config file.", envvar="TRADEBRIDGE_CONFIG")
]
DataDirOption = Annotated[Path | None, typer.Option("--data-dir", help="Data directory.")]
HostOption = Annotated[str | None, typer.Option("--host", help="Address to listen on.")]
PortOption = Annotated[int | None, typer.Option("--port", help="Port to listen on.")]


def _settings(
    config: Path | None,
    data_dir: Path | None = None,
    host: str | None = None,
    port: int | None = None,
    workers: int | None = None,
) -> Settings:
    overrides: dict[str, Any] = {}
    if data_dir is not None:
        overrides["data_dir"] = data_dir
    server = {
        k: v for k, v in {"host": host, "port": port, "workers": workers}.items() if v is not None
    }
    if server:
        overrides["server"] = server
    try:
        return load_settings(config, overrides)
    except ConfigError as exc:
        console.print(f"[red]error:[/red] {exc}", markup=True, highlight=False)
        raise typer.Exit(2) from None


def _passthrough(config: Path | None, data_dir: Path | None) -> list[str]:
    args = []
    if config is not None:
        args += ["--config", str(config)]
    if data_dir is not None:
        args += ["--data-dir", str(data_dir)]
    return args


@app.command()
def serve(
    config: ConfigOption = None,
    host: HostOption = None,
    port: PortOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Start one engine and one web process on this machine and keep them running."""
    from tradebridge.bootstrap import announce_admin_password
    from tradebridge.supervisor import Child, Supervisor, child_command

    settings = _settings(config, data_dir, host, port)
    configure_logging("serve", settings.log_level)
    try:
        prepared: Prepared | None = _prepare(settings)
    except DatabaseUnavailable as exc:
        # Keep going: the engine retries with backoff, the web answers 503 meanwhile.
        log.error("%s; starting anyway, the engine tries again until it can", exc)
        prepared = None
    common = _passthrough(config, data_dir)
    web_args = [*common, "--host", settings.server.host, "--port", str(settings.server.port)]
    supervisor = Supervisor(
        [
            Child("engine", child_command("engine", common)),
            Child("web", child_command("web", web_args)),
        ]
    )

    def announce() -> None:
        out = Console()
        out.print(
            f"tradebridge is starting on http://{settings.server.host}:"
            f"{settings.server.port}  (API docs at /docs)",
            highlight=False,
        )
        if prepared is not None:
            announce_admin_password(prepared)

    raise typer.Exit(supervisor.run(on_started=announce))


@app.command()
def engine(config: ConfigOption = None, data_dir: DataDirOption = None) -> None:
    """Run the engine process alone: accounts, OMS, journal, broker adapters.

    Exit status: 0 after SIGTERM/SIGINT, 69 if the database cannot be opened, 74 if the
    order journal could not be written (restart it: it recovers from the database).
    """
    import zmq.asyncio

    from tradebridge.bootstrap import announce_admin_password
    from tradebridge.engine.main import run_engine

    settings = _settings(config, data_dir)
    configure_logging("engine", settings.log_level)
    try:
        announce_admin_password(_prepare(settings))
        asyncio.set_event_loop_policy(_event_loop_policy())
        status = asyncio.run(run_engine(settings))
    except DatabaseUnavailable as exc:
        _exit_database_unavailable(exc)
    # Answers still queued on the closed RPC socket go out before the process ends.
    zmq.asyncio.Context.instance().destroy(linger=0)
    raise typer.Exit(status)


@app.command()
def web(
    config: ConfigOption = None,
    host: HostOption = None,
    port: PortOption = None,
    data_dir: DataDirOption = None,
    workers: Annotated[int | None, typer.Option(help="Worker processes.")] = None,
) -> None:
    """Run the web process alone: REST API in front of an engine.

    Exit status: 0 after SIGTERM/SIGINT, once requests in progress are answered. A database
    that cannot be opened does not stop it: it answers 503 and tries again.
    """
    import uvicorn

    from tradebridge.bootstrap import announce_admin_password

    settings = _settings(config, data_dir, host, port, workers)
    configure_logging("web", settings.log_level)
    # Schema and first-run set-up here, once, rather than racing in every worker.
    try:
        announce_admin_password(_prepare(settings))
    except DatabaseUnavailable as exc:
        log.error("%s; answering 503 until it can be opened", exc)
    # Workers rebuild the settings from the environment: hand them our options that way.
    if config is not None:
        os.environ["TRADEBRIDGE_CONFIG"] = str(config)
    if data_dir is not None:
        os.environ["TRADEBRIDGE_DATA_DIR"] = str(data_dir)
    os.environ["TRADEBRIDGE_HOST"] = settings.server.host
    os.environ["TRADEBRIDGE_PORT"] = str(settings.server.port)
    signal.signal(signal.SIGTERM, _after_graceful_stop)
    uvicorn.run(
        "tradebridge.api.app:app_from_environment",
        factory=True,
        host=settings.server.host,
        port=settings.server.port,
        workers=settings.server.workers,
        loop="auto",
        http="httptools",
        access_log=False,
        log_level=settings.log_level,
        timeout_graceful_shutdown=10,
    )


def _after_graceful_stop(signum: int, frame: object) -> None:
    """uvicorn answers SIGTERM by stopping gracefully, then restores the previous handler and
    raises the signal again, to end the way an unhandled SIGTERM does (killed, status -15).
    This handler takes that second delivery, so a clean stop exits with status 0."""


def _prepare(settings: Settings) -> "Prepared":
    """First-run set-up and schema upgrade (`bootstrap.prepare`); its database handle closed.

    Raises `DatabaseUnavailable` when the database cannot be opened.
    """
    from tradebridge.bootstrap import prepare

    try:
        prepared = prepare(settings)
    except DATABASE_ERRORS as exc:
        raise DatabaseUnavailable(settings.database_url, exc) from exc
    prepared.db.dispose()
    return prepared


def _exit_database_unavailable(exc: DatabaseUnavailable) -> NoReturn:
    console.print(f"error: {exc}", markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(ExitStatus.DATABASE_UNAVAILABLE)


def _event_loop_policy() -> asyncio.AbstractEventLoopPolicy:
    """uvloop where it exists; on Windows the selector loop, which the RPC sockets need."""
    if sys.platform == "win32":
        return asyncio.WindowsSelectorEventLoopPolicy()  # type: ignore[attr-defined,unused-ignore]
    import uvloop

    policy: asyncio.AbstractEventLoopPolicy = uvloop.EventLoopPolicy()
    return policy


@user_app.command("add")
def user_add(
    name: str,
    role: Annotated[str, typer.Option(help="viewer, trader or admin.")] = "trader",
    password: Annotated[str | None, typer.Option(help="Read from stdin if omitted.")] = None,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Add a user (works while the server runs)."""
    from tradebridge.api.security import Role, hash_password
    from tradebridge.bootstrap import prepare
    from tradebridge.store import users

    try:
        parsed_role = Role(role)
    except ValueError:
        console.print(f"error: role must be one of viewer, trader, admin (got {role!r})")
        raise typer.Exit(2) from None
    secret = password if password is not None else _read_password()
    if not secret:
        console.print("error: the password must not be empty")
        raise typer.Exit(2)
    if len(secret) < 12:
        console.print("warning: this password is short; 12 characters or more are advised")
    prepared = prepare(_settings(config, data_dir))
    try:
        with prepared.db.begin() as conn:
            users.add_user(conn, name, hash_password(secret), parsed_role.value)
    except IntegrityError:
        console.print(f"error: user {name!r} already exists")
        raise typer.Exit(1) from None
    finally:
        prepared.db.dispose()
    typer.echo(f"added user {name} ({parsed_role.value})")


def _read_password() -> str:
    if sys.stdin.isatty():
        first = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != first:
            console.print("error: the passwords differ")
            raise typer.Exit(2)
        return first
    return sys.stdin.readline().rstrip("\n")


@key_app.command("create")
def key_create(
    user: Annotated[str, typer.Option(help="Owner of the key.")],
    scopes: Annotated[str, typer.Option(help="Comma-separated: read, trade, admin.")] = "read",
    account: Annotated[str | None, typer.Option(help="Bind the key to one account.")] = None,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Create an API key; it is printed once, alone on the last line."""
    from tradebridge.api.security import Scope, api_key_hash, new_api_key
    from tradebridge.bootstrap import prepare
    from tradebridge.ids import IdGenerator
    from tradebridge.store import users

    wanted = [s.strip() for s in scopes.split(",") if s.strip()]
    unknown = [s for s in wanted if s not in Scope._value2member_map_]
    if not wanted or unknown:
        console.print(f"error: scopes must be among read, trade, admin (got {scopes!r})")
        raise typer.Exit(2)
    settings = _settings(config, data_dir)
    if account is not None and settings.account(account) is None:
        console.print(f"error: no account {account!r} in the configuration")
        raise typer.Exit(2)
    prepared = prepare(settings)
    try:
        with prepared.db.begin() as conn:
            record = users.get_user(conn, user)
            if record is None:
                console.print(f"error: no user {user!r}")
                raise typer.Exit(2)
            key = new_api_key()
            users.add_api_key(
                conn,
                key_id=IdGenerator().new_id(),
                user_id=record.id,
                key_hash=api_key_hash(key),
                prefix=key[:12],
                scopes=wanted,
                account=account,
            )
    finally:
        prepared.db.dispose()
    typer.echo(
        f"API key for {user} (scopes {','.join(wanted)}"
        f"{', account ' + account if account else ''}); it is shown only this once:"
    )
    typer.echo(key)


@db_app.command("upgrade")
def db_upgrade(config: ConfigOption = None, data_dir: DataDirOption = None) -> None:
    """Bring the database schema up to date (exit status 69 if it cannot be opened)."""
    from tradebridge.store.database import create_db_engine
    from tradebridge.store.migrate import current_revision, upgrade

    settings = _settings(config, data_dir)
    try:
        db = create_db_engine(
            settings.database_url, busy_timeout_ms=settings.database.busy_timeout_ms
        )
        try:
            upgrade(db)
            revision = current_revision(db)
        finally:
            db.dispose()
    except DATABASE_ERRORS as exc:
        _exit_database_unavailable(DatabaseUnavailable(settings.database_url, exc))
    typer.echo(f"database at revision {revision}")


def main() -> None:
    app()
