"""Logging set-up for the processes: one line per record, named by process role."""

import logging


def configure_logging(role: str, level: str) -> None:
    logging.basicConfig(
        level=level.upper(),
        format=f"%(asctime)s %(levelname)-7s [{role}] %(name)s: %(message)s",
        force=True,
    )
    # Alembic announces every migration step at INFO; only problems are worth a line.
    logging.getLogger("alembic").setLevel(logging.WARNING)
