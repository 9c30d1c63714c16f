"""Settings of a `vnpy` account: the `[accounts.vnpy]` table. Imports no SDK.

Any vnpy `BaseGateway` subclass is named as `module:Class` (`vnpy_ctp:CtpGateway`); what its
`connect()` takes (its `default_setting`, keys in Chinese) sits in a JSON file, which holds
the password and so must be readable by its owner only."""

import json
import re
from pathlib import Path
from typing import Annotated, Protocol

from pydantic import AfterValidator, Field

from tradebridge.sections import SecretFile, Section

GATEWAY_PATTERN = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")


def _gateway_path(value: str) -> str:
    if not GATEWAY_PATTERN.fullmatch(value):
        raise ValueError(f"{value!r} is not of the form module:Class (e.g. vnpy_ctp:CtpGateway)")
    return value


def _json_object_file(path: Path) -> Path:
    """The setting file must hold one JSON object (keys as the gateway's `default_setting`)."""
    try:
        setting = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"file {path} is not valid JSON: {exc}") from None
    if not isinstance(setting, dict):
        raise ValueError(f"file {path} must hold a JSON object, the gateway's setting")
    return path


GatewayPath = Annotated[str, AfterValidator(_gateway_path)]
SettingFile = Annotated[SecretFile, AfterValidator(_json_object_file)]


class VnpySettings(Section):
    gateway: GatewayPath
    """The vnpy gateway class, `module:Class`: `vnpy_ctp:CtpGateway`, `vnpy_xtp:XtpGateway`,
    `vnpy_hft:HftGateway` ..."""
    gateway_name: Annotated[str, Field(pattern=r"^[A-Za-z0-9_]{1,32}$")] | None = None
    """The gateway's name: the prefix of vnpy's ids (`CTP.1_2_3`) and the folder of its flow
    files; default: the account id in capitals. Unique among the vnpy accounts."""
    setting_file: SettingFile
    """An owner-only JSON object passed to the gateway's `connect()`, with the keys of its
    `default_setting` (CTP: 用户名, 密码, 经纪商代码, 交易服务器, 行情服务器, 产品名称,
    授权编码, 柜台环境). A key left out takes the gateway's default (a list: its first item)."""
    trader_dir: Path | None = None
    """vnpy's `.vntrader` folder, where gateways write flow files and logs (one folder per
    gateway name); default `<data_dir>/vnpy`. The same for every vnpy account of an engine."""
    connect_timeout_s: float = Field(default=30.0, gt=0, le=600)
    """How long one connection attempt may take: `connect()` (which blocks on some gateways,
    e.g. XTP) until the gateway is logged in and has replayed the day's orders."""
    settle_s: float = Field(default=2.0, ge=0, le=60)
    """After login, how long the gateway must have sent no contract, order or trade before
    its replay of the day counts as complete and the engine reconciles."""
    login_flag: str = "td_api.login_status"
    """The gateway attribute that says it is logged in (CTP, XTP, HFT, MINI, SOPT, TTS have
    `td_api.login_status`); "": logged in from its first account report, and a lost
    connection goes unnoticed."""
    cancel_timeout_s: float = Field(default=10.0, gt=0, le=300)
    """vnpy gateways report a refused cancel only as a log line: an order still working this
    long after its cancel counts as refused (it goes back to working)."""
    request_timeout_s: float = Field(default=10.0, gt=0, le=120)
    """How long one gateway call may take before it counts as unanswered."""


class VnpyAccount(Protocol):
    """What `create` reads of the account (`config.VnpyAccount`)."""

    @property
    def id(self) -> str: ...

    @property
    def base_currency(self) -> str: ...

    @property
    def vnpy(self) -> VnpySettings: ...
