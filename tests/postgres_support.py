"""A throwaway PostgreSQL server for the tests, and one fresh database per test inside it.

Used by `tests/conftest.py`, and by `.ci/run` as a script (standard library only, so it runs
before the project is installed):

    python3 -m tests.postgres_support binaries      # where initdb is; exit status 1: nowhere
    python3 -m tests.postgres_support start         # prints the cluster's directory
    python3 -m tests.postgres_support url DIR       # prints its admin URL
    python3 -m tests.postgres_support stop DIR      # stops it and removes DIR

The cluster listens on 127.0.0.1 on a free port with `trust` authentication (it lives only as
long as the test run), keeps its Unix socket inside its own directory and runs with
`fsync = off`. PostgreSQL refuses to run as root, so under root the server runs as the
`postgres` account (or `nobody`) through `runuser` or `setpriv`.
"""

from __future__ import annotations

import glob
import os
import pwd
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

if TYPE_CHECKING:
    import psycopg

ADMIN_URL_ENV = "TRADEBRIDGE_TEST_POSTGRES_URL"
"""An admin URL (`postgresql://user@host:port/postgres`) of a server to use instead of
starting one; the tests create and drop their databases in it."""

SUPERUSER = "postgres"
INSTALL_HINT = (
    "the tests need PostgreSQL's server binaries (initdb, pg_ctl, postgres): install them "
    "(Debian/Ubuntu: `apt-get install postgresql`), put them on PATH, or set "
    f"{ADMIN_URL_ENV} to the admin URL of a running server"
)
SERVER_ACCOUNTS = ("postgres", "nobody")
"""Accounts the server runs as when the tests run as root, in order of preference."""
SETTINGS = {
    "listen_addresses": "'127.0.0.1'",
    "max_connections": "200",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "log_min_messages": "warning",
}
"""Appended to postgresql.conf: loopback only, and no durability (the data is thrown away)."""


class PostgresUnavailable(RuntimeError):
    """No server can be started; the message says what to install or why it failed."""


def binary_dirs() -> list[Path]:
    """Where initdb and pg_ctl are looked for: PATH, /usr/local/bin, then Debian's versioned
    directories, newest first."""
    on_path = [Path(p) for p in os.environ.get("PATH", "").split(os.pathsep) if p]
    versioned = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"),
        key=lambda p: [int(part) for part in re.findall(r"\d+", p)],
        reverse=True,
    )
    return [*on_path, Path("/usr/local/bin"), *map(Path, versioned)]


def find_binaries() -> Path | None:
    """The first directory holding both initdb and pg_ctl, or None."""
    for directory in binary_dirs():
        if all(os.access(directory / name, os.X_OK) for name in ("initdb", "pg_ctl")):
            return directory
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_server_user() -> tuple[list[str], pwd.struct_passwd | None]:
    """The command prefix that runs a program as the server's account, and that account
    (None when the tests do not run as root and the server runs as the current user)."""
    if os.geteuid() != 0:
        return [], None
    account = next((a for a in map(_account, SERVER_ACCOUNTS) if a is not None), None)
    if account is None:
        raise PostgresUnavailable(
            f"running as root, PostgreSQL needs an unprivileged account: none of "
            f"{', '.join(SERVER_ACCOUNTS)} exists"
        )
    if shutil.which("runuser"):
        return ["runuser", "-u", account.pw_name, "--"], account
    if shutil.which("setpriv"):
        ids = [f"--reuid={account.pw_uid}", f"--regid={account.pw_gid}", "--init-groups"]
        return ["setpriv", *ids, "--"], account
    raise PostgresUnavailable("running as root, runuser or setpriv is needed to start PostgreSQL")


def _account(name: str) -> pwd.struct_passwd | None:
    try:
        return pwd.getpwnam(name)
    except KeyError:
        return None


@dataclass(frozen=True)
class Cluster:
    """A PostgreSQL cluster in `directory`: `data/`, `server.log`, the Unix socket and
    `admin_url` (written once the server runs)."""

    directory: Path

    @property
    def data(self) -> Path:
        return self.directory / "data"

    @property
    def log(self) -> Path:
        return self.directory / "server.log"

    @property
    def admin_url(self) -> str:
        return (self.directory / "admin_url").read_text().strip()

    @classmethod
    def start(cls, attempts: int = 3) -> Cluster:
        """initdb into a new temporary directory and start the server on a free port."""
        binaries = find_binaries()
        if binaries is None:
            raise PostgresUnavailable(INSTALL_HINT)
        prefix, account = _as_server_user()
        # Under the system temporary directory, not pytest's (mode 0700, owned by root),
        # so that the server's account can reach it.
        cluster = cls(Path(tempfile.mkdtemp(prefix="tradebridge-pg-")))
        try:
            if account is not None:
                os.chown(cluster.directory, account.pw_uid, account.pw_gid)
            cluster._initdb(prefix, binaries)
            for attempt in range(attempts):
                port = free_port()  # another process may take it before the server does
                if cluster._pg_ctl(prefix, binaries, "start", port=port):
                    break
                if attempt == attempts - 1:
                    raise PostgresUnavailable(f"PostgreSQL did not start:\n{cluster._log()}")
            url = f"postgresql://{SUPERUSER}@127.0.0.1:{port}/postgres"
            (cluster.directory / "admin_url").write_text(url + "\n")
        except BaseException:
            cluster.stop()
            raise
        return cluster

    def stop(self) -> None:
        """Stop the server (if it runs) and remove the cluster's directory."""
        binaries = find_binaries()
        if binaries is not None and (self.data / "postmaster.pid").exists():
            prefix, _ = _as_server_user()
            self._pg_ctl(prefix, binaries, "stop")
        shutil.rmtree(self.directory, ignore_errors=True)

    def _initdb(self, prefix: list[str], binaries: Path) -> None:
        command = [
            *prefix,
            str(binaries / "initdb"),
            f"--pgdata={self.data}",
            f"--username={SUPERUSER}",
            "--auth=trust",
            "--encoding=UTF8",
            "--no-sync",
        ]
        # A natural-language collation where the server supports it (like most production
        # servers), so the tests see what ORDER BY on text does there; else the C locale.
        icu = ["--locale-provider=icu", "--icu-locale=en-US", "--locale=C.UTF-8"]
        for options in (icu, ["--locale=C.UTF-8"], ["--no-locale"]):
            shutil.rmtree(self.data, ignore_errors=True)
            result = self._run([*command, *options])
            if result.returncode == 0:
                break
        else:
            raise PostgresUnavailable(f"initdb failed:\n{result.stdout}")
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(f"unix_socket_directories = '{self.directory}'\n")
            conf.writelines(f"{key} = {value}\n" for key, value in SETTINGS.items())

    def _pg_ctl(self, prefix: list[str], binaries: Path, action: str, port: int = 0) -> bool:
        command = [*prefix, str(binaries / "pg_ctl"), f"--pgdata={self.data}", "--wait"]
        if action == "start":
            command += [f"--log={self.log}", f"--options=-c port={port}", "start"]
        else:
            command += ["--mode=immediate", "stop"]
        return self._run(command).returncode == 0

    def _run(self, command: list[str]) -> subprocess.CompletedProcess[str]:
        # The working directory must be one the server's account can enter.
        return subprocess.run(
            command,
            cwd=self.directory,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=120,
            check=False,
        )

    def _log(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else "(no log)"


def _admin_connection(admin_url: str) -> psycopg.Connection[Any]:
    import psycopg

    libpq_url = re.sub(r"^postgresql\+\w+://", "postgresql://", admin_url)
    return psycopg.connect(libpq_url, autocommit=True)


def create_database(admin_url: str) -> str:
    """Create an empty database with a unique name; returns its SQLAlchemy URL."""
    name = f"tradebridge_test_{uuid.uuid4().hex[:16]}"
    with _admin_connection(admin_url) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    admin = urlsplit(admin_url)
    return urlunsplit(("postgresql+psycopg", admin.netloc, f"/{name}", admin.query, ""))


def drop_database(admin_url: str, database_url: str) -> None:
    """Drop the database of `database_url`, closing its connections first."""
    name = urlsplit(database_url).path.lstrip("/")
    with _admin_connection(admin_url) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main(args: list[str]) -> int:
    match args:
        case ["binaries"]:
            found = find_binaries()
            print(found or INSTALL_HINT, file=sys.stdout if found else sys.stderr)
            return 0 if found else 1
        case ["start"]:
            try:
                print(Cluster.start().directory)
            except PostgresUnavailable as exc:
                print(exc, file=sys.stderr)
                return 1
        case ["url", directory]:
            print(Cluster(Path(directory)).admin_url)
        case ["stop", directory]:
            Cluster(Path(directory)).stop()
        case _:
            print(__doc__, file=sys.stderr)
            return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
