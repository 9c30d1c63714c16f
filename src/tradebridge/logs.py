"""Logging set-up for the processes: one line per record, named by process role.

The web writes a line per request (the access log), so a record's cost counts: the time of day
is formatted once per second rather than per record, and `logging` is told not to look up
what the format never shows (the caller's source line, thread and process names; see
"Optimization" in the logging HOWTO).
"""

import logging
import time


class _Formatter(logging.Formatter):
    """`logging.Formatter` with the default time format, built once per second."""

    def __init__(self, fmt: str) -> None:
        super().__init__(fmt)
        self._second = -1
        self._second_text = ""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802 - logging's name
        second = int(record.created)
        if second != self._second:
            self._second = second
            self._second_text = time.strftime(self.default_time_format, self.converter(second))
        return f"{self._second_text},{int(record.msecs):03d}"


def configure_logging(role: str, level: str) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(_Formatter(f"%(asctime)s %(levelname)-7s [{role}] %(name)s: %(message)s"))
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)
    logging._srcfile = None  # no caller look-up per record
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    # Alembic announces every migration step at INFO; only problems are worth a line.
    logging.getLogger("alembic").setLevel(logging.WARNING)
