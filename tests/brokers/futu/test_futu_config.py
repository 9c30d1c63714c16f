"""The `[accounts.futu]` table: defaults, and the combinations Futu does not have."""

from pathlib import Path

import pytest

from tradebridge.config import ConfigError, FutuAccount, load_settings


def settings_of(tmp_path: Path, table: str) -> FutuAccount:
    path = tmp_path / "tradebridge.toml"
    path.write_text(f'[[accounts]]\nid = "futu"\nbroker = "futu"\n[accounts.futu]\n{table}\n')
    (account,) = load_settings(path).accounts
    assert isinstance(account, FutuAccount)
    return account


def test_the_api_md_example_loads_with_its_defaults(tmp_path: Path) -> None:
    account = settings_of(tmp_path, 'trd_market = "US"\nunlock_password_file = ""')
    assert (account.futu.host, account.futu.port, account.futu.trd_env) == (
        "127.0.0.1",
        11111,
        "simulate",
    )
    assert account.futu.unlock_password_file is None
    assert account.base_currency == "USD"  # from trd_market


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('trd_env = "real"', "needs unlock_password_file"),
        ('trd_market = "CN"\ntrd_env = "real"', "has no real trading"),
        ('trd_market = "HKCC"', "has no simulate trading"),
        ('unlock_password_file = "missing"', "does not exist"),
        ('trd_market = "JP"', "accounts.0.futu.trd_market"),
    ],
)
def test_what_futu_does_not_have_is_a_config_error(
    tmp_path: Path, table: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        settings_of(tmp_path, table)
