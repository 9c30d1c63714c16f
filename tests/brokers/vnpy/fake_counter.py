"""A fake futures and stock counter (the broker's trading server) for the fake vnpy gateway.

Run as its own process: `python -m tests.brokers.vnpy.fake_counter PORT`. It speaks JSON
lines over TCP on loopback, and keeps its books in memory for as long as it runs, so an
engine killed and restarted finds the day's orders and trades replayed at its next login, as
a CTP front replays its private flow.

Gateway messages: `login`, `insert`, `cancel`, `query_account`, `query_position`,
`subscribe`. Counter messages: `login` (front, session), `contract`... `contracts_done`, the
replay (`order`, `trade`), then live `order`, `trade`, `rejected`, `cancel_error`, `account`,
`position`... `positions_done`, `tick`.

Control messages (from tests, on the same port; each answered with `{"op": "ok", ...}`):
`ctl.quote` (set a market; resting orders that cross fill against the displayed size, so a
small size means partial fills), `ctl.drop` (close every gateway connection, optionally
refusing logins for `refuse_s`), `ctl.hold` (keep pushes of orders and trades back while on,
send them when off), `ctl.external` (an order entered in the broker's own app),
`ctl.orders` (what the counter has), `ctl.new_day` (today's lots become yesterday's, the
day's orders and trades are gone).

Rules: limit orders fill when they cross (buy at or above the ask, at the ask; sell at or
below the bid, at the bid), market orders at once at the other side; futures need an offset;
on SHFE and INE `CLOSETODAY` closes today's lots and `CLOSE`/`CLOSEYESTERDAY` yesterday's,
elsewhere every close takes yesterday's first; closing more than is held is refused, as is a
price off the tick.
"""

import asyncio
import contextlib
import json
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

CHINA = ZoneInfo("Asia/Shanghai")
TODAY_APART = {"SHFE", "INE"}
FUTURES = {"SHFE", "DCE", "CZCE", "CFFEX", "INE", "GFEX"}
CONTRACTS = [
    # symbol, exchange, name, product, size, tick, min volume
    ("cu2601", "SHFE", "沪铜2601", "FUTURES", 5, "10", 1),
    ("rb2601", "SHFE", "螺纹钢2601", "FUTURES", 10, "1", 1),
    ("IF2601", "CFFEX", "沪深300股指2601", "FUTURES", 300, "0.2", 1),
    ("m2601", "DCE", "豆粕2601", "FUTURES", 10, "1", 1),
    ("cu2601C80000", "SHFE", "沪铜期权", "OPTION", 5, "2", 1),
    ("600519", "SSE", "贵州茅台", "EQUITY", 1, "0.01", 100),
    ("000001", "SZSE", "平安银行", "EQUITY", 1, "0.01", 100),
]
MARGIN_RATE = Decimal("0.1")
START_BALANCE = Decimal(10_000_000)


def china_time() -> str:
    """Now as the exchanges stamp it (China time, to the second)."""
    return datetime.now(CHINA).strftime("%Y%m%d %H:%M:%S")


def closes(exchange: str, direction: str, offset: str) -> bool:
    """Whether an order takes lots: a futures close, or a stock sell."""
    if exchange in FUTURES:
        return offset not in ("OPEN", "NONE")
    return direction == "SHORT"


@dataclass
class Lots:
    today: int = 0
    yesterday: int = 0
    frozen: int = 0
    cost: Decimal = Decimal(0)


@dataclass
class Order:
    key: str
    symbol: str
    exchange: str
    direction: str
    offset: str
    type: str
    price: Decimal
    volume: int
    time: str
    traded: int = 0
    status: str = "NOTTRADED"
    session: str = ""

    def wire(self) -> dict[str, Any]:
        return {
            "op": "order",
            "key": self.key,
            "symbol": self.symbol,
            "exchange": self.exchange,
            "direction": self.direction,
            "offset": self.offset,
            "type": self.type,
            "price": str(self.price),
            "volume": self.volume,
            "traded": self.traded,
            "status": self.status,
            "time": self.time,
        }

    @property
    def active(self) -> bool:
        return self.status in ("NOTTRADED", "PARTTRADED")


@dataclass
class Market:
    bid: Decimal | None = None
    ask: Decimal | None = None
    last: Decimal | None = None
    bid_size: int = 0
    ask_size: int = 0


@dataclass
class Counter:
    orders: dict[str, Order] = field(default_factory=dict)
    trades: list[dict[str, Any]] = field(default_factory=list)
    lots: dict[tuple[str, str], Lots] = field(default_factory=dict)
    markets: dict[str, Market] = field(default_factory=dict)
    balance: Decimal = START_BALANCE
    clients: set["Client"] = field(default_factory=set)
    holding: bool = False
    held: list[dict[str, Any]] = field(default_factory=list)
    refuse_until: float = 0.0
    sessions: int = 0
    trade_seq: int = 0
    external_seq: int = 0

    def contract(self, symbol: str) -> tuple[Any, ...]:
        return next(c for c in CONTRACTS if c[0] == symbol)

    # ---------------------------------------------------------------- pushes

    def push(self, message: dict[str, Any]) -> None:
        """An order or trade message to every logged-in gateway (or held back)."""
        if self.holding:
            self.held.append(message)
            return
        for client in list(self.clients):
            if client.logged_in:
                client.send(message)

    def push_books(self) -> None:
        for client in list(self.clients):
            if client.logged_in:
                client.send(self.account())

    def account(self) -> dict[str, Any]:
        frozen = sum(
            (self.margin(o.symbol, o.price, o.volume - o.traded) for o in self._opens()),
            Decimal(0),
        )
        used = sum(
            (lots.cost * MARGIN_RATE for (symbol, _), lots in self.lots.items()),
            Decimal(0),
        )
        return {
            "op": "account",
            "account": "8001",
            "balance": str(self.balance),
            "frozen": str(frozen),
            "available": str(self.balance - frozen - used),
        }

    def _opens(self) -> list[Order]:
        return [o for o in self.orders.values() if o.active and o.offset == "OPEN"]

    def margin(self, symbol: str, price: Decimal, qty: int) -> Decimal:
        _, exchange, _, _, size, _, _ = self.contract(symbol)
        if exchange not in FUTURES:
            return Decimal(0)
        return price * qty * size * MARGIN_RATE

    def positions(self) -> list[dict[str, Any]]:
        rows = []
        for (symbol, direction), lots in self.lots.items():
            volume = lots.today + lots.yesterday
            _, exchange, _, _, size, _, _ = self.contract(symbol)
            price = lots.cost / (volume * size) if volume else Decimal(0)
            rows.append(
                {
                    "op": "position",
                    "symbol": symbol,
                    "exchange": exchange,
                    "direction": direction,
                    "volume": volume,
                    "yd_volume": lots.yesterday,
                    "frozen": lots.frozen,
                    "price": str(price),
                }
            )
        return rows

    # ---------------------------------------------------------------- orders

    def insert(self, message: dict[str, Any], session: str) -> dict[str, Any] | None:
        """A new order, or the refusal to send back to the gateway that sent it."""
        symbol, exchange = message["symbol"], message["exchange"]
        key = f"{session}_{message['ref']}"
        try:
            contract = self.contract(symbol)
        except StopIteration:
            return self._refusal(key, message, 16, "CTP:找不到合约")
        price = Decimal(message["price"])
        tick = Decimal(contract[5])
        if message["type"] != "MARKET" and price % tick:
            return self._refusal(key, message, 22, "CTP:报单价格不是最小变动价位的整数倍")
        offset = message["offset"]
        if exchange in FUTURES and offset == "NONE":
            return self._refusal(key, message, 15, "CTP:报单字段有误")
        volume = int(message["volume"])
        if closes(exchange, message["direction"], offset):
            lots = self._closable(symbol, message["direction"], exchange, offset)
            if lots is None or lots < volume:
                return self._refusal(key, message, 30, "CTP:平仓量超过持仓量")
            held = self.lots[(symbol, self._held_side(message["direction"]))]
            held.frozen += volume
        order = Order(
            key=key,
            symbol=symbol,
            exchange=exchange,
            direction=message["direction"],
            offset=offset,
            type=message["type"],
            price=price,
            volume=volume,
            time=china_time(),
            session=session,
        )
        self.orders[key] = order
        self.push(order.wire())
        self.match(order)
        return None

    def _refusal(self, key: str, message: dict[str, Any], code: int, text: str) -> dict[str, Any]:
        return {**message, "op": "rejected", "key": key, "code": code, "msg": text}

    @staticmethod
    def _held_side(direction: str) -> str:
        """A closing buy takes the short lots, a closing sell the long ones."""
        return "SHORT" if direction == "LONG" else "LONG"

    def _closable(self, symbol: str, direction: str, exchange: str, offset: str) -> int | None:
        lots = self.lots.get((symbol, self._held_side(direction)))
        if lots is None:
            return None
        free_today, free_yd = lots.today, lots.yesterday
        free = free_today + free_yd - lots.frozen
        if exchange in TODAY_APART:
            if offset == "CLOSETODAY":
                return min(free_today, free)
            return min(free_yd, free)
        return free

    def cancel(self, key: str) -> dict[str, Any] | None:
        order = self.orders.get(key)
        if order is None or not order.active:
            return {"op": "cancel_error", "key": key, "code": 26, "msg": "CTP:报单已全成交或已撤销"}
        order.status = "CANCELLED"
        self._unfreeze(order)
        self.push(order.wire())
        self.push_books()
        return None

    def _unfreeze(self, order: Order) -> None:
        if closes(order.exchange, order.direction, order.offset):
            held = self.lots[(order.symbol, self._held_side(order.direction))]
            held.frozen -= order.volume - order.traded

    def set_market(self, symbol: str, market: Market) -> None:
        self.markets[symbol] = market
        for order in list(self.orders.values()):
            if order.symbol == symbol and order.active:
                self.match(order)
        tick = self.tick(symbol)
        for client in list(self.clients):
            if client.logged_in and symbol in client.subscribed:
                client.send(tick)

    def tick(self, symbol: str) -> dict[str, Any]:
        market = self.markets.get(symbol, Market())
        text = lambda value: str(value) if value is not None else "0"  # noqa: E731
        return {
            "op": "tick",
            "symbol": symbol,
            "exchange": self.contract(symbol)[1],
            "last": text(market.last),
            "bid": text(market.bid),
            "ask": text(market.ask),
            "bid_size": market.bid_size,
            "ask_size": market.ask_size,
        }

    def match(self, order: Order) -> None:
        market = self.markets.get(order.symbol)
        if market is None:
            return
        buy = order.direction == "LONG"
        price, size = (market.ask, market.ask_size) if buy else (market.bid, market.bid_size)
        if price is None or size <= 0:
            return
        crosses = order.type == "MARKET" or (price <= order.price if buy else price >= order.price)
        if not crosses:
            return
        qty = min(size, order.volume - order.traded)
        if buy:
            market.ask_size -= qty
        else:
            market.bid_size -= qty
        self.fill(order, qty, price)

    def fill(self, order: Order, qty: int, price: Decimal) -> None:
        order.traded += qty
        order.status = "ALLTRADED" if order.traded == order.volume else "PARTTRADED"
        self.trade_seq += 1
        trade = {
            "op": "trade",
            "key": order.key,
            "tradeid": f"{self.trade_seq:>12}",
            "symbol": order.symbol,
            "exchange": order.exchange,
            "direction": order.direction,
            "offset": order.offset,
            "price": str(price),
            "volume": qty,
            "time": china_time(),
        }
        self.trades.append(trade)
        self._book(order, qty, price)
        self.push(order.wire())  # CTP: OnRtnOrder, then OnRtnTrade
        self.push(trade)
        self.push_books()

    def _book(self, order: Order, qty: int, price: Decimal) -> None:
        size = self.contract(order.symbol)[4]
        if not closes(order.exchange, order.direction, order.offset):
            lots = self.lots.setdefault((order.symbol, order.direction), Lots())
            lots.today += qty
            lots.cost += price * qty * size
            if order.exchange not in FUTURES:
                self.balance -= price * qty
            return
        held = self.lots[(order.symbol, self._held_side(order.direction))]
        held.frozen -= qty
        take_today = (
            qty
            if order.exchange in TODAY_APART and order.offset == "CLOSETODAY"
            else max(qty - held.yesterday, 0)
        )
        volume = held.today + held.yesterday
        held.cost -= held.cost * qty / volume if volume else 0
        held.today -= take_today
        held.yesterday -= qty - take_today
        if order.exchange not in FUTURES:
            self.balance += price * qty

    def new_day(self) -> None:
        for lots in self.lots.values():
            lots.yesterday += lots.today
            lots.today = 0
            lots.frozen = 0
        self.orders.clear()
        self.trades.clear()


class Client:
    def __init__(self, counter: Counter, writer: asyncio.StreamWriter) -> None:
        self.counter = counter
        self.writer = writer
        self.logged_in = False
        self.session = ""
        self.subscribed: set[str] = set()

    def send(self, message: dict[str, Any]) -> None:
        if not self.writer.is_closing():
            self.writer.write(json.dumps(message, ensure_ascii=False).encode() + b"\n")

    def login(self, message: dict[str, Any]) -> None:
        counter = self.counter
        if time.monotonic() < counter.refuse_until:
            self.writer.close()
            return
        if message.get("password") != "secret":
            self.send({"op": "login", "ok": False, "code": 3, "msg": "CTP:不合法的登录"})
            return
        counter.sessions += 1
        self.session = f"1_{counter.sessions}"
        self.send({"op": "login", "ok": True, "front": 1, "session": counter.sessions})
        for symbol, exchange, name, product, size, tick, min_volume in CONTRACTS:
            self.send(
                {
                    "op": "contract",
                    "symbol": symbol,
                    "exchange": exchange,
                    "name": name,
                    "product": product,
                    "size": size,
                    "pricetick": tick,
                    "min_volume": min_volume,
                }
            )
        # The day's private flow, from its start (CTP's THOST_TERT_RESTART)
        for order in counter.orders.values():
            self.send(order.wire())
        for trade in counter.trades:
            self.send(trade)
        self.send({"op": "contracts_done"})
        self.logged_in = True

    def handle(self, message: dict[str, Any]) -> dict[str, Any] | None:
        counter, op = self.counter, message["op"]
        if op == "login":
            self.login(message)
        elif not op.startswith("ctl.") and not self.logged_in:
            return {"op": "error", "msg": "not logged in"}
        elif op == "insert":
            refusal = counter.insert(message, self.session)
            if refusal is not None:
                self.send(refusal)
            counter.push_books()
        elif op == "cancel":
            refusal = counter.cancel(message["key"])
            if refusal is not None:
                self.send(refusal)
        elif op == "query_account":
            self.send(counter.account())
        elif op == "query_position":
            for row in counter.positions():
                self.send(row)
            self.send({"op": "positions_done"})
        elif op == "subscribe":
            self.subscribed.add(message["symbol"])
            if message["symbol"] in counter.markets:
                self.send(counter.tick(message["symbol"]))
        else:
            return control(counter, message)
        return None


def control(counter: Counter, message: dict[str, Any]) -> dict[str, Any]:
    op = message["op"]
    if op == "ctl.quote":

        def price(name: str) -> Decimal | None:
            return Decimal(message[name]) if message.get(name) is not None else None

        market = Market(
            bid=price("bid"),
            ask=price("ask"),
            last=price("last"),
            bid_size=int(message.get("bid_size", 100)),
            ask_size=int(message.get("ask_size", 100)),
        )
        counter.set_market(message["symbol"], market)
    elif op == "ctl.drop":
        counter.refuse_until = time.monotonic() + float(message.get("refuse_s", 0))
        for client in list(counter.clients):
            if client.logged_in:
                client.writer.close()
    elif op == "ctl.hold":
        counter.holding = bool(message["on"])
        if not counter.holding:
            held, counter.held = counter.held, []
            for pushed in held:
                counter.push(pushed)
    elif op == "ctl.external":
        counter.external_seq += 1
        refusal = counter.insert({**message, "ref": str(counter.external_seq)}, "app")
        if refusal is not None:
            return {"op": "error", "msg": refusal["msg"]}
    elif op == "ctl.orders":
        return {
            "op": "ok",
            "orders": [o.wire() for o in counter.orders.values()],
            "trades": counter.trades,
        }
    elif op == "ctl.new_day":
        counter.new_day()
    else:
        return {"op": "error", "msg": f"unknown op {op}"}
    return {"op": "ok"}


async def serve(port: int) -> None:
    counter = Counter()

    async def connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        client = Client(counter, writer)
        counter.clients.add(client)
        try:
            while line := await reader.readline():
                answer = client.handle(json.loads(line))
                if answer is not None:
                    client.send(answer)
                await writer.drain()
        except (ConnectionError, json.JSONDecodeError):
            pass
        finally:
            counter.clients.discard(client)
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    server = await asyncio.start_server(connection, "127.0.0.1", port)
    print(f"fake counter listening on {port}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(serve(int(sys.argv[1])))
