"""The `[accounts.longport]` table: secrets only from owner-only files, one app key."""

from pathlib import Path

import pytest
from pydantic import ValidationError

from tradebridge.brokers.longport.config import LongportSettings


def secret(directory: Path, name: str, mode: int = 0o600) -> Path:
    path = directory / name
    path.write_text("value\n")
    path.chmod(mode)
    return path


def test_the_app_key_is_given_once_inline_or_as_a_file(tmp_path: Path) -> None:
    files = {
        "app_secret_file": secret(tmp_path, "secret"),
        "access_token_file": secret(tmp_path, "token"),
    }
    assert LongportSettings(app_key="k", **files).app_key == "k"
    assert LongportSettings(app_key_file=secret(tmp_path, "key"), **files).app_key == ""
    for both_or_none in ({}, {"app_key": "k", "app_key_file": tmp_path / "key"}):
        with pytest.raises(ValidationError, match="app_key or as app_key_file"):
            LongportSettings(**files, **both_or_none)


def test_a_secret_file_others_can_read_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="secret"):
        LongportSettings(
            app_key="k",
            app_secret_file=secret(tmp_path, "secret", 0o644),
            access_token_file=secret(tmp_path, "token"),
        )
