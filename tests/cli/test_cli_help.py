"""The help of every `tradebridge` command, as `--help` prints it."""

import re
from typing import Any

import pytest
import typer.main
from typer.testing import CliRunner

from tradebridge.cli import app

WIDTH = 200
"""Wide enough that no summary is wrapped: a row cut in two is then a summary of two lines."""


def _commands(command: Any, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [path]
    if hasattr(command, "commands"):  # a group (typer's own click: not `click.Group`)
        for name, sub in command.commands.items():
            found += _commands(sub, (*path, name))
    return found


ROOT = typer.main.get_command(app)
COMMANDS = _commands(ROOT)


def _help(path: tuple[str, ...]) -> str:
    result = CliRunner().invoke(
        app, [*path, "--help"], terminal_width=WIDTH, env={"COLUMNS": str(WIDTH)}
    )
    assert result.exit_code == 0, result.output
    return result.output


def _command(path: tuple[str, ...]) -> Any:
    command: Any = ROOT
    for name in path:
        command = command.commands[name]
    return command


def test_every_command_is_listed() -> None:
    assert ("rpc-keys",) in COMMANDS
    assert ("user", "passwd") in COMMANDS
    assert ("strategy", "backtest") in COMMANDS
    assert len(COMMANDS) > 25


@pytest.mark.parametrize("path", COMMANDS, ids=lambda path: " ".join(path) or "tradebridge")
def test_flags_show_no_value(path: tuple[str, ...]) -> None:
    """A flag (`--help`, `--json`, `--all`) takes no value: its row shows none."""
    rows = [line for line in _help(path).splitlines() if "--" in line]
    command = _command(path)
    flags = {
        opt
        for param in command.get_params(command.context_class(command))
        if getattr(param, "is_flag", False)
        for opt in param.opts
    }
    assert "--help" in flags
    for flag in flags:
        row = next(line for line in rows if re.search(rf"{flag}\b", line))
        assert "<bool>" not in row, row
    assert not [line for line in rows if "<bool>" in line]


@pytest.mark.parametrize("path", COMMANDS[1:], ids=lambda path: " ".join(path))
def test_summary_is_one_full_line(path: tuple[str, ...]) -> None:
    """The parent's list of commands shows each one's summary whole, on one line: a
    sentence ending with a full stop."""
    command = _command(path)
    summary = (command.help or "").split("\n\n")[0].strip()
    assert summary, f"{' '.join(path)} has no summary"
    assert "\n" not in summary, f"the summary of {' '.join(path)} spans lines: {summary!r}"
    assert summary.endswith("."), summary
    listing = _help(path[:-1])
    row = next(
        line for line in listing.splitlines() if re.search(rf"│ {re.escape(path[-1])}\s", line)
    )
    assert summary in row, row
