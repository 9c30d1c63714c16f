"""The base of every settings section, and setting types shared by the broker folders."""

import stat
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict


class Section(BaseModel):
    """A table of the config file: frozen, and an unknown key is an error naming it."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def _owner_only(path: Path) -> Path:
    """A secret's file must exist and be readable by its owner only (0600 or 0400)."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise ValueError(f"file {path} does not exist") from None
    except OSError as exc:
        raise ValueError(f"file {path} cannot be read: {exc.strerror}") from None
    if not stat.S_ISREG(mode):
        raise ValueError(f"{path} is not a file")
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ValueError(
            f"file {path} is readable by others (mode {stat.S_IMODE(mode):04o}); "
            f"it holds a secret: chmod 600 {path}"
        )
    return path


SecretFile = Annotated[Path, AfterValidator(_owner_only)]
"""A setting ending in `_file` that names a file holding a secret (API.md §7): never inline,
owner-only."""


def read_secret(path: Path) -> str:
    """The secret in `path`, without surrounding whitespace (a trailing newline is common)."""
    return path.read_text(encoding="utf-8").strip()
