"""Where each setting comes from: CLI overrides > environment > config file > defaults."""

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from tradebridge.config import ConfigError, load_settings

WriteToml = Callable[..., Path]

FILE = """
data_dir = "/from/file"

[server]
host = "10.0.0.1"
port = 9001
workers = 2

[database]
url = "sqlite:////from/file/db.sqlite"
"""


def test_the_environment_starts_clean() -> None:
    assert not [name for name in os.environ if name.upper().startswith("TRADEBRIDGE_")]


@pytest.mark.parametrize(
    ("layers", "expected"),
    [
        ((), 8000),
        (("file",), 9001),
        (("env",), 9002),
        (("cli",), 9003),
        (("file", "env"), 9002),
        (("file", "cli"), 9003),
        (("env", "cli"), 9003),
        (("file", "env", "cli"), 9003),
    ],
)
def test_port_precedence(
    monkeypatch: pytest.MonkeyPatch,
    write_toml: WriteToml,
    layers: tuple[str, ...],
    expected: int,
) -> None:
    path = write_toml("[server]\nport = 9001\n") if "file" in layers else None
    if "env" in layers:
        monkeypatch.setenv("TRADEBRIDGE_PORT", "9002")
    overrides = {"server": {"port": 9003}} if "cli" in layers else None
    assert load_settings(path, overrides).server.port == expected


@pytest.mark.parametrize(
    ("layers", "expected"),
    [
        ((), "127.0.0.1"),
        (("file",), "10.0.0.1"),
        (("file", "env"), "10.0.0.2"),
        (("file", "env", "cli"), "10.0.0.3"),
        (("env", "cli"), "10.0.0.3"),
    ],
)
def test_host_precedence(
    monkeypatch: pytest.MonkeyPatch,
    write_toml: WriteToml,
    layers: tuple[str, ...],
    expected: str,
) -> None:
    path = write_toml('[server]\nhost = "10.0.0.1"\n') if "file" in layers else None
    if "env" in layers:
        monkeypatch.setenv("TRADEBRIDGE_HOST", "10.0.0.2")
    overrides = {"server": {"host": "10.0.0.3"}} if "cli" in layers else None
    assert load_settings(path, overrides).server.host == expected


@pytest.mark.parametrize(
    ("layers", "expected"),
    [
        ((), ".tradebridge"),
        (("file",), "/from/file"),
        (("file", "env"), "/from/env"),
        (("file", "env", "cli"), "/from/cli"),
    ],
)
def test_data_dir_precedence_and_the_database_url_derived_from_it(
    monkeypatch: pytest.MonkeyPatch,
    write_toml: WriteToml,
    layers: tuple[str, ...],
    expected: str,
) -> None:
    path = write_toml('data_dir = "/from/file"\n') if "file" in layers else None
    if "env" in layers:
        monkeypatch.setenv("TRADEBRIDGE_DATA_DIR", "/from/env")
    overrides = {"data_dir": Path("/from/cli")} if "cli" in layers else None
    settings = load_settings(path, overrides)
    assert settings.data_dir == Path(expected)
    assert settings.database_url == f"sqlite:///{expected}/tradebridge.db"


def test_database_url_from_the_environment_beats_the_file(
    monkeypatch: pytest.MonkeyPatch, write_toml: WriteToml
) -> None:
    path = write_toml(FILE)
    assert load_settings(path).database_url == "sqlite:////from/file/db.sqlite"
    monkeypatch.setenv("TRADEBRIDGE_DATABASE_URL", "postgresql+psycopg://tb@db/tb")
    settings = load_settings(path)
    assert settings.database.url == "postgresql+psycopg://tb@db/tb"
    assert settings.database_url == "postgresql+psycopg://tb@db/tb"
    # and an environment-only database url needs no file
    assert load_settings().database_url == "postgresql+psycopg://tb@db/tb"


def test_nested_environment_variable_sets_one_key_and_keeps_the_rest_of_the_file(
    monkeypatch: pytest.MonkeyPatch, write_toml: WriteToml
) -> None:
    path = write_toml(FILE)
    monkeypatch.setenv("TRADEBRIDGE_SERVER__WORKERS", "4")
    settings = load_settings(path)
    assert settings.server.workers == 4
    assert settings.server.host == "10.0.0.1"
    assert settings.server.port == 9001
    assert load_settings().server.workers == 4


def test_nested_environment_variables_reach_other_sections(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TRADEBRIDGE_ENGINE__RPC_TIMEOUT_MS", "750")
    monkeypatch.setenv("TRADEBRIDGE_COMPAT__VNPY__ENABLED", "true")
    monkeypatch.setenv("TRADEBRIDGE_LOG_LEVEL", "debug")
    settings = load_settings()
    assert settings.engine.rpc_timeout_ms == 750
    assert settings.compat.vnpy.enabled is True
    assert settings.log_level == "debug"


def test_cli_override_of_one_server_key_keeps_the_others(
    monkeypatch: pytest.MonkeyPatch, write_toml: WriteToml
) -> None:
    monkeypatch.setenv("TRADEBRIDGE_SERVER__WORKERS", "3")
    settings = load_settings(write_toml(FILE), {"server": {"port": 9100}})
    assert settings.server.port == 9100
    assert settings.server.host == "10.0.0.1"
    assert settings.server.workers == 3
    assert settings.data_dir == Path("/from/file")


def test_everything_at_once(monkeypatch: pytest.MonkeyPatch, write_toml: WriteToml) -> None:
    monkeypatch.setenv("TRADEBRIDGE_PORT", "9002")
    monkeypatch.setenv("TRADEBRIDGE_SERVER__WORKERS", "5")
    monkeypatch.setenv("TRADEBRIDGE_DATA_DIR", "/from/env")
    settings = load_settings(
        write_toml(FILE), {"server": {"host": "0.0.0.0"}, "data_dir": Path("/from/cli")}
    )
    assert settings.server.host == "0.0.0.0"  # cli
    assert settings.server.port == 9002  # env
    assert settings.server.workers == 5  # nested env
    assert settings.data_dir == Path("/from/cli")  # cli
    assert settings.database.url == "sqlite:////from/file/db.sqlite"  # file


def test_admin_password_comes_from_the_environment_and_stays_secret(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TRADEBRIDGE_ADMIN_PASSWORD", "s3cret-pass")
    settings = load_settings()
    assert settings.admin_password is not None
    assert settings.admin_password.get_secret_value() == "s3cret-pass"
    assert "s3cret-pass" not in repr(settings)


# --- TRADEBRIDGE_CONFIG ----------------------------------------------------------------------


def test_tradebridge_config_names_the_file_when_no_path_is_given(
    monkeypatch: pytest.MonkeyPatch, write_toml: WriteToml
) -> None:
    path = write_toml(FILE)
    monkeypatch.setenv("TRADEBRIDGE_CONFIG", str(path))
    settings = load_settings()
    assert settings.server.port == 9001
    assert settings.data_dir == Path("/from/file")


def test_an_explicit_path_wins_over_tradebridge_config(
    monkeypatch: pytest.MonkeyPatch, write_toml: WriteToml
) -> None:
    monkeypatch.setenv("TRADEBRIDGE_CONFIG", str(write_toml(FILE, "env.toml")))
    chosen = write_toml("[server]\nport = 9555\n", "chosen.toml")
    assert load_settings(chosen).server.port == 9555


def test_tradebridge_config_naming_a_missing_file_is_an_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    missing = tmp_path / "missing.toml"
    monkeypatch.setenv("TRADEBRIDGE_CONFIG", str(missing))
    with pytest.raises(ConfigError, match="does not exist") as caught:
        load_settings()
    assert str(missing) in str(caught.value)


def test_errors_in_a_file_named_by_tradebridge_config_name_that_file(
    monkeypatch: pytest.MonkeyPatch, write_toml: WriteToml
) -> None:
    path = write_toml("[server]\nprot = 1\n")
    monkeypatch.setenv("TRADEBRIDGE_CONFIG", str(path))
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert str(path) in str(caught.value)
    assert "'server.prot'" in str(caught.value)


# --- bad values from the environment or the command line -------------------------------------


@pytest.mark.parametrize(
    ("name", "value", "key"),
    [
        ("TRADEBRIDGE_PORT", "eighty", "server.port"),
        ("TRADEBRIDGE_PORT", "70000", "server.port"),
        ("TRADEBRIDGE_SERVER__WORKERS", "0", "server.workers"),
        ("TRADEBRIDGE_LOG_LEVEL", "loud", "log_level"),
    ],
)
def test_bad_environment_value_is_a_config_error_naming_the_key(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, key: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        load_settings()


def test_bad_cli_override_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"server\.port"):
        load_settings(None, {"server": {"port": 0}})
    with pytest.raises(ConfigError, match=r"unknown key 'server\.prot'"):
        load_settings(None, {"server": {"prot": 1}})


def test_unrelated_tradebridge_variables_do_not_break_loading(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TRADEBRIDGE_SOMETHING_ELSE", "1")
    assert load_settings().server.port == 8000
