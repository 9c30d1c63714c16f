"""A vnpy gateway for tests, behaving as vnpy's CTP gateway does, in front of the fake counter
(`fake_counter.py`, its own process).

Like `vnpy_ctp`'s `CtpGateway`: `connect()` returns at once and a thread of its own connects,
logs in, and reconnects after a drop (as CTP's native API does), `td_api.login_status` says
whether it is logged in; instruments come at login, and the orders and trades the counter
replays are pushed only once the instruments are in (CTP buffers them until
`合约信息查询成功`); `send_order` pushes the order `SUBMITTING` on the caller's thread and
returns its vt_orderid (`frontid_sessionid_orderref`), or returns "" with a log line when it
cannot send (not logged in, no offset for a future, its flow control); the counter's
acknowledgment (`NOTTRADED`), fills, cancels and rejections arrive on the gateway's thread; a
rejection is pushed `REJECTED`, then logged; a refused cancel is only logged; account and
positions are queried on the event engine's timer, one every other second.

Its setting, with Chinese keys as vnpy gateways have: 用户名, 密码, 交易服务器 (host:port),
流控 (orders per second, 0 for none), 下单延迟 (seconds `send_order` blocks after the order
went out, before it pushes and returns it, as a gateway whose send is synchronous),
不返回委托号 (`send_order` returns None, as vnpy_hft 1.0.3's does: it drops its own result).

It imports only vnpy's event, gateway, object and constant modules.
"""

import contextlib
import json
import socket
import threading
import time
from collections import deque
from datetime import datetime
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from vnpy.event import EVENT_TIMER, Event, EventEngine
from vnpy.trader.constant import Direction, Exchange, Offset, OrderType, Product, Status
from vnpy.trader.gateway import BaseGateway
from vnpy.trader.object import (
    AccountData,
    CancelRequest,
    ContractData,
    OrderData,
    OrderRequest,
    PositionData,
    SubscribeRequest,
    TickData,
    TradeData,
)

CHINA = ZoneInfo("Asia/Shanghai")
RECONNECT_S = 0.5


def _time(text: str) -> datetime:
    return datetime.strptime(text, "%Y%m%d %H:%M:%S").replace(tzinfo=CHINA)


class FakeTdApi:
    """The trading session: a socket to the counter and the thread reading it."""

    def __init__(self, gateway: "FakeGateway") -> None:
        self.gateway = gateway
        self.connect_status = False
        self.login_status = False
        self.contract_inited = False
        self.frontid = 0
        self.sessionid = 0
        self.order_ref = 0
        self.address = ("127.0.0.1", 0)
        self.userid = ""
        self.password = ""
        self._socket: socket.socket | None = None
        self._send_lock = threading.Lock()
        self._active = False
        self._thread: threading.Thread | None = None
        self._buffered: list[dict[str, Any]] = []
        self._positions: list[PositionData] = []
        self._exchanges: dict[str, Exchange] = {}

    def connect(self, address: str, userid: str, password: str) -> None:
        host, _, port = address.rpartition(":")
        self.address = (host, int(port))
        self.userid, self.password = userid, password
        if not self.connect_status:
            self._active = True
            self._thread = threading.Thread(target=self._run, name="fake-td", daemon=True)
            self._thread.start()
            self.connect_status = True

    def send(self, message: dict[str, Any]) -> bool:
        sock = self._socket
        if sock is None:
            return False
        try:
            with self._send_lock:
                sock.sendall(json.dumps(message, ensure_ascii=False).encode() + b"\n")
        except OSError:
            return False
        return True

    def _run(self) -> None:
        while self._active:
            try:
                sock = socket.create_connection(self.address, timeout=2)
            except OSError as exc:
                self.gateway.write_log(f"交易服务器连接失败，原因{exc.errno}")
                time.sleep(RECONNECT_S)
                continue
            sock.settimeout(None)
            self._socket = sock
            self.gateway.write_log("交易服务器连接成功")
            self.send({"op": "login", "user": self.userid, "password": self.password})
            try:
                with sock.makefile("rb") as lines:
                    for line in lines:
                        self._on_message(json.loads(line))
            except (OSError, ValueError):
                pass
            self._socket = None
            with contextlib.suppress(OSError):
                sock.close()
            was_logged_in = self.login_status
            self.login_status = False
            self.contract_inited = False
            if self._active and was_logged_in:
                self.gateway.write_log("交易服务器连接断开，原因4097")
            time.sleep(RECONNECT_S)

    def close(self) -> None:
        self._active = False
        sock = self._socket
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(5)

    # ------------------------------------------------------------------ counter messages

    def _on_message(self, message: dict[str, Any]) -> None:
        op = message["op"]
        gateway = self.gateway
        if op == "login":
            if message["ok"]:
                self.frontid, self.sessionid = message["front"], message["session"]
                self.login_status = True
                gateway.write_log("交易服务器登录成功")
            else:
                gateway.write_log(
                    f"交易服务器登录失败，代码：{message['code']}，信息：{message['msg']}"
                )
        elif op == "contract":
            self._contract(message)
        elif op == "contracts_done":
            self.contract_inited = True
            gateway.write_log("合约信息查询成功")
            buffered, self._buffered = self._buffered, []
            for held in buffered:
                self._on_message(held)
        elif op in ("order", "trade") and not self.contract_inited:
            self._buffered.append(message)
        elif op == "order":
            gateway.on_order(self._order(message))
        elif op == "trade":
            gateway.on_trade(self._trade(message))
        elif op == "rejected":
            rejected = {**message, "traded": 0, "status": "REJECTED"}
            gateway.reject(
                self._order({**rejected, "time": time.strftime("%Y%m%d %H:%M:%S")}), message
            )
        elif op == "cancel_error":
            gateway.write_log(f"交易撤单失败，代码：{message['code']}，信息：{message['msg']}")
        elif op == "account":
            account = AccountData(
                accountid=message["account"],
                balance=float(message["balance"]),
                frozen=float(message["frozen"]),
                gateway_name=gateway.gateway_name,
            )
            account.available = float(message["available"])
            gateway.on_account(account)
        elif op == "position":
            self._positions.append(
                PositionData(
                    symbol=message["symbol"],
                    exchange=Exchange(message["exchange"]),
                    direction=Direction[message["direction"]],
                    volume=message["volume"],
                    yd_volume=message["yd_volume"],
                    frozen=message["frozen"],
                    price=float(message["price"]),
                    gateway_name=gateway.gateway_name,
                )
            )
        elif op == "positions_done":
            positions, self._positions = self._positions, []
            for position in positions:
                gateway.on_position(position)
        elif op == "tick":
            gateway.on_tick(self._tick(message))

    def _contract(self, message: dict[str, Any]) -> None:
        contract = ContractData(
            symbol=message["symbol"],
            exchange=Exchange(message["exchange"]),
            name=message["name"],
            product=Product[message["product"]],
            size=message["size"],
            pricetick=float(message["pricetick"]),
            min_volume=message["min_volume"],
            gateway_name=self.gateway.gateway_name,
        )
        self._exchanges[contract.symbol] = contract.exchange
        self.gateway.on_contract(contract)

    def _order(self, message: dict[str, Any]) -> OrderData:
        return OrderData(
            symbol=message["symbol"],
            exchange=Exchange(message["exchange"]),
            orderid=message["key"],
            type=OrderType[message["type"]],
            direction=Direction[message["direction"]],
            offset=Offset[message["offset"]],
            price=float(message["price"]),
            volume=message["volume"],
            traded=message["traded"],
            status=Status[message["status"]],
            datetime=_time(message["time"]),
            gateway_name=self.gateway.gateway_name,
        )

    def _trade(self, message: dict[str, Any]) -> TradeData:
        return TradeData(
            symbol=message["symbol"],
            exchange=Exchange(message["exchange"]),
            orderid=message["key"],
            tradeid=message["tradeid"],
            direction=Direction[message["direction"]],
            offset=Offset[message["offset"]],
            price=float(message["price"]),
            volume=message["volume"],
            datetime=_time(message["time"]),
            gateway_name=self.gateway.gateway_name,
        )

    def _tick(self, message: dict[str, Any]) -> TickData:
        return TickData(
            symbol=message["symbol"],
            exchange=Exchange(message["exchange"]),
            datetime=datetime.now(CHINA),
            last_price=float(message["last"]),
            bid_price_1=float(message["bid"]),
            ask_price_1=float(message["ask"]),
            bid_volume_1=message["bid_size"],
            ask_volume_1=message["ask_size"],
            gateway_name=self.gateway.gateway_name,
        )


class FakeGateway(BaseGateway):
    """The fake counter's gateway (see the module docstring)."""

    default_name = "FAKE"
    default_setting: ClassVar[dict[str, Any]] = {
        "用户名": "",
        "密码": "",
        "交易服务器": "",
        "流控": 0,
        "下单延迟": 0.0,
        "不返回委托号": False,
    }
    exchanges: ClassVar[list[Exchange]] = [
        Exchange.SHFE,
        Exchange.CFFEX,
        Exchange.DCE,
        Exchange.SSE,
        Exchange.SZSE,
    ]

    def __init__(self, event_engine: EventEngine, gateway_name: str) -> None:
        super().__init__(event_engine, gateway_name)
        self.td_api = FakeTdApi(self)
        self.count = 0
        self.flow_limit = 0
        self.send_delay_s = 0.0
        self._sent: deque[float] = deque()
        self._subscribed: set[str] = set()
        self._ref_lock = threading.Lock()

    def connect(self, setting: dict[str, Any]) -> None:
        self.flow_limit = int(setting.get("流控", 0))
        self.send_delay_s = float(setting.get("下单延迟", 0.0))
        self.returns_nothing = bool(setting.get("不返回委托号", False))
        self.td_api.connect(setting["交易服务器"], setting["用户名"], setting["密码"])
        self.event_engine.register(EVENT_TIMER, self.process_timer_event)

    def process_timer_event(self, event: Event) -> None:
        self.count += 1
        if self.count < 2:
            return
        self.count = 0
        self.query_account()
        self.query_position()
        for symbol in self._subscribed:
            self.td_api.send({"op": "subscribe", "symbol": symbol})  # again after a login

    def send_order(self, req: OrderRequest) -> str:
        td = self.td_api
        if req.exchange not in (Exchange.SSE, Exchange.SZSE) and req.offset is Offset.NONE:
            self.write_log("请选择开平方向")
            return ""
        if self.flow_limit:
            now = time.monotonic()
            while self._sent and self._sent[0] < now - 1:
                self._sent.popleft()
            if len(self._sent) >= self.flow_limit:
                self.write_log("委托请求发送失败，错误代码：-3")
                return ""
            self._sent.append(now)
        if not td.login_status:
            self.write_log("委托请求发送失败，错误代码：-1")
            return ""
        with self._ref_lock:
            td.order_ref += 1
            ref = td.order_ref
        message = {
            "op": "insert",
            "ref": str(ref),
            "symbol": req.symbol,
            "exchange": req.exchange.value,
            "direction": req.direction.name,
            "offset": req.offset.name,
            "type": req.type.name,
            "price": repr(req.price),
            "volume": int(req.volume),
        }
        if not td.send(message):
            self.write_log("委托请求发送失败，错误代码：-1")
            return ""
        if self.send_delay_s:
            time.sleep(self.send_delay_s)
        order = req.create_order_data(f"{td.frontid}_{td.sessionid}_{ref}", self.gateway_name)
        self.on_order(order)
        if self.returns_nothing:  # as vnpy_hft 1.0.3's HftGateway.send_order does
            return None  # type: ignore[return-value]
        return str(order.vt_orderid)

    def reject(self, order: OrderData, message: dict[str, Any]) -> None:
        """As CTP's `onRspOrderInsert`: the order pushed rejected, then the error logged."""
        self.on_order(order)
        self.write_log(f"交易委托失败，代码：{message['code']}，信息：{message['msg']}")

    def cancel_order(self, req: CancelRequest) -> None:
        self.td_api.send({"op": "cancel", "key": req.orderid})

    def subscribe(self, req: SubscribeRequest) -> None:
        self._subscribed.add(req.symbol)
        self.td_api.send({"op": "subscribe", "symbol": req.symbol})

    def query_account(self) -> None:
        self.td_api.send({"op": "query_account"})

    def query_position(self) -> None:
        self.td_api.send({"op": "query_position"})

    def close(self) -> None:
        self.td_api.close()
