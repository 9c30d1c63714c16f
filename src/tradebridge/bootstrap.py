"""First-run preparation shared by every command: data dir, schema, secret, admin user."""

import logging
import secrets
import sys
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.panel import Panel
from rich.text import Text
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError

from tradebridge.api.security import SECRET_FILE_NAME, Role, SigningSecret, hash_password
from tradebridge.config import Settings
from tradebridge.store import users
from tradebridge.store.database import create_db_engine
from tradebridge.store.failures import display_url
from tradebridge.store.migrate import upgrade

log = logging.getLogger(__name__)

ADMIN_USERNAME = "admin"


@dataclass(frozen=True, slots=True)
class Prepared:
    db: Engine
    jwt_secret: SigningSecret
    generated_admin_password: str | None
    """Set only on the run that created the admin user with a random password."""


def prepare(settings: Settings) -> Prepared:
    """Create what a first run needs; on later runs this only checks the schema is current."""
    # Private: the database holds password and key hashes, the secret file signs tokens.
    settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    db = create_db_engine(
        settings.database_url,
        sqlite_synchronous=settings.database.sqlite_synchronous,
        busy_timeout_ms=settings.database.busy_timeout_ms,
    )
    upgrade(db)
    return Prepared(
        db=db,
        jwt_secret=signing_secret(settings),
        generated_admin_password=_ensure_admin(db, settings),
    )


def signing_secret(settings: Settings) -> SigningSecret:
    """`[auth] jwt_secret` if configured, else the secret file of the data dir (created on
    first use; `tradebridge secret rotate` replaces it)."""
    if settings.auth.jwt_secret is not None:
        return SigningSecret(settings.auth.jwt_secret.get_secret_value())
    return SigningSecret.from_file(secret_path(settings))


def secret_path(settings: Settings) -> Path:
    return settings.data_dir / SECRET_FILE_NAME


def announce_admin_password(prepared: Prepared, settings: Settings, cli_options: str = "") -> None:
    """Print the random password of the admin user this run created, if it did (once: the
    database keeps only its hash), in a box that says how to change it. `cli_options` are
    the `--config`/`--data-dir` options the change command needs to find this database."""
    password = prepared.generated_admin_password
    if not password:
        return
    change = f"tradebridge user passwd {ADMIN_USERNAME}{' ' + cli_options if cli_options else ''}"
    text = Text.assemble(
        f"First run: created user '{ADMIN_USERNAME}' (role admin) with the password\n\n    ",
        (password, "bold"),
        "\n\nShown only this once: only its hash is kept, in the database\n"
        f"{display_url(settings.database_url)}\n"
        "To change it (while the server runs, or not):\n    ",
        change,
    )
    # Wide enough that neither the password nor the command is ever wrapped when piped.
    Console(width=max(100, len(change) + 8), highlight=False).print(
        Panel(text, title="admin password", expand=False)
    )
    sys.stdout.flush()


def _ensure_admin(db: Engine, settings: Settings) -> str | None:
    with db.connect() as conn:
        if users.count_users(conn):
            return None
    configured = settings.admin_password
    password = configured.get_secret_value() if configured else secrets.token_urlsafe(12)
    try:
        with db.begin() as conn:
            users.add_user(conn, ADMIN_USERNAME, hash_password(password), Role.ADMIN.value)
    except IntegrityError:
        return None  # another process created it at the same moment
    log.info("created user %r (role admin)", ADMIN_USERNAME)
    return None if configured else password
