"""Exit statuses of the tradebridge processes, and what each tells whoever restarts them.

The numbers for the database follow BSD's sysexits.h, which service managers know.
"""

import signal
from enum import IntEnum


class ExitStatus(IntEnum):
    OK = 0
    """Stopped on request (SIGTERM, SIGINT) after finishing its work."""
    CRASHED = 1
    """An unexpected error; the log has the traceback."""
    USAGE = 2
    """The command line or the configuration cannot be used; fix it before starting again."""
    DATABASE_UNAVAILABLE = 69
    """The database could not be opened at start (unreachable, no permission, bad path)."""
    JOURNAL_FAILED = 74
    """The order journal could not be written (database locked, disk full, connection lost):
    the engine stopped so that a restart rebuilds its state from the database."""


_MEANINGS = {
    ExitStatus.CRASHED: "an unexpected error",
    ExitStatus.USAGE: "unusable command line or configuration",
    ExitStatus.DATABASE_UNAVAILABLE: "the database could not be opened",
    ExitStatus.JOURNAL_FAILED: "the order journal could not be written; "
    "the engine recovers from the database on restart",
}


def describe_exit(code: int) -> str:
    """`code` as a subprocess reports it (negative: killed by that signal), in words."""
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    try:
        meaning = _MEANINGS.get(ExitStatus(code))
    except ValueError:
        meaning = None
    return f"exited with status {code}" + (f" ({meaning})" if meaning else "")
