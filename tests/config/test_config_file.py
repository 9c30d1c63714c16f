"""`load_settings`: defaults, the TOML file of API.md §1, refusals that name key and file."""

import os
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import ValidationError

from tradebridge.config import ConfigError, Settings, load_settings

WriteToml = Callable[..., Path]

# The sketch of API.md §1, verbatim.
API_SKETCH = """
[server]
host = "127.0.0.1"
port = 8000

[database]
url = "sqlite:///.tradebridge/tradebridge.db"   # or postgresql+psycopg://...

[[accounts]]
id = "paper"                 # [a-z0-9_-]{1,32}
broker = "paper"
base_currency = "CNY"
httptrading_instance_id = "WyLqtMhDvAnBb6a3"    # optional, 16-32 word chars
httptrading_tokens = ["Vt5UCW2sLBvgPXjR"]       # optional, 16-64 chars each

[accounts.paper]
cash = { CNY = 1000000, HKD = 1000000, USD = 1000000 }
market = "random_walk"       # or "manual": prices move only when set through the paper API
market_hours = "always_open" # or "exchange": real sessions and holidays of each venue
seed = 42
# contracts: the built-in universe, plus extra rows here (see section 6)

[accounts.risk]
max_order_qty = 1000000
max_order_notional = 5000000
max_orders_per_second = 50
price_band_pct = 10          # limit price further than this from last price is refused

[compat.vnpy]
enabled = true
account = "paper"
envelope = true              # {"data": ...} around results, as in the WebTrader docs;
                             # false: bare results exactly as vnpy_webtrader 1.1
language = "zh"              # enum values in responses: "zh" (多/限价/未成交) or "en" (Long/Limit/Not Traded)
"""  # noqa: E501


def _error(path: Path | None = None, overrides: dict[str, object] | None = None) -> str:
    with pytest.raises(ConfigError) as caught:
        load_settings(path, overrides)
    return str(caught.value)


def _account_toml(body: str, paper: str = "", extra: str = "") -> str:
    return f'[[accounts]]\nid = "paper"\n{body}\n[accounts.paper]\n{paper}\n{extra}\n'


# --- defaults --------------------------------------------------------------------------------


def test_defaults_without_file_or_environment() -> None:
    settings = load_settings()
    assert settings.server.host == "127.0.0.1"
    assert settings.server.port == 8000
    assert settings.server.workers == min(
        max((os.cpu_count() or 1) - 1, 1), 64
    )  # the engine's CPU aside
    assert settings.data_dir == Path(".tradebridge")
    assert [a.id for a in settings.accounts] == ["paper"]
    account = settings.accounts[0]
    assert account.broker == "paper"
    assert account.base_currency == "CNY"
    assert account.httptrading_instance_id is None
    assert account.httptrading_tokens == []
    assert account.paper.cash == {
        "CNY": Decimal(1_000_000),
        "HKD": Decimal(1_000_000),
        "USD": Decimal(1_000_000),
    }
    assert account.paper.contracts == []
    assert settings.database.url is None
    assert settings.database_url == "sqlite:///.tradebridge/tradebridge.db"
    assert settings.admin_password is None
    assert settings.compat.vnpy.enabled is False
    assert settings.account("paper") is account
    assert settings.account("other") is None


def test_an_empty_file_gives_the_defaults(write_toml: WriteToml) -> None:
    assert load_settings(write_toml("")).model_dump() == load_settings().model_dump()


def test_database_url_follows_the_data_dir(write_toml: WriteToml, tmp_path: Path) -> None:
    settings = load_settings(write_toml(f'data_dir = "{tmp_path / "data"}"\n'))
    assert settings.data_dir == tmp_path / "data"
    assert settings.database_url == f"sqlite:///{tmp_path}/data/tradebridge.db"
    relative = load_settings(write_toml('data_dir = "var/tb"\n'))
    assert relative.database_url == "sqlite:///var/tb/tradebridge.db"


def test_configured_database_url_wins_over_the_derived_one(write_toml: WriteToml) -> None:
    url = "postgresql+psycopg://tb:secret@db.example:5432/tradebridge"
    settings = load_settings(write_toml(f'data_dir = "/srv/tb"\n[database]\nurl = "{url}"\n'))
    assert settings.database_url == url


def test_settings_are_frozen() -> None:
    settings = load_settings()
    with pytest.raises(ValidationError):
        settings.server.port = 9000  # type: ignore[misc]
    with pytest.raises(ValidationError):
        settings.data_dir = Path("x")  # type: ignore[misc]


# --- the API.md sketch -----------------------------------------------------------------------


def test_the_api_sketch_loads(write_toml: WriteToml) -> None:
    settings = load_settings(write_toml(API_SKETCH))
    assert settings.server.host == "127.0.0.1"
    assert settings.server.port == 8000
    assert settings.database.url == "sqlite:///.tradebridge/tradebridge.db"
    assert settings.database_url == "sqlite:///.tradebridge/tradebridge.db"

    assert len(settings.accounts) == 1
    account = settings.accounts[0]
    assert account.id == "paper"
    assert account.broker == "paper"
    assert account.base_currency == "CNY"
    assert account.httptrading_instance_id == "WyLqtMhDvAnBb6a3"
    assert account.httptrading_tokens == ["Vt5UCW2sLBvgPXjR"]

    paper = account.paper
    assert paper.cash == {
        "CNY": Decimal(1_000_000),
        "HKD": Decimal(1_000_000),
        "USD": Decimal(1_000_000),
    }
    assert all(isinstance(v, Decimal) for v in paper.cash.values())
    assert paper.market == "random_walk"
    assert paper.market_hours == "always_open"
    assert paper.seed == 42
    assert paper.contracts == []

    risk = account.risk
    assert risk.max_order_qty == 1_000_000
    assert risk.max_order_notional == Decimal(5_000_000)
    assert risk.max_orders_per_second == 50
    assert risk.price_band_pct == Decimal(10)

    vnpy = settings.compat.vnpy
    assert vnpy.enabled is True
    assert vnpy.account == "paper"
    assert vnpy.envelope is True
    assert vnpy.language == "zh"


def test_the_alternatives_named_in_the_sketch_load(write_toml: WriteToml) -> None:
    text = (
        API_SKETCH.replace('"random_walk"', '"manual"')
        .replace('"always_open"', '"exchange"')
        .replace("envelope = true", "envelope = false")
        .replace('language = "zh"', 'language = "en"')
        .replace(
            "sqlite:///.tradebridge/tradebridge.db",
            "postgresql+psycopg://tb@localhost/tradebridge",
        )
    )
    settings = load_settings(write_toml(text))
    paper = settings.accounts[0].paper
    assert (paper.market, paper.market_hours) == ("manual", "exchange")
    assert settings.compat.vnpy.envelope is False
    assert settings.compat.vnpy.language == "en"
    assert settings.database_url == "postgresql+psycopg://tb@localhost/tradebridge"


def test_several_accounts_each_with_their_own_sections(write_toml: WriteToml) -> None:
    text = """
[[accounts]]
id = "cn-main"
[accounts.paper]
cash = { CNY = 500000 }
seed = 7
[accounts.risk]
max_order_qty = 10

[[accounts]]
id = "hk_2"
base_currency = "HKD"
"""
    settings = load_settings(write_toml(text))
    assert [a.id for a in settings.accounts] == ["cn-main", "hk_2"]
    first, second = settings.accounts
    assert first.paper.cash == {"CNY": Decimal(500_000)}
    assert first.paper.seed == 7
    assert first.risk.max_order_qty == 10
    assert second.base_currency == "HKD"
    assert second.paper.seed == 42
    assert second.risk.max_order_qty is None


# --- unknown keys ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("bogus = 1\n", "bogus"),
        ("[server]\nprot = 8000\n", "server.prot"),
        ("[database]\nurl = 'sqlite://'\nuri = 'x'\n", "database.uri"),
        ("[engine]\nrpc_adress = 'tcp://127.0.0.1:1'\n", "engine.rpc_adress"),
        ("[[accounts]]\nid = 'paper'\nbrokr = 'paper'\n", "accounts.0.brokr"),
        (_account_toml("", "foo = 1"), "accounts.0.paper.foo"),
        (_account_toml("", "", "[accounts.risk]\nmax_qty = 5\n"), "accounts.0.risk.max_qty"),
        (
            "[[accounts]]\nid = 'a'\n[[accounts]]\nid = 'b'\n[accounts.paper]\nmarkets = 'x'\n",
            "accounts.1.paper.markets",
        ),
        (
            _account_toml("", "", "[[accounts.paper.contracts]]\nsymbol = 'AAPL.US'\nlot = 1\n"),
            "accounts.0.paper.contracts.0.lot",
        ),
        ("[compat.vnpy]\nenabled = true\nlang = 'en'\n", "compat.vnpy.lang"),
        ("[compat.ctp]\nenabled = true\n", "compat.ctp"),
    ],
)
def test_unknown_key_is_an_error_naming_the_key_and_the_file(
    write_toml: WriteToml, text: str, key: str
) -> None:
    path = write_toml(text)
    message = _error(path)
    assert f"unknown key {key!r}" in message
    assert str(path) in message


def test_every_unknown_key_is_reported(write_toml: WriteToml) -> None:
    message = _error(write_toml("bogus = 1\n[server]\nprot = 1\n"))
    assert "'bogus'" in message
    assert "'server.prot'" in message


# --- unreadable files ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "[server\nport = 8000\n",
        "[server]\nport = \n",
        "[server]\nport = 1\nport = 2\n",
        "this is not toml\n",
        '[server]\nhost = "unterminated\n',
    ],
)
def test_invalid_toml_is_an_error_naming_the_file(write_toml: WriteToml, text: str) -> None:
    path = write_toml(text)
    message = _error(path)
    assert str(path) in message
    assert "not valid TOML" in message


def test_missing_file_is_an_error_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "nowhere" / "tradebridge.toml"
    message = _error(path)
    assert str(path) in message
    assert "does not exist" in message


# --- invalid values --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "account_id", ["Paper!", "Paper", "paper account", "", "a" * 33, "papér", "a.b", "a/b"]
)
def test_bad_account_id_is_refused(write_toml: WriteToml, account_id: str) -> None:
    path = write_toml(f'[[accounts]]\nid = "{account_id}"\n')
    message = _error(path)
    assert "accounts.0.id" in message
    assert str(path) in message


@pytest.mark.parametrize("account_id", ["a", "paper", "paper_2", "hk-1", "0", "a" * 32])
def test_good_account_ids_are_accepted(write_toml: WriteToml, account_id: str) -> None:
    settings = load_settings(write_toml(f'[[accounts]]\nid = "{account_id}"\n'))
    assert settings.accounts[0].id == account_id


def test_account_without_id_is_refused(write_toml: WriteToml) -> None:
    assert "accounts.0.id" in _error(write_toml('[[accounts]]\nbroker = "paper"\n'))


def test_duplicate_account_ids_are_refused(write_toml: WriteToml) -> None:
    path = write_toml(
        '[[accounts]]\nid = "paper"\n[[accounts]]\nid = "x"\n[[accounts]]\nid = "paper"\n'
    )
    message = _error(path)
    assert "'paper' appears twice" in message
    assert str(path) in message


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("WyLqtMhDvAnBb6a3", True),  # 16
        ("a" * 32, True),
        ("abc_DEF_123_ghi_", True),
        ("short", False),
        ("a" * 15, False),
        ("a" * 33, False),
        ("WyLqtMhD-vAnBb6a3", False),
        ("WyLqtMhD vAnBb6a3", False),
    ],
)
def test_httptrading_instance_id_is_16_to_32_word_characters(
    write_toml: WriteToml, value: str, ok: bool
) -> None:
    path = write_toml(f'[[accounts]]\nid = "paper"\nhttptrading_instance_id = "{value}"\n')
    if ok:
        assert load_settings(path).accounts[0].httptrading_instance_id == value
    else:
        assert "accounts.0.httptrading_instance_id" in _error(path)


@pytest.mark.parametrize(("length", "ok"), [(15, False), (16, True), (64, True), (65, False)])
def test_httptrading_tokens_are_16_to_64_characters(
    write_toml: WriteToml, length: int, ok: bool
) -> None:
    token = "t" * length
    path = write_toml(
        f'[[accounts]]\nid = "paper"\nhttptrading_tokens = ["{"v" * 20}", "{token}"]\n'
    )
    if ok:
        assert load_settings(path).accounts[0].httptrading_tokens == ["v" * 20, token]
    else:
        assert "accounts.0.httptrading_tokens.1" in _error(path)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("[server]\nport = 0\n", "server.port"),
        ("[server]\nport = 65536\n", "server.port"),
        ("[server]\nport = 'eighty'\n", "server.port"),
        ("[server]\nworkers = 0\n", "server.workers"),
        ("[database]\nsqlite_synchronous = 'off'\n", "database.sqlite_synchronous"),
        ("log_level = 'verbose'\n", "log_level"),
        ("[[accounts]]\nid = 'p'\nbroker = 'nosuchbroker'\n", "accounts.0.broker"),
        (_account_toml("", "market = 'replay'"), "accounts.0.paper.market"),
        (_account_toml("", "market_hours = 'nyse'"), "accounts.0.paper.market_hours"),
        (_account_toml("", "cash = { CNY = -1 }"), "accounts.0.paper.cash.CNY"),
        (_account_toml("", "seed = 'x'"), "accounts.0.paper.seed"),
        (_account_toml("", "", "[accounts.risk]\nmax_order_qty = 0\n"), "accounts.0.risk"),
        (_account_toml("", "", "[accounts.risk]\nprice_band_pct = -5\n"), "accounts.0.risk"),
        ("[compat.vnpy]\nlanguage = 'fr'\n", "compat.vnpy.language"),
        ("accounts = 'paper'\n", "accounts"),
    ],
)
def test_invalid_values_name_the_key_and_the_file(
    write_toml: WriteToml, text: str, key: str
) -> None:
    path = write_toml(text)
    message = _error(path)
    assert key in message
    assert str(path) in message


# --- paper contracts -------------------------------------------------------------------------

CONTRACTS = """
[[accounts]]
id = "paper"

[[accounts.paper.contracts]]
symbol = "600001.sh"
name = "Test Co"
currency = "CNY"
lot_size = 100
tick_size = 0.01
price_limit_pct = "none"
t_plus = 1
pre_close = 12.34

[[accounts.paper.contracts]]
symbol = "  aapl.us "
price_limit_pct = 10
t_plus = 0

[[accounts.paper.contracts]]
symbol = "cu2601.shfe"
tick_size = 10
multiplier = 5
margin_rate = 0.12
"""


def test_contract_rows_are_validated_and_canonicalised(write_toml: WriteToml) -> None:
    contracts = load_settings(write_toml(CONTRACTS)).accounts[0].paper.contracts
    assert [c.symbol for c in contracts] == ["600001.SH", "AAPL.US", "cu2601.SHFE"]
    stock, us, future = contracts
    assert stock.name == "Test Co"
    assert stock.currency == "CNY"
    assert stock.lot_size == 100
    assert stock.price_limit_pct == "none"
    assert stock.t_plus == 1
    # TOML floats become the decimals they spell, never binary fractions
    assert stock.tick_size == Decimal("0.01")
    assert stock.pre_close == Decimal("12.34")
    assert us.price_limit_pct == Decimal(10)
    assert us.t_plus == 0
    assert us.name is None
    assert us.lot_size is None
    assert us.tick_size is None
    assert future.tick_size == Decimal(10)
    assert future.multiplier == Decimal(5)
    assert future.margin_rate == Decimal("0.12")


@pytest.mark.parametrize(
    ("row", "field"),
    [
        ("lot_size = 0", "lot_size"),
        ("tick_size = 0", "tick_size"),
        ("tick_size = -0.01", "tick_size"),
        ("price_limit_pct = 'None'", "price_limit_pct"),
        ("price_limit_pct = 'off'", "price_limit_pct"),
        ("t_plus = 2", "t_plus"),
        ("multiplier = 0", "multiplier"),
        ("margin_rate = 0", "margin_rate"),
        ("margin_rate = 1.5", "margin_rate"),
        ("pre_close = 0", "pre_close"),
    ],
)
def test_contract_row_with_a_bad_field_is_refused(
    write_toml: WriteToml, row: str, field: str
) -> None:
    path = write_toml(
        f'[[accounts]]\nid = "paper"\n[[accounts.paper.contracts]]\nsymbol = "600001.SH"\n{row}\n'
    )
    message = _error(path)
    assert f"accounts.0.paper.contracts.0.{field}" in message
    assert str(path) in message


def test_contract_row_without_a_symbol_is_refused(write_toml: WriteToml) -> None:
    path = write_toml('[[accounts]]\nid = "paper"\n[[accounts.paper.contracts]]\nlot_size = 100\n')
    assert "accounts.0.paper.contracts.0.symbol" in _error(path)


@pytest.mark.parametrize("symbol", ["600519", "600519.XX", "700.HK", "cu26.SHFE", ""])
def test_contract_row_with_a_bad_symbol_is_a_config_error(
    write_toml: WriteToml, symbol: str
) -> None:
    """A bad symbol is reported like any other bad value: ConfigError naming key and file."""
    path = write_toml(
        f'[[accounts]]\nid = "paper"\n[[accounts.paper.contracts]]\nsymbol = "{symbol}"\n'
    )
    message = _error(path)
    assert "accounts.0.paper.contracts.0.symbol" in message
    assert str(path) in message


def test_settings_can_be_built_directly_for_tests() -> None:
    """`Settings` itself (used by the app factory) has the same defaults as `load_settings`."""
    assert Settings().model_dump() == load_settings().model_dump()
