"""Helpers of the QMT dialect tests: servers with `[compat.qmt_service]` and
`[compat.xtquant_http]` on the paper account, keys, the paper market."""

from pathlib import Path
from typing import Any

import httpx
from tests.api.auth_support import create_key
from tests.conftest import write_config

XT = "/xtquant/trade"
QMT = "/api/v1/trading"
DIALECTS = """
[compat.qmt_service]
enabled = true

[compat.xtquant_http]
enabled = true
"""
BOND = "113025.SH"  # document 003's example: pre_close 305.000 in the paper universe
MOUTAI = "600519.SH"

XT_ORDER_KEYS = [
    "股票代码",
    "委托数量",
    "成交数量",
    "委托价格",
    "委托类型",
    "委托状态",
    "订单编号",
    "柜台合同编号",
    "报单时间",
]
XT_TRADE_KEYS = [
    "股票代码",
    "委托类型",
    "成交数量",
    "成交均价",
    "成交金额",
    "成交时间",
    "成交编号",
    "柜台合同编号",
]
XT_HOLDING_KEYS = ["股票代码", "持仓", "可用持仓", "成本", "持仓市值"]
XT_ASSET_KEYS = ["总资产", "现金", "持仓市值", "冻结金额"]
XT_STATUS_NAMES = {
    "未报",
    "待报",
    "已报",
    "已报待撤",
    "部成待撤",
    "部撤",
    "已撤",
    "部成",
    "已成",
    "废单",
    "未知",
}
"""Document 003's names of xtquant's order statuses."""


def dialects_config(directory: Path, extra: str = "") -> Path:
    return write_config(directory, DIALECTS + extra)


def key_of(server: Any, token: str, *scopes: str, account: str | None = None) -> str:
    body: dict[str, Any] = {"scopes": list(scopes)}
    if account is not None:
        body["account"] = account
    return str(create_key(server, token, **body)["key"])


def set_quote(admin: httpx.Client, symbol: str, last: str, **fields: Any) -> None:
    body = {"symbol": symbol, "last": last, **fields}
    admin.post("/api/v1/paper/paper/quotes", json=body).raise_for_status()


def v1_orders(admin: httpx.Client) -> list[dict[str, Any]]:
    response = admin.get("/api/v1/accounts/paper/orders", params={"limit": 1000})
    response.raise_for_status()
    orders: list[dict[str, Any]] = response.json()
    return orders
