"""Database failures in one line a person can act on: which database, and what went wrong."""

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError

DATABASE_ERRORS: tuple[type[Exception], ...] = (DBAPIError, OSError)
"""What opening or writing the database raises when the database, not the code, is at fault:
the driver's errors (locked, disk full, connection refused) and, for SQLite, the file
system's (a directory that cannot be created)."""

_MAX_REASON = 300


class DatabaseUnavailable(Exception):
    """The database cannot be opened; the message names it (without a password) and why."""

    def __init__(self, url: str, cause: BaseException) -> None:
        self.url = display_url(url)
        self.reason = database_error_reason(cause)
        super().__init__(f"cannot open the database {self.url}: {self.reason}")


def display_url(url: str) -> str:
    """`url` fit for logs and messages: any password is masked."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(unparsable database URL)"


def database_error_reason(error: BaseException) -> str:
    """The driver's or the system's own words, first line only: "database is locked",
    "database or disk is full", "connection refused", "Not a directory: '/x/y'"."""
    cause: BaseException = error
    if isinstance(error, DBAPIError) and error.orig is not None:
        cause = error.orig
    if isinstance(cause, OSError) and cause.strerror:
        text = f"{cause.strerror}: {cause.filename!r}" if cause.filename else cause.strerror
    else:
        text = str(cause).strip()
    first_line = text.splitlines()[0].strip() if text else type(cause).__name__
    if len(first_line) > _MAX_REASON:
        return first_line[: _MAX_REASON - 1] + "…"
    return first_line
