"""The `tradebridge` command line."""

import asyncio
import getpass
import logging
import os
import shlex
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.exc import IntegrityError

from tradebridge.cli_help import show_flags_without_type
from tradebridge.config import ConfigError, Settings, load_settings
from tradebridge.exits import ExitStatus
from tradebridge.logs import configure_logging
from tradebridge.store.failures import DATABASE_ERRORS, DatabaseUnavailable

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from tradebridge.bootstrap import Prepared

log = logging.getLogger(__name__)

show_flags_without_type()
app = typer.Typer(
    no_args_is_help=True, add_completion=False, help="tradebridge: a self-hosted trading gateway."
)
user_app = typer.Typer(no_args_is_help=True, help="Manage users.")
key_app = typer.Typer(no_args_is_help=True, help="Manage API keys.")
db_app = typer.Typer(no_args_is_help=True, help="Database schema.")
secret_app = typer.Typer(no_args_is_help=True, help="The JWT signing secret.")
app.add_typer(user_app, name="user")
app.add_typer(key_app, name="key")
app.add_typer(secret_app, name="secret")
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
        console.print(f"[red]error:[/red] {exc}", markup=True, highlight=False, soft_wrap=True)
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
    from tradebridge.rpc.link import private_addresses, serve_addresses
    from tradebridge.supervisor import Child, Supervisor, child_command

    settings = _settings(config, data_dir, host, port)
    # Loopback ports for the children where the private ipc:// sockets cannot be used; the
    # keys are made here, before the children start, so that they find them both.
    link = serve_addresses(settings)
    engine_settings = settings.engine.model_copy(update=link)
    _check_engine_link(
        settings.model_copy(update={"engine": engine_settings}), engine=True, web=True
    )
    _check_listen_address(settings)
    configure_logging("serve", settings.log_level)
    if link:
        log.info(
            "engine link on loopback ports: %s (%s)",
            ", ".join(link.values()),
            private_addresses(settings.data_dir),
        )
    try:
        prepared: Prepared | None = _prepare(settings)
    except DatabaseUnavailable as exc:
        # Keep going: the engine retries with backoff, the web answers 503 meanwhile.
        log.error("%s; starting anyway, the engine tries again until it can", exc)
        prepared = None
    common = _passthrough(config, data_dir)
    web_args = [*common, "--host", settings.server.host, "--port", str(settings.server.port)]
    env = os.environ | {f"TRADEBRIDGE_{name.upper()}": address for name, address in link.items()}
    supervisor = Supervisor(
        [
            Child("engine", child_command("engine", common), env),
            Child("web", child_command("web", web_args), env),
        ]
    )

    url = f"http://{settings.server.host}:{settings.server.port}"

    def announce_when_ready() -> None:
        """Last, once the server answers, so that no start-up log line pushes it away: the
        URL and, on a first run, the admin password."""
        _wait_until_answering(settings)
        Console().print(
            f"tradebridge is ready on {url}  (API docs at {url}/docs)",
            highlight=False,
            soft_wrap=True,
        )
        if prepared is not None:
            announce_admin_password(prepared, settings, _cli_options(common))

    def announce() -> None:
        Console().print(f"tradebridge is starting on {url}", highlight=False)
        threading.Thread(target=announce_when_ready, name="announce", daemon=True).start()

    raise typer.Exit(supervisor.run(on_started=announce))


READY_WAIT_S = 120.0
"""How long `serve` waits for its engine and web to answer before it prints the first-run
password anyway."""


def _wait_until_answering(settings: Settings) -> None:
    """Return once `/api/v1/health` says the engine answers through the web (or after
    `READY_WAIT_S`, so the password is never held back by a broker that is down)."""
    import httpx

    logging.getLogger("httpx").setLevel(logging.WARNING)  # no line per poll
    host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(
        settings.server.host, settings.server.host
    )
    health = f"http://{'[' + host + ']' if ':' in host else host}:{settings.server.port}"
    deadline = time.monotonic() + READY_WAIT_S
    while time.monotonic() < deadline:
        try:
            answer = httpx.get(health + "/api/v1/health", timeout=1.0)
            if answer.status_code == 200 and answer.json()["engines"][0]["status"] == "up":
                time.sleep(0.3)  # the engine's line about the web's link comes just after
                return
        except (httpx.HTTPError, ValueError, LookupError, TypeError):
            pass
        time.sleep(0.25)


def _cli_options(args: list[str]) -> str:
    """`args` as they would be typed in a shell."""
    return " ".join(shlex.quote(arg) for arg in args)


@app.command()
def engine(config: ConfigOption = None, data_dir: DataDirOption = None) -> None:
    """Run the engine process alone: accounts, OMS, journal, broker adapters.

    Exit status: 0 after SIGTERM/SIGINT, 2 if the configuration cannot be used (an engine
    address that cannot be bound included), 69 if the database cannot be opened, 74 if the
    order journal could not be written (restart it: it recovers from the database).
    """
    import zmq.asyncio

    from tradebridge.bootstrap import announce_admin_password
    from tradebridge.engine.main import run_engine

    settings = _settings(config, data_dir)
    _check_engine_link(settings, engine=True)
    configure_logging("engine", settings.log_level)
    try:
        announce_admin_password(
            _prepare(settings), settings, _cli_options(_passthrough(config, data_dir))
        )
        asyncio.set_event_loop_policy(_event_loop_policy())
        status = asyncio.run(run_engine(settings))
    except DatabaseUnavailable as exc:
        _exit_database_unavailable(exc)
    except ConfigError as exc:  # an address that cannot be bound
        _fail(str(exc), ExitStatus.USAGE)
    # Answers still queued on the closed RPC socket go out before the process ends.
    zmq.asyncio.Context.instance().destroy(linger=0)
    raise typer.Exit(status)


@app.command()
def web(
    config: ConfigOption = None,
    host: HostOption = None,
    port: PortOption = None,
    data_dir: DataDirOption = None,
    workers: Annotated[
        int | None, typer.Option(help="Worker processes (default: one per CPU but the engine's).")
    ] = None,
) -> None:
    """Run the web process alone: REST API in front of an engine.

    Exit status: 0 after SIGTERM/SIGINT, once requests in progress are answered. A database
    that cannot be opened does not stop it: it answers 503 and tries again.
    """
    import uvicorn

    from tradebridge.api.server_protocol import GuardedHttpProtocol, GuardedWebSocketProtocol
    from tradebridge.api.stream.messages import MAX_CLIENT_MESSAGE
    from tradebridge.bootstrap import announce_admin_password

    settings = _settings(config, data_dir, host, port, workers)
    _check_engine_link(settings, web=True)
    _check_listen_address(settings)
    configure_logging("web", settings.log_level)
    # Schema and first-run set-up here, once, rather than racing in every worker.
    try:
        announce_admin_password(
            _prepare(settings), settings, _cli_options(_passthrough(config, data_dir))
        )
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
        http=GuardedHttpProtocol,
        ws=GuardedWebSocketProtocol,
        # A larger client message is refused (closed 1009) before it is buffered.
        ws_max_size=MAX_CLIENT_MESSAGE,
        # Forwarded headers are read by the app, from `trusted_proxies` only (uvicorn's own
        # middleware would believe any process on this host, or $FORWARDED_ALLOW_IPS).
        proxy_headers=False,
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


@contextmanager
def _users_db(config: Path | None, data_dir: Path | None) -> Iterator["Engine"]:
    """The database of users and keys, prepared as on a first run (whose random admin
    password is then printed), closed afterwards."""
    from tradebridge.bootstrap import announce_admin_password, prepare

    settings = _settings(config, data_dir)
    prepared = prepare(settings)
    try:
        announce_admin_password(prepared, settings, _cli_options(_passthrough(config, data_dir)))
        yield prepared.db
    finally:
        prepared.db.dispose()


def _fail(message: str, status: int = 2) -> NoReturn:
    console.print(f"error: {message}", markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(status)


def _table_console() -> Console:
    """Standard output for tables: as wide as the terminal, or wide enough when piped."""
    return Console() if sys.stdout.isatty() else Console(width=200)


def _when(value: datetime | None) -> str:
    return value.isoformat(timespec="seconds") if value is not None else ""


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
    from tradebridge.store import users

    try:
        parsed_role = Role(role)
    except ValueError:
        _fail(f"role must be one of viewer, trader, admin (got {role!r})")
    secret = _checked_password(password if password is not None else _read_password())
    with _users_db(config, data_dir) as db:
        try:
            with db.begin() as conn:
                users.add_user(conn, name, hash_password(secret), parsed_role.value)
        except IntegrityError:
            _fail(f"user {name!r} already exists", 1)
    typer.echo(f"added user {name} ({parsed_role.value})")


@user_app.command("list")
def user_list(config: ConfigOption = None, data_dir: DataDirOption = None) -> None:
    """List the users: name, role, when created."""
    from tradebridge.store import users

    with _users_db(config, data_dir) as db, db.connect() as conn:
        listed = users.list_users(conn)
    table = Table("name", "role", "created")
    for user in listed:
        table.add_row(user.username, user.role, _when(user.created_at))
    _table_console().print(table)


@user_app.command("passwd")
def user_passwd(
    name: str,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the new password from stdin.")
    ] = False,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Set a user's password (asked twice on a terminal).

    The user's login tokens stop working within seconds; their API keys keep working."""
    from tradebridge.api.security import hash_password
    from tradebridge.store import users

    secret = _checked_password(
        sys.stdin.readline().rstrip("\n") if password_stdin else _read_password()
    )
    with _users_db(config, data_dir) as db, db.begin() as conn:
        if not users.set_password(conn, name, hash_password(secret)):
            _fail(f"no user {name!r}", 1)
    typer.echo(f"password of {name} changed; their login tokens are no longer accepted")


@user_app.command("remove")
def user_remove(name: str, config: ConfigOption = None, data_dir: DataDirOption = None) -> None:
    """Remove a user and their API keys (never the last admin).

    Their tokens and keys stop working within seconds."""
    from tradebridge.store import users

    with _users_db(config, data_dir) as db, db.begin() as conn:
        keys = len(users.list_api_keys(conn, name))
        outcome = users.remove_user(conn, name)
    if outcome is users.Removal.NO_SUCH_USER:
        _fail(f"no user {name!r}", 1)
    if outcome is users.Removal.LAST_ADMIN:
        _fail(f"{name!r} is the last admin; add another admin first", 1)
    typer.echo(f"removed user {name} and their {keys} API key(s)")


def _read_password() -> str:
    if sys.stdin.isatty():
        first = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != first:
            _fail("the passwords differ")
        return first
    return sys.stdin.readline().rstrip("\n")


def _checked_password(password: str) -> str:
    """Any non-empty password, a short one with a warning."""
    if not password:
        _fail("the password must not be empty")
    if len(password) < 12:
        console.print("warning: this password is short; 12 characters or more are advised")
    return password


@key_app.command("create")
def key_create(
    user: Annotated[str, typer.Option(help="Owner of the key.")],
    scopes: Annotated[str, typer.Option(help="Comma-separated: read, trade, admin.")] = "read",
    account: Annotated[str | None, typer.Option(help="Bind the key to one account.")] = None,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Create an API key; it is printed once, alone on the last line.

    Its scopes must be allowed by the user's role (viewer: read; trader: read, trade; admin:
    any)."""
    from tradebridge.api.key_issue import issue_api_key
    from tradebridge.api.security import Scope
    from tradebridge.domain.errors import ValidationFailed

    wanted = sorted({s.strip() for s in scopes.split(",") if s.strip()})
    if not wanted or any(s not in Scope._value2member_map_ for s in wanted):
        _fail(f"scopes must be among read, trade, admin (got {scopes!r})")
    if account is not None and _settings(config, data_dir).account(account) is None:
        _fail(f"no account {account!r} in the configuration")
    with _users_db(config, data_dir) as db, db.begin() as conn:
        try:
            minted, _ = issue_api_key(conn, user, [Scope(s) for s in wanted], account)
        except ValidationFailed as refused:
            _fail(refused.message)
    typer.echo(
        f"API key {minted.id} for {user} (scopes {','.join(wanted)}"
        f"{', account ' + account if account else ''}); it is shown only this once:"
    )
    typer.echo(minted.key)


@key_app.command("list")
def key_list(
    user: Annotated[str | None, typer.Option(help="Only this user's keys.")] = None,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """List API keys (revoked ones too): id, owner, prefix, scopes, account, times.

    Never the keys themselves, which are not kept."""
    from tradebridge.store import users

    with _users_db(config, data_dir) as db, db.connect() as conn:
        listed = users.list_api_keys(conn, user)
    table = Table("id", "user", "prefix", "scopes", "account", "created", "revoked")
    for key in listed:
        table.add_row(
            key.id,
            key.username,
            key.prefix,
            ",".join(key.scopes),
            key.account or "",
            _when(key.created_at),
            _when(key.revoked_at),
        )
    _table_console().print(table)


@key_app.command("revoke")
def key_revoke(
    id_or_prefix: Annotated[str, typer.Argument(metavar="ID_OR_PREFIX")],
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Revoke an API key, named by its id or its prefix (as `key list` shows them).

    It stops working within seconds, also in a running server."""
    from tradebridge.store import users

    with _users_db(config, data_dir) as db, db.begin() as conn:
        found = users.find_api_keys(conn, id_or_prefix)
        if not found:
            _fail(f"no key with id or prefix {id_or_prefix!r}", 1)
        if len(found) > 1:
            _fail(f"{len(found)} keys start with {id_or_prefix!r}; give its id", 1)
        users.revoke_api_key(conn, found[0].id)
    typer.echo(f"revoked key {found[0].id} ({found[0].prefix}…) of {found[0].username}")


@secret_app.command("rotate")
def secret_rotate(config: ConfigOption = None, data_dir: DataDirOption = None) -> None:
    """Replace the JWT signing secret of the data dir: earlier login tokens stop working.

    Running web workers notice within a second. API keys are not affected."""
    from tradebridge.api.security import rotate_secret
    from tradebridge.bootstrap import secret_path

    settings = _settings(config, data_dir)
    if settings.auth.jwt_secret is not None:
        _fail(
            "the secret is set by the configuration ([auth] jwt_secret or "
            "TRADEBRIDGE_JWT_SECRET); change it there and restart the web processes"
        )
    rotate_secret(secret_path(settings))
    typer.echo(f"new JWT signing secret in {secret_path(settings)}; earlier tokens are refused")


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


def _check_engine_link(settings: Settings, *, engine: bool = False, web: bool = False) -> None:
    """Exit with status 2 unless the engine link's addresses and keys this process needs can
    be used (the data dir's keys are made here if they are the ones to use and missing)."""
    from tradebridge.rpc.link import engine_end, web_end

    try:
        if engine:
            engine_end(settings)
        if web:
            web_end(settings)
    except (ConfigError, OSError) as exc:
        _fail(str(exc), ExitStatus.USAGE)


def _check_listen_address(settings: Settings) -> None:
    """Exit with status 2, in one line, if the web's address cannot be listened on (rather
    than let the server fail later with a traceback, and be restarted for nothing)."""
    import socket

    host, port = settings.server.host, settings.server.port
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        family, kind, proto, _, address = infos[0]
        with socket.socket(family, kind, proto) as probe:
            if sys.platform != "win32":  # as uvicorn binds it; on Windows it would share
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(address)
    except OSError as exc:
        _fail(f"server.host/server.port: cannot listen on {host}:{port}: {exc.strerror}", 2)


@app.command("rpc-keys")
def rpc_keys(
    directory: Annotated[
        Path | None,
        typer.Option("--dir", help="Where to write the keys; default: <data dir>/curve."),
    ] = None,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Make CURVE key pairs for the engine link and say which file goes where.

    One pair for the engine, one for the web. Secret keys are never printed."""
    import json

    from tradebridge.rpc.curve import create_key_pairs

    if directory is None:
        directory = _settings(config, data_dir).data_dir / "curve"
    try:
        keys = create_key_pairs(directory.absolute())
    except FileExistsError as exc:
        console.print(
            f"error: {exc}; keys in use are never replaced: pick another --dir",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(1) from None

    def setting(name: str, path: Path) -> str:
        return f"  {name} = {json.dumps(str(path), ensure_ascii=False)}"  # a TOML string

    lines = [
        f"CURVE keys for the engine link written to {directory.absolute()}",
        "(*.key_secret files are readable by their owner only; never share them):",
        f"  {keys.engine_secret.name:<19} the engine's key pair: stays on the engine host",
        f"  {keys.engine_public.name:<19} the engine's public key: copy it to every web host",
        f"  {keys.web_secret.name:<19} the web's key pair: copy it to the web hosts only",
        f"  {keys.web_public.name:<19} the web's public key",
        f"  {keys.authorized_dir.name + '/':<19} the web public keys the engine admits "
        f"(holds {keys.web_public.name}; add another web's .key here to admit it too)",
        "",
        "On the engine host, in the [engine] section of its config:",
        setting("curve_secret_key", keys.engine_secret),
        setting("curve_authorized_keys", keys.authorized_dir),
        "On each web host, in the [engine] section of its config:",
        setting("curve_server_key", keys.engine_public),
        setting("curve_client_secret_key", keys.web_secret),
        "",
        "Engine and web on one host (tradebridge serve): put all four lines in its config.",
        "On another host: write the paths where the copied files are.",
    ]
    typer.echo("\n".join(lines))


def _register_more() -> None:
    from tradebridge import cli_strategy, cli_trade

    cli_trade.register(app)
    cli_strategy.register(app)


_register_more()


def main() -> None:
    app()
