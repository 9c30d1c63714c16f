"""A simulated MiniQMT, run by a test as its own process: what the xtquant stand-in talks to.

    python -m tests.brokers.qmt.miniqmt USERDATA_DIR ACCOUNT[:STOCK|:CREDIT] ...

It listens on a free loopback port, writes it to `USERDATA_DIR/xtquant_standin.json` (where the
stand-in's `XtQuantTrader(USERDATA_DIR, ...)` looks for it) and prints `ready PORT`. One port
serves three kinds of connection, each opened with a hello naming its role:

- `trade`: an `XtQuantTrader` session (one per session id at a time). Orders, cancels and
  queries, answered by seq; pushes (orders, trades, positions, assets, errors) go to the
  sessions that subscribed the account. As MiniQMT does, an order error is sent before the
  order's response, and a cancel error before the cancel's response.
- `data`: the `xtdata` client: full ticks, instrument details, quote subscriptions.
- `control`: the test: set quotes (resting orders fill against them, size-limited, so an order
  can fill in parts), fill an order by hand, place an order "in the terminal", change how the
  next order is answered (lost response, -1, refusal), drop every connection and refuse new
  ones, stop answering, read the books.

It is a counter too: cash and positions move with fills (T+1 for stocks, T+0 for convertible
bonds); an order that does not meet lots, limits, cash or position is refused with a message
in MiniQMT's style. Written from xtquant's documented behaviour, not from any adapter.
"""

import asyncio
import contextlib
import itertools
import json
import sys
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

PORT_FILE = "xtquant_standin.json"

SECURITY_ACCOUNT, CREDIT_ACCOUNT = 2, 3
ACCOUNT_TYPES = {"STOCK": SECURITY_ACCOUNT, "CREDIT": CREDIT_ACCOUNT}
BUY_TYPES = {23, 27, 29, 40, 42}
SELL_TYPES = {24, 28, 31, 41, 44}
FIX_PRICE, LATEST_PRICE = 11, 5
MARKET_PRICE_TYPES = {42, 43, 44, 45, 46, 47, 48}
UNREPORTED, WAIT_REPORTING, REPORTED, REPORTED_CANCEL, PARTSUCC_CANCEL = 48, 49, 50, 51, 52
PART_CANCEL, CANCELED, PART_SUCC, SUCCEEDED, JUNK = 53, 54, 55, 56, 57
OPEN_STATUSES = {UNREPORTED, WAIT_REPORTING, REPORTED, REPORTED_CANCEL, PARTSUCC_CANCEL, PART_SUCC}
DIRECTION_LONG, OFFSET_OPEN, OFFSET_CLOSE = 48, 48, 49
ACCOUNT_STATUS_OK = 0

Json = dict[str, Any]


def money(value: Decimal) -> float:
    return float(value.quantize(Decimal("0.01"), ROUND_HALF_UP))


@dataclass
class Instrument:
    code: str
    name: str
    pre_close: Decimal
    tick: Decimal
    limit_pct: Decimal

    @property
    def lot(self) -> int:
        return 10 if self.is_bond else 100

    @property
    def is_bond(self) -> bool:
        ticker, market = self.code.split(".")
        return (market == "SH" and ticker.startswith("11")) or (
            market == "SZ" and ticker.startswith("12")
        )

    def band(self) -> tuple[Decimal, Decimal]:
        move = self.pre_close * self.limit_pct / 100
        return (
            (self.pre_close - move).quantize(self.tick, ROUND_HALF_UP),
            (self.pre_close + move).quantize(self.tick, ROUND_HALF_UP),
        )

    def detail(self) -> Json:
        down, up = self.band()
        ticker, market = self.code.split(".")
        return {
            "ExchangeID": market,
            "InstrumentID": ticker,
            "InstrumentName": self.name,
            "ExchangeCode": ticker,
            "PreClose": float(self.pre_close),
            "UpStopPrice": float(up),
            "DownStopPrice": float(down),
            "PriceTick": float(self.tick),
            "VolumeMultiple": 1,
            "InstrumentStatus": 0,
            "IsTrading": True,
        }


BUILT_IN = [
    Instrument("600000.SH", "浦发银行", Decimal("10.00"), Decimal("0.01"), Decimal(10)),
    Instrument("601318.SH", "中国平安", Decimal("50.00"), Decimal("0.01"), Decimal(10)),
    Instrument("000001.SZ", "平安银行", Decimal("11.00"), Decimal("0.01"), Decimal(10)),
    Instrument("300750.SZ", "宁德时代", Decimal("200.00"), Decimal("0.01"), Decimal(20)),
    Instrument("510300.SH", "沪深300ETF", Decimal("4.000"), Decimal("0.001"), Decimal(10)),
    Instrument("113025.SH", "明泰转债", Decimal("130.000"), Decimal("0.001"), Decimal(20)),
    Instrument("000001.SH", "上证指数", Decimal("3300.00"), Decimal("0.01"), Decimal(10)),
]


@dataclass
class Book:
    """The market of one code: best bid and ask with their sizes (in shares / bonds)."""

    last: Decimal
    bid: Decimal = Decimal(0)
    ask: Decimal = Decimal(0)
    bid_size: int = 0
    ask_size: int = 0
    pre_close: Decimal = Decimal(0)
    time_ms: int = 0
    volume: int = 0


@dataclass
class Holding:
    volume: int = 0
    can_use: int = 0
    frozen: int = 0
    yesterday: int = 0
    avg_price: Decimal = Decimal(0)


@dataclass
class SimOrder:
    order_id: int
    sysid: str
    account_id: str
    account_type: int
    code: str
    order_type: int
    volume: int
    price_type: int
    price: Decimal
    strategy_name: str
    remark: str
    time: int
    status: int = WAIT_REPORTING
    status_msg: str = ""
    traded_volume: int = 0
    traded_amount: Decimal = Decimal(0)
    frozen_price: Decimal = Decimal(0)

    @property
    def is_buy(self) -> bool:
        return self.order_type in BUY_TYPES

    @property
    def remaining(self) -> int:
        return self.volume - self.traded_volume

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


@dataclass
class Account:
    account_id: str
    account_type: int
    cash: Decimal = Decimal(1_000_000)
    frozen: Decimal = Decimal(0)
    holdings: dict[str, Holding] = field(default_factory=dict)
    orders: dict[int, SimOrder] = field(default_factory=dict)
    trades: list[Json] = field(default_factory=list)


class Peer:
    """One connection: JSON lines out; every write goes through the sim's loop."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self.writer = writer
        self.role = ""
        self.session: int | None = None
        self.subscribed: set[str] = set()

    def send(self, message: Json) -> None:
        if not self.writer.is_closing():
            self.writer.write((json.dumps(message, ensure_ascii=False) + "\n").encode())

    def close(self) -> None:
        self.writer.close()


class MiniQmt:
    def __init__(self, accounts: dict[str, int]) -> None:
        self.accounts = {a: Account(a, t) for a, t in accounts.items()}
        self.instruments = {i.code: i for i in BUILT_IN}
        self.books: dict[str, Book] = {}
        self.peers: set[Peer] = set()
        self.sessions: dict[int, Peer] = {}
        self.quote_subs: dict[int, tuple[Peer, list[str], str]] = {}
        self.accepting = True
        self.stalled = False
        self.failing: set[str] = set()
        """Queries (`orders`, `trades`, ...) answered with nothing, as a failed query is."""
        self.next_orders: deque[Json] = deque()
        self.remark_limit: int | None = None
        """Remarks kept to this many characters (a counter's limit); None: whole."""
        self._order_ids = itertools.count(1_082_130_433)
        self._sysids = itertools.count(100_001)
        self._trade_ids = itertools.count(900_001)
        self._subs = itertools.count(1)

    # -- connections ---------------------------------------------------------------------

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = Peer(writer)
        self.peers.add(peer)
        try:
            line = await reader.readline()
            if not line or not self._hello(peer, json.loads(line)):
                return
            while line := await reader.readline():
                await self._handle(peer, json.loads(line))
                await writer.drain()
        except (ConnectionError, ValueError):
            pass
        finally:
            self._forget(peer)
            writer.close()

    def _hello(self, peer: Peer, hello: Json) -> bool:
        peer.role = hello.get("role", "")
        if peer.role == "control":
            peer.send({"type": "hello", "result": 0})
            return True
        if not self.accepting:
            peer.send({"type": "hello", "result": -1, "msg": "MiniQMT is not running"})
            return False
        if peer.role == "trade":
            session = int(hello["session"])
            if session in self.sessions:
                peer.send({"type": "hello", "result": -1, "msg": f"session {session} in use"})
                return False
            peer.session = session
            self.sessions[session] = peer
        peer.send({"type": "hello", "result": 0})
        return True

    def _forget(self, peer: Peer) -> None:
        self.peers.discard(peer)
        if peer.session is not None and self.sessions.get(peer.session) is peer:
            del self.sessions[peer.session]
        for sub in [s for s, (p, _, _) in self.quote_subs.items() if p is peer]:
            del self.quote_subs[sub]

    async def _handle(self, peer: Peer, message: Json) -> None:
        if peer.role == "control":
            seq = message["seq"]
            try:
                data = self.control(message["cmd"], message.get("args", {}))
            except Exception as failed:  # the test sent something wrong: tell it
                peer.send({"type": "resp", "seq": seq, "error": repr(failed)})
            else:
                peer.send({"type": "resp", "seq": seq, "data": data})
            if message["cmd"] == "disconnect":
                self.drop_everyone()
            return
        if self.stalled:
            return
        handler = (self._trade_ops if peer.role == "trade" else self._data_ops).get(message["op"])
        if handler is not None:
            await handler(peer, message)

    def drop_everyone(self) -> None:
        for peer in list(self.peers):
            if peer.role != "control":
                peer.close()
                self._forget(peer)

    @property
    def _trade_ops(self) -> dict[str, Callable[[Peer, Json], Awaitable[None]]]:
        return {
            "subscribe": self._subscribe,
            "unsubscribe": self._unsubscribe,
            "order": self._order,
            "cancel": self._cancel,
            "query": self._query,
        }

    @property
    def _data_ops(self) -> dict[str, Callable[[Peer, Json], Awaitable[None]]]:
        return {
            "full_tick": self._full_tick,
            "instrument": self._instrument,
            "subscribe_quote": self._subscribe_quote,
            "unsubscribe_quote": self._unsubscribe_quote,
        }

    def _push(self, account: Account, kind: str, data: Json) -> None:
        for peer in self.peers:
            if peer.role == "trade" and account.account_id in peer.subscribed:
                peer.send({"type": "push", "kind": kind, "data": data})

    # -- trade requests ------------------------------------------------------------------

    async def _subscribe(self, peer: Peer, message: Json) -> None:
        known = message["account_id"] in self.accounts
        if known:
            peer.subscribed.add(message["account_id"])
        peer.send({"type": "resp", "seq": message["seq"], "data": 0 if known else -1})

    async def _unsubscribe(self, peer: Peer, message: Json) -> None:
        peer.subscribed.discard(message["account_id"])
        peer.send({"type": "resp", "seq": message["seq"], "data": 0})

    async def _query(self, peer: Peer, message: Json) -> None:
        account = self.accounts.get(message.get("account_id", ""))
        what = message["what"]
        rows: Any
        if what == "account_infos":
            rows = [
                {"account_id": a.account_id, "account_type": a.account_type, "login_status": 0}
                for a in self.accounts.values()
            ]
        elif what == "account_status":
            rows = [
                {"account_id": a.account_id, "account_type": a.account_type, "status": 0}
                for a in self.accounts.values()
            ]
        elif account is None:
            rows = []
        elif what == "asset":
            rows = [self.asset(account)]
        elif what == "orders":
            orders = list(account.orders.values())
            if message.get("order_id") is not None:
                orders = [o for o in orders if o.order_id == message["order_id"]]
            if message.get("cancelable_only"):
                orders = [o for o in orders if o.is_open]
            rows = [self.order_data(account, o) for o in orders]
        elif what == "trades":
            rows = list(account.trades)
        else:
            codes = [message["stock_code"]] if message.get("stock_code") else None
            rows = [
                self.position_data(account, code, h)
                for code, h in account.holdings.items()
                if codes is None or code in codes
            ]
        if what in self.failing:
            rows = None
        peer.send({"type": "resp", "seq": message["seq"], "data": rows})

    async def _order(self, peer: Peer, message: Json) -> None:
        seq = message["seq"]
        behaviour = self.next_orders.popleft() if self.next_orders else {}
        how = behaviour.get("how", "")
        account = self.accounts.get(message["account_id"])
        if account is None or how == "minus_one":
            error = behaviour.get("error_msg") or f"[COUNTER] 资金账号{message['account_id']}不存在"
            self._order_error(peer, seq, message, -1, behaviour.get("error_id", 100), error)
            self._order_response(peer, seq, message, -1, error)
            return
        order = SimOrder(
            order_id=next(self._order_ids),
            sysid="",
            account_id=account.account_id,
            account_type=account.account_type,
            code=message["stock_code"],
            order_type=int(message["order_type"]),
            volume=int(message["order_volume"]),
            price_type=int(message["price_type"]),
            price=Decimal(str(message["price"])),
            strategy_name=message.get("strategy_name", ""),
            remark=message.get("order_remark", "")[: self.remark_limit],
            time=int(time.time()),
        )
        account.orders[order.order_id] = order
        refused = self.check(account, order)
        if how == "refuse":
            refused = (int(behaviour.get("error_id", 251005)), behaviour["error_msg"])
        if refused is not None:
            error_id, error = refused
            order.status, order.status_msg = JUNK, error
            self._order_error(peer, seq, message, order.order_id, error_id, error)
            self._order_response(peer, seq, message, order.order_id, "")
            self._push(account, "order", self.order_data(account, order))
            return
        if how == "minus_one_live":
            self._order_response(peer, seq, message, -1, "timed out waiting for the counter")
        elif how == "late_response":
            asyncio.get_running_loop().call_later(
                float(behaviour["delay_s"]),
                self._order_response,
                *(peer, seq, message, order.order_id, ""),
            )
        elif how != "drop_response":
            self._order_response(peer, seq, message, order.order_id, "")
        self.accept(account, order)

    def _order_response(
        self, peer: Peer, seq: int, message: Json, order_id: int, error_msg: str
    ) -> None:
        data = {
            "account_id": message["account_id"],
            "account_type": message.get("account_type"),
            "order_id": order_id,
            "strategy_name": message.get("strategy_name", ""),
            "order_remark": message.get("order_remark", ""),
            "error_msg": error_msg,
        }
        peer.send({"type": "order_response", "seq": seq, "data": data})

    def _order_error(
        self, peer: Peer, seq: int, message: Json, order_id: int, error_id: int, error_msg: str
    ) -> None:
        data = {
            "account_id": message["account_id"],
            "account_type": message.get("account_type"),
            "order_id": order_id,
            "error_id": error_id,
            "error_msg": error_msg,
            "strategy_name": message.get("strategy_name", ""),
            "order_remark": message.get("order_remark", ""),
            "seq": seq,
        }
        peer.send({"type": "push", "kind": "order_error", "data": data})

    async def _cancel(self, peer: Peer, message: Json) -> None:
        account = self.accounts.get(message["account_id"])
        order = None
        if account is not None:
            if message.get("order_id") is not None:
                order = account.orders.get(int(message["order_id"]))
            else:
                order = next(
                    (o for o in account.orders.values() if o.sysid == message["order_sysid"]),
                    None,
                )
        response = {
            "account_id": message["account_id"],
            "order_id": message.get("order_id", order.order_id if order else -1),
            "order_sysid": message.get("order_sysid", ""),
        }
        if account is None or order is None or not order.is_open:
            error = "[COUNTER] 委托已成交或已撤单，不能撤单" if order else "[COUNTER] 委托不存在"
            cancel_error = {
                **response,
                "account_type": message.get("account_type"),
                "market": 0 if order is None or order.code.endswith(".SH") else 1,
                "error_id": 260300,
                "error_msg": error,
            }
            peer.send({"type": "push", "kind": "cancel_error", "data": cancel_error})
            data = {**response, "cancel_result": -1, "error_msg": error}
            peer.send({"type": "cancel_response", "seq": message["seq"], "data": data})
            return
        peer.send(
            {
                "type": "cancel_response",
                "seq": message["seq"],
                "data": {**response, "cancel_result": 0, "error_msg": ""},
            }
        )
        self.cancel(account, order)

    # -- the counter and the exchange --------------------------------------------------

    def check(self, account: Account, order: SimOrder) -> tuple[int, str] | None:
        instrument = self.instruments.get(order.code)
        if instrument is None:
            return 251001, f"[COUNTER] [251001][证券代码{order.code}不存在]"
        if order.order_type not in BUY_TYPES | SELL_TYPES:
            return 251002, f"[COUNTER] [251002][不支持的委托类型{order.order_type}]"
        if order.volume <= 0 or (order.is_buy and order.volume % instrument.lot):
            return 251028, "[COUNTER] [251028][委托数量不是交易单位的整数倍]"
        if order.price_type in (FIX_PRICE, LATEST_PRICE):
            down, up = instrument.band()
            if not down <= order.price <= up:
                return 260200, f"[COUNTER] [260200][委托价格超出涨跌停范围{down}-{up}]"
        if order.is_buy:
            order.frozen_price = (
                order.price if order.price_type == FIX_PRICE else instrument.band()[1]
            )
            if order.frozen_price * order.volume > account.cash:
                return 251005, "[COUNTER] [251005][可用资金不足]"
        else:
            holding = account.holdings.get(order.code)
            if holding is None or holding.can_use < order.volume:
                return 251006, "[COUNTER] [251006][证券可用数量不足]"
        return None

    def accept(self, account: Account, order: SimOrder) -> None:
        if order.is_buy:
            needed = order.frozen_price * order.volume
            account.cash -= needed
            account.frozen += needed
        else:
            holding = account.holdings[order.code]
            holding.can_use -= order.volume
            holding.frozen += order.volume
        self._push(account, "order", self.order_data(account, order))
        order.sysid = str(next(self._sysids))
        order.status = REPORTED
        self._push(account, "order", self.order_data(account, order))
        self._push(account, "asset", self.asset(account))
        if order.price_type in MARKET_PRICE_TYPES:
            self.match_market(account, order)
        else:
            self.match(order.code)

    def match(self, code: str) -> None:
        book = self.books.get(code)
        if book is None:
            return
        for account in self.accounts.values():
            for order in sorted(account.orders.values(), key=lambda o: o.order_id):
                if order.code != code or order.status not in (REPORTED, PART_SUCC):
                    continue
                if order.is_buy and book.ask and book.ask_size and book.ask <= order.price:
                    qty = min(order.remaining, book.ask_size)
                    book.ask_size -= qty
                    self.fill(account, order, qty, book.ask)
                elif not order.is_buy and book.bid and book.bid_size and book.bid >= order.price:
                    qty = min(order.remaining, book.bid_size)
                    book.bid_size -= qty
                    self.fill(account, order, qty, book.bid)

    def match_market(self, account: Account, order: SimOrder) -> None:
        """Best five levels, the rest canceled (the sim has one level)."""
        book = self.books.get(order.code)
        if book is not None:
            price, size = (book.ask, book.ask_size) if order.is_buy else (book.bid, book.bid_size)
            qty = min(order.remaining, size) if price else 0
            if qty:
                if order.is_buy:
                    book.ask_size -= qty
                else:
                    book.bid_size -= qty
                self.fill(account, order, qty, price)
        if order.remaining:
            self.end(account, order, "市价剩余撤销")

    def fill(self, account: Account, order: SimOrder, qty: int, price: Decimal) -> Json:
        instrument = self.instruments[order.code]
        amount = price * qty
        commission = max(Decimal(1 if instrument.is_bond else 5), amount * Decimal("0.00025"))
        commission = commission.quantize(Decimal("0.01"), ROUND_HALF_UP)
        holding = account.holdings.setdefault(order.code, Holding())
        if order.is_buy:
            released = order.frozen_price * qty
            account.frozen -= released
            account.cash += released - amount - commission
            held = holding.volume * holding.avg_price
            holding.volume += qty
            holding.avg_price = (held + amount) / holding.volume
            if instrument.is_bond:
                holding.can_use += qty
        else:
            holding.volume -= qty
            holding.frozen -= qty
            account.cash += amount - commission
        order.traded_volume += qty
        order.traded_amount += amount
        order.status = SUCCEEDED if order.remaining == 0 else PART_SUCC
        trade = {
            "account_id": account.account_id,
            "account_type": account.account_type,
            "stock_code": order.code,
            "order_type": order.order_type,
            "traded_id": str(next(self._trade_ids)),
            "traded_time": int(time.time()),
            "traded_price": float(price),
            "traded_volume": qty,
            "traded_amount": money(amount),
            "order_id": order.order_id,
            "order_sysid": order.sysid,
            "strategy_name": order.strategy_name,
            "order_remark": order.remark,
            "direction": DIRECTION_LONG,
            "offset_flag": OFFSET_OPEN if order.is_buy else OFFSET_CLOSE,
            "commission": float(commission),
            "secu_account": "A123456789",
            "instrument_name": instrument.name,
        }
        account.trades.append(trade)
        self._push(account, "order", self.order_data(account, order))
        self._push(account, "trade", trade)
        self._push(account, "position", self.position_data(account, order.code, holding))
        self._push(account, "asset", self.asset(account))
        return trade

    def cancel(self, account: Account, order: SimOrder) -> None:
        order.status = PARTSUCC_CANCEL if order.traded_volume else REPORTED_CANCEL
        self._push(account, "order", self.order_data(account, order))
        self.end(account, order, "")

    def end(self, account: Account, order: SimOrder, message: str) -> None:
        """Take the rest of `order` off the market (canceled, or partly canceled)."""
        if order.is_buy:
            released = order.frozen_price * order.remaining
            account.frozen -= released
            account.cash += released
        else:
            holding = account.holdings[order.code]
            holding.frozen -= order.remaining
            holding.can_use += order.remaining
        order.status = PART_CANCEL if order.traded_volume else CANCELED
        order.status_msg = message
        self._push(account, "order", self.order_data(account, order))
        self._push(account, "asset", self.asset(account))

    # -- what MiniQMT reports ----------------------------------------------------------

    def order_data(self, account: Account, order: SimOrder) -> Json:
        instrument = self.instruments.get(order.code)
        return {
            "account_id": account.account_id,
            "account_type": account.account_type,
            "stock_code": order.code,
            "order_id": order.order_id,
            "order_sysid": order.sysid,
            "order_time": order.time,
            "order_type": order.order_type,
            "order_volume": order.volume,
            "price_type": order.price_type,
            "price": float(order.price),
            "traded_volume": order.traded_volume,
            "traded_price": (
                float(order.traded_amount / order.traded_volume) if order.traded_volume else 0.0
            ),
            "order_status": order.status,
            "status_msg": order.status_msg,
            "strategy_name": order.strategy_name,
            "order_remark": order.remark,
            "direction": DIRECTION_LONG,
            "offset_flag": OFFSET_OPEN if order.is_buy else OFFSET_CLOSE,
            "secu_account": "A123456789",
            "instrument_name": instrument.name if instrument else "",
        }

    def last_price(self, code: str, holding: Holding) -> Decimal:
        book = self.books.get(code)
        if book is not None:
            return book.last
        instrument = self.instruments.get(code)
        return instrument.pre_close if instrument else holding.avg_price

    def position_data(self, account: Account, code: str, holding: Holding) -> Json:
        last = self.last_price(code, holding)
        value = last * holding.volume
        profit = (last - holding.avg_price) * holding.volume
        instrument = self.instruments.get(code)
        return {
            "account_id": account.account_id,
            "account_type": account.account_type,
            "stock_code": code,
            "volume": holding.volume,
            "can_use_volume": holding.can_use,
            "open_price": float(holding.avg_price),
            "market_value": money(value),
            "frozen_volume": holding.frozen,
            "on_road_volume": 0,
            "yesterday_volume": holding.yesterday,
            "avg_price": float(holding.avg_price),
            "direction": DIRECTION_LONG,
            "last_price": float(last),
            "profit_rate": float(profit / (holding.avg_price * holding.volume))
            if holding.volume and holding.avg_price
            else 0.0,
            "secu_account": "A123456789",
            "instrument_name": instrument.name if instrument else "",
            "float_profit": money(profit),
            "open_date": "",
            "position_profit": 0.0,
        }

    def asset(self, account: Account) -> Json:
        value = sum(
            (self.last_price(c, h) * h.volume for c, h in account.holdings.items()), Decimal(0)
        )
        return {
            "account_id": account.account_id,
            "account_type": account.account_type,
            "cash": money(account.cash),
            "frozen_cash": money(account.frozen),
            "market_value": money(value),
            "total_asset": money(account.cash + account.frozen + value),
            "fetch_balance": money(account.cash),
        }

    # -- market data -------------------------------------------------------------------

    def tick(self, code: str) -> Json | None:
        instrument = self.instruments.get(code)
        if instrument is None:
            return None
        book = self.books.get(code) or Book(last=instrument.pre_close, time_ms=_now_ms())
        lot = instrument.lot
        return {
            "time": book.time_ms,
            "lastPrice": float(book.last),
            "open": float(book.last),
            "high": float(book.last),
            "low": float(book.last),
            "lastClose": float(book.pre_close or instrument.pre_close),
            "amount": 0.0,
            "volume": book.volume // lot,
            "pvolume": book.volume,
            "stockStatus": 3,
            "openInt": 13,
            "askPrice": [float(book.ask), 0.0, 0.0, 0.0, 0.0],
            "bidPrice": [float(book.bid), 0.0, 0.0, 0.0, 0.0],
            "askVol": [book.ask_size // lot, 0, 0, 0, 0],
            "bidVol": [book.bid_size // lot, 0, 0, 0, 0],
            "transactionNum": 0,
        }

    async def _full_tick(self, peer: Peer, message: Json) -> None:
        ticks = {code: self.tick(code) for code in message["codes"]}
        data = {code: tick for code, tick in ticks.items() if tick is not None}
        peer.send({"type": "resp", "seq": message["seq"], "data": data})

    async def _instrument(self, peer: Peer, message: Json) -> None:
        instrument = self.instruments.get(message["code"])
        data = instrument.detail() if instrument else None
        peer.send({"type": "resp", "seq": message["seq"], "data": data})

    async def _subscribe_quote(self, peer: Peer, message: Json) -> None:
        sub = next(self._subs)
        self.quote_subs[sub] = (peer, list(message["codes"]), message.get("period", "1d"))
        peer.send({"type": "resp", "seq": message["seq"], "data": sub})

    async def _unsubscribe_quote(self, peer: Peer, message: Json) -> None:
        self.quote_subs.pop(int(message["sub"]), None)
        peer.send({"type": "resp", "seq": message["seq"], "data": None})

    def publish(self, code: str) -> None:
        tick = self.tick(code)
        for sub, (peer, codes, period) in list(self.quote_subs.items()):
            if code in codes and period == "tick" and tick is not None:
                peer.send({"type": "quote", "sub": sub, "data": {code: tick}})

    # -- the test's controls -----------------------------------------------------------

    def control(self, command: str, args: Json) -> Any:
        handler: Callable[[Json], Any] = getattr(self, f"ctl_{command}")
        return handler(args)

    def ctl_set_quote(self, args: Json) -> Json | None:
        code = args["code"]
        instrument = self.instruments[code]
        book = self.books.setdefault(code, Book(last=Decimal(str(args["last"]))))
        book.last = Decimal(str(args["last"]))
        book.bid = Decimal(str(args.get("bid", 0)))
        book.ask = Decimal(str(args.get("ask", 0)))
        book.bid_size = int(args.get("bid_size", 0))
        book.ask_size = int(args.get("ask_size", 0))
        book.pre_close = Decimal(str(args.get("pre_close", instrument.pre_close)))
        book.time_ms = _now_ms()
        self.match(code)
        self.publish(code)
        return self.tick(code)

    def ctl_set_cash(self, args: Json) -> None:
        self.accounts[args["account"]].cash = Decimal(str(args["cash"]))

    def ctl_set_position(self, args: Json) -> None:
        account = self.accounts[args["account"]]
        volume = int(args["volume"])
        account.holdings[args["code"]] = Holding(
            volume=volume,
            can_use=int(args.get("can_use", volume)),
            yesterday=volume,
            avg_price=Decimal(str(args["avg_price"])),
        )

    def ctl_next_order(self, args: Json) -> None:
        """How the next order is answered: `how` = drop_response (processed, never answered),
        minus_one (refused: error, then a response with order id -1), minus_one_live (a -1
        response for an order that is in fact live), refuse (error_id, error_msg),
        late_response (answered after `delay_s`)."""
        self.next_orders.append(args)

    def ctl_remark_limit(self, args: Json) -> None:
        """Keep remarks of new orders to `length` characters (0: drop them), as some brokers'
        counters do; `length` null: whole again."""
        self.remark_limit = args.get("length")

    def ctl_fill(self, args: Json) -> Json:
        account, order = self._find(int(args["order_id"]))
        return self.fill(account, order, int(args["volume"]), Decimal(str(args["price"])))

    def ctl_terminal_order(self, args: Json) -> int:
        """An order typed into the QMT terminal: no remark, no strategy name."""
        account = self.accounts[args["account"]]
        order = SimOrder(
            order_id=next(self._order_ids),
            sysid="",
            account_id=account.account_id,
            account_type=account.account_type,
            code=args["code"],
            order_type=23 if args["side"] == "buy" else 24,
            volume=int(args["volume"]),
            price_type=FIX_PRICE,
            price=Decimal(str(args["price"])),
            strategy_name="",
            remark="",
            time=int(time.time()),
        )
        account.orders[order.order_id] = order
        refused = self.check(account, order)
        if refused is not None:
            raise ValueError(refused[1])
        self.accept(account, order)
        return order.order_id

    def ctl_disconnect(self, args: Json) -> None:
        """Every session and data client is dropped (after this answer); new ones are refused
        until `accept`."""
        self.accepting = False

    def ctl_accept(self, args: Json) -> None:
        self.accepting = bool(args.get("on", True))

    def ctl_fail_queries(self, args: Json) -> None:
        """Answer the queries named in `what` with nothing (xtquant: None, a failed query)."""
        self.failing = set(args.get("what", []))

    def ctl_stall(self, args: Json) -> None:
        self.stalled = bool(args.get("on", True))

    def ctl_push(self, args: Json) -> None:
        """A raw push of `kind` with `data` to the sessions of `account` (for values no
        normal flow produces)."""
        self._push(self.accounts[args["account"]], args["kind"], args["data"])

    def ctl_state(self, args: Json) -> Json:
        account = self.accounts[args["account"]]
        return {
            "orders": [self.order_data(account, o) for o in account.orders.values()],
            "trades": list(account.trades),
            "asset": self.asset(account),
            "sessions": sorted(self.sessions),
            "subscribed": sorted(
                p.session or 0 for p in self.peers if account.account_id in p.subscribed
            ),
            "data_clients": sum(1 for p in self.peers if p.role == "data"),
            "quote_subscriptions": sorted(
                code for _, codes, _ in self.quote_subs.values() for code in codes
            ),
        }

    def _find(self, order_id: int) -> tuple[Account, SimOrder]:
        for account in self.accounts.values():
            if order_id in account.orders:
                return account, account.orders[order_id]
        raise KeyError(f"no order {order_id}")


def _now_ms() -> int:
    return int(time.time() * 1000)


def write_port_file(userdata: Path, port: int) -> None:
    userdata.mkdir(parents=True, exist_ok=True)
    (userdata / PORT_FILE).write_text(json.dumps({"host": "127.0.0.1", "port": port}))


async def main(userdata: Path, accounts: dict[str, int]) -> None:
    sim = MiniQmt(accounts)
    server = await asyncio.start_server(sim.serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    write_port_file(userdata, port)
    print(f"ready {port}", flush=True)
    async with server:
        await server.serve_forever()


def parse_accounts(specs: list[str]) -> dict[str, int]:
    accounts = {}
    for spec in specs:
        account_id, _, kind = spec.partition(":")
        accounts[account_id] = ACCOUNT_TYPES[kind or "STOCK"]
    return accounts


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main(Path(sys.argv[1]), parse_accounts(sys.argv[2:])))
