"""The data classes of xtquant, with the real `xtquant.xttype` constructors and attribute
names. MiniQMT's own objects (what the callbacks receive) carry the same attributes and a few
more, which the stand-in sets too: `seq` on `XtOrderError`, the real `account_type`, and
`float_profit`, `open_date`, `position_profit` on `XtPosition`."""

from typing import Any

from . import xtconstant


def _keep(instance: object, arguments: dict[str, Any]) -> None:
    """Every constructor argument becomes the attribute of its name."""
    for name, value in arguments.items():
        if name != "self":
            setattr(instance, name, value)


class StockAccount:
    """An account to trade. As the real class does, a non-str id makes the constructor return
    a message (a str) instead of an account, and an unknown type raises."""

    def __new__(cls, account_id, account_type="STOCK"):
        if not isinstance(account_id, str):
            return "资金账号必须为字符串类型"
        return super().__new__(cls)

    def __init__(self, account_id, account_type="STOCK"):
        wanted = account_type.upper()
        for number, name in xtconstant.ACCOUNT_TYPE_DICT.items():
            if name == wanted:
                self.account_type = number
                self.account_id = account_id
                return
        raise Exception(f"不支持的账号类型：{wanted}！")


class XtAsset:
    def __init__(self, account_id, cash, frozen_cash, market_value, total_asset, fetch_balance):
        self.account_type = xtconstant.SECURITY_ACCOUNT
        _keep(self, locals())


class XtOrder:
    def __init__(
        self,
        account_id,
        stock_code,
        order_id,
        order_sysid,
        order_time,
        order_type,
        order_volume,
        price_type,
        price,
        traded_volume,
        traded_price,
        order_status,
        status_msg,
        strategy_name,
        order_remark,
        direction,
        offset_flag,
        secu_account,
        instrument_name,
    ):
        self.account_type = xtconstant.SECURITY_ACCOUNT
        _keep(self, locals())


class XtTrade:
    def __init__(
        self,
        account_id,
        stock_code,
        order_type,
        traded_id,
        traded_time,
        traded_price,
        traded_volume,
        traded_amount,
        order_id,
        order_sysid,
        strategy_name,
        order_remark,
        direction,
        offset_flag,
        commission,
        secu_account,
        instrument_name,
    ):
        self.account_type = xtconstant.SECURITY_ACCOUNT
        _keep(self, locals())


class XtPosition:
    def __init__(
        self,
        account_id,
        stock_code,
        volume,
        can_use_volume,
        open_price,
        market_value,
        frozen_volume,
        on_road_volume,
        yesterday_volume,
        avg_price,
        direction,
        last_price,
        profit_rate,
        secu_account,
        instrument_name,
    ):
        self.account_type = xtconstant.SECURITY_ACCOUNT
        _keep(self, locals())


class XtOrderError:
    def __init__(
        self,
        account_id,
        order_id,
        error_id=None,
        error_msg=None,
        strategy_name=None,
        order_remark=None,
    ):
        self.account_type = xtconstant.SECURITY_ACCOUNT
        _keep(self, locals())


class XtCancelError:
    def __init__(self, account_id, order_id, market, order_sysid, error_id=None, error_msg=None):
        self.account_type = xtconstant.SECURITY_ACCOUNT
        _keep(self, locals())


class XtOrderResponse:
    def __init__(self, account_id, order_id, strategy_name, order_remark, error_msg, seq):
        self.account_type = xtconstant.SECURITY_ACCOUNT
        _keep(self, locals())


class XtCancelOrderResponse:
    def __init__(self, account_id, cancel_result, order_id, order_sysid, seq, error_msg):
        self.account_type = xtconstant.SECURITY_ACCOUNT
        _keep(self, locals())


class XtAccountStatus:
    def __init__(self, account_id, account_type, status):
        _keep(self, locals())
