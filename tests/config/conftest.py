"""Config tests start from a clean environment: no TRADEBRIDGE_* variable from outside."""

import os
from collections.abc import Callable
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.upper().startswith("TRADEBRIDGE_"):
            monkeypatch.delenv(name)
    # nothing relative (a stray `.env` or config file) can be picked up from the caller's cwd
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def write_toml(tmp_path: Path) -> Callable[..., Path]:
    def write(text: str, name: str = "tradebridge.toml") -> Path:
        path = tmp_path / "etc" / name
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    return write
