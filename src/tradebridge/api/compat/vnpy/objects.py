"""Our objects as vnpy's `to_dict` shows its `TickData`, `OrderData`, `TradeData`,
`PositionData`, `AccountData` and `ContractData`: every field of the object plus its derived
`vt_*` ids, enums by value in the configured language, times as `str(datetime)` in China
time, numbers as floats (vnpy's types).
"""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from tradebridge.api.compat.placing import dialect_client_order_id
from tradebridge.api.compat.vnpy.mapping import (
    OFFSET_VN,
    POSITION_DIRECTION,
    SIDE_DIRECTION,
    Language,
    is_futures,
    product_of,
    spell,
    split_symbol,
    vn_order_type,
    vn_status,
)
from tradebridge.domain.enums import Offset
from tradebridge.domain.models import AccountSummary, Contract, Position, Quote, Trade
from tradebridge.domain.orders import Order

CHINA_TZ = ZoneInfo("Asia/Shanghai")
"""vnpy's gateways stamp their data in China time (vnpy's `CHINA_TZ`)."""

OPTION_FIELDS = (
    "option_strike",
    "option_underlying",
    "option_type",
    "option_listed",
    "option_expiry",
    "option_portfolio",
    "option_index",
)
"""Fields of vnpy's `ContractData` that only options fill; null for everything we trade."""

Json = dict[str, Any]


def vn_time(moment: datetime) -> str:
    """`str()` of the time in China time, as vnpy's `to_dict` writes datetimes."""
    return str(moment.astimezone(CHINA_TZ))


def _number(value: Decimal | int | None) -> float:
    """vnpy's float fields; 0 where vnpy has nothing to show (its default)."""
    return float(value) if value is not None else 0.0


@dataclass(frozen=True, slots=True)
class VnpyView:
    """How the dialect shows one account: `gateway_name` prefixes every `vt_*` id."""

    gateway_name: str
    account: str
    language: Language

    def vt_orderid(self, order_id: str) -> str:
        return f"{self.gateway_name}.{order_id}"

    def order_id(self, vt_orderid: str) -> str | None:
        """Our order id in one of this view's `vt_orderid`s; None for another gateway's."""
        gateway, dot, order_id = vt_orderid.partition(".")
        return order_id if dot and gateway == self.gateway_name and order_id else None

    def _symbol_fields(self, symbol: str) -> Json:
        ticker, exchange = split_symbol(symbol)
        return {"symbol": ticker, "exchange": exchange.value}

    def _ids(self, symbol: str) -> Json:
        ticker, exchange = split_symbol(symbol)
        return {"gateway_name": self.gateway_name, "vt_symbol": f"{ticker}.{exchange.value}"}

    def order(self, order: Order) -> Json:
        return {
            **self._symbol_fields(order.symbol),
            "orderid": order.id,
            "type": spell(vn_order_type(order.type, order.time_in_force), self.language),
            "direction": spell(SIDE_DIRECTION[order.side], self.language),
            "offset": spell(OFFSET_VN[order.offset], self.language),
            "price": _number(order.limit_price),
            "volume": float(order.qty),
            "traded": float(order.filled_qty),
            "status": spell(vn_status(order.status, order.filled_qty), self.language),
            "datetime": vn_time(order.created_at),
            "reference": _reference(order),
            **self._ids(order.symbol),
            "vt_orderid": self.vt_orderid(order.id),
        }

    def trade(self, trade: Trade, offset: Offset | None) -> Json:
        """`offset`: the trade's order's (our trades do not carry it)."""
        return {
            **self._symbol_fields(trade.symbol),
            "orderid": trade.order_id,
            "tradeid": trade.id,
            "direction": spell(SIDE_DIRECTION[trade.side], self.language),
            "offset": spell(OFFSET_VN[offset], self.language),
            "price": float(trade.price),
            "volume": float(trade.qty),
            "datetime": vn_time(trade.time),
            **self._ids(trade.symbol),
            "vt_orderid": self.vt_orderid(trade.order_id),
            "vt_tradeid": f"{self.gateway_name}.{trade.id}",
        }

    def position(self, position: Position) -> Json:
        """`frozen`: what cannot be sold or closed now (held by working orders, or bought
        today under T+1); `yd_volume` is 0: our positions do not split the day's lots off."""
        direction = spell(POSITION_DIRECTION[position.direction], self.language)
        ids = self._ids(position.symbol)
        return {
            **self._symbol_fields(position.symbol),
            "direction": direction,
            "volume": float(position.qty),
            "frozen": float(position.qty - position.available_qty),
            "price": float(position.avg_cost),
            "pnl": float(position.unrealized_pnl),
            "yd_volume": 0.0,
            **ids,
            "vt_positionid": f"{self.gateway_name}.{ids['vt_symbol']}.{direction}",
        }

    def account_data(self, summary: AccountSummary) -> Json:
        """Totals in the base currency: `balance` is the equity, `available` what may be
        spent now (as vnpy's CTP gateway reports them)."""
        return {
            "accountid": summary.account,
            "balance": float(summary.equity),
            "frozen": float(summary.frozen),
            "available": float(summary.available),
            "gateway_name": self.gateway_name,
            "vt_accountid": f"{self.gateway_name}.{summary.account}",
        }

    def contract(self, contract: Contract) -> Json:
        return {
            **self._symbol_fields(contract.symbol),
            "name": contract.name,
            "product": spell(product_of(contract.symbol), self.language),
            "size": float(contract.multiplier),
            "pricetick": float(contract.tick_size),
            "min_volume": float(contract.min_qty or contract.lot_size),
            "max_volume": float(contract.max_qty) if contract.max_qty is not None else None,
            "stop_supported": False,
            "net_position": not is_futures(contract.symbol),
            "history_data": False,
            **dict.fromkeys(OPTION_FIELDS),
            **self._ids(contract.symbol),
        }

    def tick(self, quote: Quote, name: str) -> Json:
        """A quote snapshot: the last price and the best bid and ask. Day statistics,
        deeper levels and daily limits are not in our quotes: 0, vnpy's value for unknown."""
        depth: Json = dict.fromkeys(_DEPTH_KEYS, 0.0)
        depth["bid_price_1"] = _number(quote.bid)
        depth["ask_price_1"] = _number(quote.ask)
        depth["bid_volume_1"] = float(quote.bid_size)
        depth["ask_volume_1"] = float(quote.ask_size)
        return {
            **self._symbol_fields(quote.symbol),
            "datetime": vn_time(quote.time),
            "name": name,
            "volume": 0.0,
            "turnover": 0.0,
            "open_interest": 0.0,
            "last_price": float(quote.last),
            "last_volume": 0.0,
            "limit_up": 0.0,
            "limit_down": 0.0,
            "open_price": 0.0,
            "high_price": 0.0,
            "low_price": 0.0,
            "pre_close": _number(quote.pre_close),
            **depth,
            "localtime": None,
            **self._ids(quote.symbol),
        }


_DEPTH_KEYS = (
    [f"bid_price_{n}" for n in range(1, 6)]
    + [f"ask_price_{n}" for n in range(1, 6)]
    + [f"bid_volume_{n}" for n in range(1, 6)]
    + [f"ask_volume_{n}" for n in range(1, 6)]
)
"""vnpy's order of the depth fields."""


def _reference(order: Order) -> str:
    """vnpy's free-text `reference` is not kept; an order placed with a `client_order_id`
    of its own (through /api/v1) shows that instead, one without (or placed here) nothing."""
    cid = order.client_order_id
    if cid is None or cid == order.id or dialect_client_order_id(cid, "vnpy"):
        return ""
    return cid
