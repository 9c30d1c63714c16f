"""`[accounts.vnpy]`: the API.md §7 sketch loads; the gateway path, the owner-only JSON
setting file, unique gateway names and one trader dir are checked with the key named; the
adapter's tables key vnpy's enums by member, whatever language vnpy's values are in."""

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import ClassVar

import pytest

from tradebridge.brokers.vnpy.adapter import gateway_setting
from tradebridge.config import ConfigError, VnpyAccount, load_settings


def secret(directory: Path, content: str = '{"用户名": "8001", "密码": "x"}') -> Path:
    path = directory / "ctp.json"
    path.write_text(content, encoding="utf-8")
    path.chmod(0o600)
    return path


def config(directory: Path, accounts: str) -> Path:
    path = directory / "tradebridge.toml"
    path.write_text(f'data_dir = "{directory / "data"}"\n{accounts}', encoding="utf-8")
    return path


def account(setting_file: Path, account_id: str = "ctp", **keys: str) -> str:
    lines = "".join(f"{key} = {value}\n" for key, value in keys.items())
    return f"""
[[accounts]]
id = "{account_id}"
broker = "vnpy"
base_currency = "CNY"
[accounts.vnpy]
gateway = "vnpy_ctp:CtpGateway"
setting_file = "{setting_file}"
{lines}"""


def test_the_api_sketch_loads_with_its_defaults(tmp_path: Path) -> None:
    path = secret(tmp_path)
    settings = load_settings(config(tmp_path, account(path, gateway_name='"CTP"')))
    (ctp,) = settings.accounts
    assert isinstance(ctp, VnpyAccount)
    assert (ctp.broker, ctp.vnpy.gateway, ctp.vnpy.gateway_name) == (
        "vnpy",
        "vnpy_ctp:CtpGateway",
        "CTP",
    )
    assert ctp.vnpy.trader_dir == (tmp_path / "data" / "vnpy").absolute()
    assert ctp.vnpy.login_flag == "td_api.login_status"
    unnamed = load_settings(config(tmp_path, account(path, "gtja-hft")))
    assert unnamed.accounts[0].vnpy.gateway_name == "GTJA_HFT"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("keys", "content", "mode", "expected"),
    [
        ({"gateway": '"vnpy_ctp.CtpGateway"'}, None, 0o600, "not of the form module:Class"),
        ({}, None, 0o644, "readable by others"),
        ({}, "not json", 0o600, "is not valid JSON"),
        ({}, '["a list"]', 0o600, "must hold a JSON object"),
        ({"settle_s": "-1"}, None, 0o600, "accounts.0.vnpy.settle_s"),
        ({"surprise": "1"}, None, 0o600, "unknown key 'accounts.0.vnpy.surprise'"),
    ],
)
def test_bad_settings_name_what_is_wrong(
    tmp_path: Path, keys: dict[str, str], content: str | None, mode: int, expected: str
) -> None:
    path = secret(tmp_path, content) if content else secret(tmp_path)
    path.chmod(mode)
    text = account(path, **{k: v for k, v in keys.items() if k != "gateway"})
    if "gateway" in keys:
        text = text.replace('"vnpy_ctp:CtpGateway"', keys["gateway"])
    with pytest.raises(ConfigError, match=expected.replace("(", r"\(")):
        load_settings(config(tmp_path, text))


def test_gateway_names_are_unique_and_the_trader_dir_one(tmp_path: Path) -> None:
    path = secret(tmp_path)
    twice = account(path, "a", gateway_name='"CTP"') + account(path, "b", gateway_name='"ctp"')
    with pytest.raises(ConfigError, match="the same vnpy gateway_name"):
        load_settings(config(tmp_path, twice))
    apart = account(path, "a", trader_dir='"/tmp/one"') + account(path, "b")
    with pytest.raises(ConfigError, match="one per process"):
        load_settings(config(tmp_path, apart))


def test_the_setting_fills_in_the_gateways_defaults(tmp_path: Path) -> None:
    class Gateway:
        default_setting: ClassVar[dict[str, object]] = {
            "用户名": "",
            "密码": "",
            "柜台环境": ["实盘", "测试"],
            "端口": 0,
        }

    path = secret(tmp_path, json.dumps({"用户名": "8001", "端口": 41205}))
    assert gateway_setting(Gateway, path) == {
        "用户名": "8001",
        "密码": "",
        "柜台环境": "实盘",
        "端口": 41205,
    }


LOCALE_SCRIPT = """
import json
from tradebridge.brokers.vnpy.mapping import tables
from vnpy.trader import constant
t = tables(constant)
print(json.dumps([
    constant.Status.ALLTRADED.value,
    t.status.to_ours(constant.Status.ALLTRADED),
    t.side.to_ours(constant.Direction.SHORT),
    t.offset.to_ours(constant.Offset.CLOSETODAY),
    list(t.order_type.to_ours(constant.OrderType.FAK)),
], ensure_ascii=False))
"""


@pytest.mark.parametrize(("language", "shown"), [("zh_CN", "全部成交"), ("en", "All Traded")])
def test_the_tables_do_not_depend_on_vnpys_language(language: str, shown: str) -> None:
    env = {**os.environ, "LANGUAGE": language, "LC_ALL": "C.UTF-8"}
    out = subprocess.run(
        [sys.executable, "-c", LOCALE_SCRIPT], env=env, capture_output=True, check=True
    ).stdout
    assert json.loads(out) == [shown, "filled", "sell", "close_today", ["limit", "ioc"]]
