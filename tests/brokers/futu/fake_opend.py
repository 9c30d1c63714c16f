"""A fake Futu OpenD: the FT header + protobuf protocol of OpenD's API port, and behind it a
small broker (accounts, a market, an order book that fills against it, fees per order).

Written from the protocol (the research note on OpenD and the `.proto` files that futu-api
ships), not from the adapter: it answers what the SDK sends as OpenD would, and pushes order
and deal updates to the connections that subscribed the account (Trd_SubAccPush) and quotes
to those that subscribed the code (Qot_Sub).

Frame: 44-byte little-endian header `"<1s1sI2B2I20s8s"` (b"F", b"T", proto id, format 0 =
protobuf, version 0, serial, body length, SHA1 of the body, 8 reserved bytes), then the body.
Encryption is refused: InitConnect with packetEncAlgo other than -1 gets retType -1, a body
whose SHA1 does not match (what an RSA-encrypted one looks like) drops the connection.

Run as its own process: `python -m tests.brokers.futu.fake_opend --port P --control-port C
--state FILE [--paused]`. The broker's state is kept in FILE, so a fake killed and started
again carries on (as Futu's servers do when OpenD restarts). The control port takes one JSON
object per line (`{"op": ...}`) and answers one; see `Control` for the operations. With
`--paused` the API port opens only at the `listen` operation, so a test can move the market
while no client is connected.
"""

import argparse
import asyncio
import contextlib
import hashlib
import importlib
import importlib.util
import json
import struct
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from types import ModuleType
from typing import Any
from zoneinfo import ZoneInfo


def _pb_dir() -> Path:
    spec = importlib.util.find_spec("futu")
    assert spec is not None, "futu-api is not installed"
    assert spec.submodule_search_locations
    return Path(next(iter(spec.submodule_search_locations))) / "common" / "pb"


# The generated modules import each other by their bare names: load them from their folder,
# without importing the SDK itself.
sys.path.insert(0, str(_pb_dir()))


def pb(name: str) -> ModuleType:
    return importlib.import_module(f"{name}_pb2")


Common, Trd, Qot = pb("Common"), pb("Trd_Common"), pb("Qot_Common")

HEAD = struct.Struct("<1s1sI2B2I20s8s")
PROTOS = {
    1001: "InitConnect",
    1002: "GetGlobalState",
    1004: "KeepAlive",
    2001: "Trd_GetAccList",
    2005: "Trd_UnlockTrade",
    2008: "Trd_SubAccPush",
    2101: "Trd_GetFunds",
    2102: "Trd_GetPositionList",
    2201: "Trd_GetOrderList",
    2202: "Trd_PlaceOrder",
    2205: "Trd_ModifyOrder",
    2211: "Trd_GetOrderFillList",
    2225: "Trd_GetOrderFee",
    3001: "Qot_Sub",
    3002: "Qot_RegQotPush",
    3004: "Qot_GetBasicQot",
    3203: "Qot_GetSecuritySnapshot",
}
PUSH_ORDER, PUSH_DEAL, PUSH_QUOTE = 2208, 2218, 3005

PASSWORD = "246810"
USER_ID = 8_001_234
HK_SIM, US_SIM, REAL = 9_100_001, 9_100_002, 281_756_400_000_001
"""The fake's accounts: simulate HK, simulate US, and one real universal account (HK + US)."""

FX_TO_HKD = {"HKD": Decimal(1), "USD": Decimal("7.8"), "CNH": Decimal("1.08")}
CURRENCY_CODE = {"HKD": Trd.Currency_HKD, "USD": Trd.Currency_USD, "CNH": Trd.Currency_CNH}
CODE_CURRENCY = {v: k for k, v in CURRENCY_CODE.items()}
QOT_MARKET = {"HK": Qot.QotMarket_HK_Security, "US": Qot.QotMarket_US_Security}
MARKET_OF_QOT = {v: k for k, v in QOT_MARKET.items()}
SEC_MARKET = {"HK": Trd.TrdSecMarket_HK, "US": Trd.TrdSecMarket_US}
TRD_MARKET = {"HK": Trd.TrdMarket_HK, "US": Trd.TrdMarket_US}
ZONES = {"HK": ZoneInfo("Asia/Hong_Kong"), "US": ZoneInfo("America/New_York")}
OPEN_STATUSES = {
    Trd.OrderStatus_Submitted,
    Trd.OrderStatus_Filled_Part,
    Trd.OrderStatus_Cancelling_Part,
    Trd.OrderStatus_Cancelling_All,
}

UNIVERSE = {
    "HK.00700": {"name": "TENCENT", "lot": 100, "tick": "0.2", "last": "380.0"},
    "HK.09988": {"name": "BABA-W", "lot": 100, "tick": "0.05", "last": "80.00"},
    "US.AAPL": {"name": "Apple", "lot": 1, "tick": "0.01", "last": "230.00"},
    "US.TSLA": {"name": "Tesla", "lot": 1, "tick": "0.01", "last": "250.00"},
}


def local_time(market: str, at: float) -> str:
    return datetime.fromtimestamp(at, ZONES[market]).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def money(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), ROUND_HALF_UP)


def order_fee(currency: str, qty: int, notional: Decimal) -> Decimal:
    """What an order's fills cost so far: commission and a platform fee per order."""
    if qty == 0:
        return Decimal(0)
    if currency == "USD":
        return money(
            max(Decimal("0.99"), Decimal("0.0049") * qty) + max(Decimal(1), Decimal("0.005") * qty)
        )
    return money(max(Decimal(3), notional * Decimal("0.0003")) + Decimal(15))


# ----------------------------------------------------------------------------- the broker


@dataclass
class Broker:
    """Everything Futu's servers would know; saved to `path` after each change."""

    path: Path
    accounts: dict[str, Any] = field(default_factory=dict)
    orders: dict[str, Any] = field(default_factory=dict)
    deals: list[Any] = field(default_factory=list)
    market: dict[str, Any] = field(default_factory=dict)
    states: dict[str, int] = field(default_factory=dict)
    next_id: int = 1

    @classmethod
    def load(cls, path: Path) -> "Broker":
        broker = cls(path)
        if path.exists():
            saved = json.loads(path.read_text())
            for key in ("accounts", "orders", "deals", "market", "states", "next_id"):
                setattr(broker, key, saved[key])
        else:
            broker.reset()
        return broker

    def reset(self) -> None:
        cash = {"HKD": "1000000.00", "USD": "100000.00"}
        self.accounts = {
            str(HK_SIM): {
                "env": Trd.TrdEnv_Simulate,
                "markets": ["HK"],
                "cash": dict(cash),
                "positions": {},
            },
            str(US_SIM): {
                "env": Trd.TrdEnv_Simulate,
                "markets": ["US"],
                "cash": dict(cash),
                "positions": {},
            },
            str(REAL): {
                "env": Trd.TrdEnv_Real,
                "markets": ["HK", "US"],
                "cash": dict(cash),
                "positions": {},
            },
        }
        self.accounts[str(HK_SIM)]["positions"]["HK.09988"] = {"qty": 500, "cost": "75.50"}
        self.orders, self.deals = {}, []
        self.market = {
            code: {"last": spec["last"], "prev_close": spec["last"], "size": None, "volume": 0}
            for code, spec in UNIVERSE.items()
        }
        self.states = {
            "HK": Qot.QotMarketState_Morning,
            "US": Qot.QotMarketState_Afternoon,
            "SH": Qot.QotMarketState_Closed,
            "SZ": Qot.QotMarketState_Closed,
        }
        self.next_id = 1
        self.save()

    def save(self) -> None:
        keys = ("accounts", "orders", "deals", "market", "states", "next_id")
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text(json.dumps({k: getattr(self, k) for k in keys}))
        temporary.replace(self.path)

    def new_id(self) -> int:
        self.next_id += 1
        return 5_000_000 + self.next_id

    # prices: bid one tick below last, ask one tick above
    def quote(self, code: str) -> tuple[Decimal, Decimal, Decimal]:
        last = Decimal(self.market[code]["last"])
        tick = Decimal(UNIVERSE[code]["tick"])
        return last, last - tick, last + tick

    def liquidity(self, code: str) -> int | None:
        size = self.market[code]["size"]
        return None if size is None else int(size)


# ----------------------------------------------------------------------------- the server


@dataclass(eq=False)
class Connection:
    writer: asyncio.StreamWriter
    conn_id: int
    ready: bool = False
    accounts: set[int] = field(default_factory=set)
    codes: set[str] = field(default_factory=set)
    push_serial: int = 1

    def send(self, proto: int, serial: int, message: Any) -> None:
        body = message.SerializeToString()
        head = HEAD.pack(
            b"F", b"T", proto, 0, 0, serial, len(body), hashlib.sha1(body).digest(), b"\0" * 8
        )
        self.writer.write(head + body)

    def push(self, proto: int, message: Any) -> None:
        self.push_serial += 1
        self.send(proto, self.push_serial, message)


class Refused(Exception):
    """Answer the request with retType -1 and this message."""


class FakeOpenD:
    def __init__(self, broker: Broker) -> None:
        self.broker = broker
        self.connections: set[Connection] = set()
        self.unlocked = False
        self.next_conn = 100
        self.server: asyncio.Server | None = None
        self.requests: dict[int, int] = {}
        self.faults: dict[str, Any] = {}
        """One-shot behaviours a test asks for (`Control.fault`)."""
        self.deal_before_order = False

    # ------------------------------------------------------------ transport

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.next_conn += 1
        conn = Connection(writer, self.next_conn)
        self.connections.add(conn)
        try:
            while True:
                head = await reader.readexactly(HEAD.size)
                magic1, magic2, proto, fmt, _, serial, length, sha, _ = HEAD.unpack(head)
                body = await reader.readexactly(length)
                if (magic1, magic2) != (b"F", b"T") or hashlib.sha1(body).digest() != sha:
                    return  # not our protocol, or encrypted: drop it
                self.requests[proto] = self.requests.get(proto, 0) + 1
                self.answer(conn, proto, serial, fmt, body)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self.connections.discard(conn)
            writer.close()

    def answer(self, conn: Connection, proto: int, serial: int, fmt: int, body: bytes) -> None:
        name = PROTOS.get(proto)
        module = pb(name) if name else pb("KeepAlive")  # any Response has retType/retMsg
        response = module.Response()
        if fmt != 0:
            response.retType, response.retMsg = -1, "fake OpenD speaks protobuf only"
        elif name is None:
            response.retType, response.retMsg = -1, f"fake OpenD: proto {proto} not implemented"
        elif proto != 1001 and not conn.ready:
            response.retType, response.retMsg = -1, "InitConnect first"
        else:
            request = module.Request()
            request.ParseFromString(body)
            try:
                getattr(self, f"on_{name}")(conn, request.c2s, response.s2c)
                response.retType = 0
            except Refused as refused:
                response.Clear()
                response.retType, response.retMsg = -1, str(refused)
        if self.faults.get("silent") == proto:
            return
        conn.send(proto, serial, response)

    # ------------------------------------------------------------ system

    def on_InitConnect(self, conn: Connection, c2s: Any, s2c: Any) -> None:  # noqa: N802
        if c2s.packetEncAlgo != Common.PacketEncAlgo_None:
            raise Refused("fake OpenD: encryption is not supported")
        s2c.serverVer, s2c.loginUserID, s2c.connID = 1000, USER_ID, conn.conn_id
        s2c.connAESKey, s2c.keepAliveInterval = "0" * 16, 10
        conn.ready = True

    def on_KeepAlive(self, conn: Connection, c2s: Any, s2c: Any) -> None:  # noqa: N802
        s2c.time = int(time.time())

    def on_GetGlobalState(self, conn: Connection, c2s: Any, s2c: Any) -> None:  # noqa: N802
        states = self.broker.states
        s2c.marketHK, s2c.marketUS = states["HK"], states["US"]
        s2c.marketSH, s2c.marketSZ = states["SH"], states["SZ"]
        s2c.marketHKFuture = Qot.QotMarketState_Closed
        s2c.qotLogined = s2c.trdLogined = True
        s2c.serverVer, s2c.serverBuildNo, s2c.time = 1000, 1, int(time.time())
        s2c.localTime = time.time()

    # ------------------------------------------------------------ accounts

    def account(self, header: Any) -> dict[str, Any]:
        account = self.broker.accounts.get(str(header.accID))
        if account is None or account["env"] != header.trdEnv:
            raise Refused(f"Nonexisting acc_id {header.accID}")
        if account["env"] == Trd.TrdEnv_Real and not self.unlocked:
            raise Refused("Please unlock the trade first")
        return account

    def on_Trd_GetAccList(self, conn: Connection, c2s: Any, s2c: Any) -> None:  # noqa: N802
        for acc_id, account in self.broker.accounts.items():
            entry = s2c.accList.add()
            entry.trdEnv, entry.accID = account["env"], int(acc_id)
            entry.trdMarketAuthList.extend(TRD_MARKET[m] for m in account["markets"])
            entry.accType, entry.accStatus = Trd.TrdAccType_Margin, Trd.TrdAccStatus_Active
            entry.cardNum = f"1001{acc_id[-6:]}"
            if account["env"] == Trd.TrdEnv_Real:
                entry.securityFirm = Trd.SecurityFirm_FutuSecurities
                entry.uniCardNum = "1001000099"
            else:
                entry.simAccType = Trd.SimAccType_Stock

    def on_Trd_UnlockTrade(self, conn: Connection, c2s: Any, s2c: Any) -> None:  # noqa: N802
        if c2s.unlock and c2s.pwdMD5 != hashlib.md5(PASSWORD.encode()).hexdigest():
            raise Refused("Wrong trade password")
        self.unlocked = c2s.unlock

    def on_Trd_SubAccPush(self, conn: Connection, c2s: Any, s2c: Any) -> None:  # noqa: N802
        conn.accounts = set(c2s.accIDList)

    def on_Trd_GetFunds(self, conn: Connection, c2s: Any, s2c: Any) -> None:  # noqa: N802
        account = self.account(c2s.header)
        s2c.header.CopyFrom(c2s.header)
        currency = CODE_CURRENCY.get(c2s.currency, "HKD") if c2s.HasField("currency") else "HKD"
        rate = FX_TO_HKD[currency]
        frozen = self.frozen(account)
        cash_hkd = sum(Decimal(v) * FX_TO_HKD[c] for c, v in account["cash"].items())
        frozen_hkd = sum(v * FX_TO_HKD[c] for c, v in frozen.items())
        value_hkd = sum(
            Decimal(p["qty"]) * self.broker.quote(code)[0] * FX_TO_HKD[self.currency_of(code)]
            for code, p in account["positions"].items()
        )
        funds = s2c.funds
        funds.cash = float(money(cash_hkd / rate))
        funds.frozenCash = float(money(frozen_hkd / rate))
        funds.marketVal = float(money(value_hkd / rate))
        funds.totalAssets = float(money((cash_hkd + value_hkd) / rate))
        funds.power = float(money((cash_hkd - frozen_hkd) / rate))
        funds.debtCash, funds.avlWithdrawalCash = 0.0, float(money((cash_hkd - frozen_hkd) / rate))
        funds.currency = CURRENCY_CODE[currency]
        for code_currency, value in account["cash"].items():
            info = funds.cashInfoList.add()
            info.currency = CURRENCY_CODE[code_currency]
            info.cash = float(Decimal(value))
            info.availableBalance = float(Decimal(value) - frozen.get(code_currency, Decimal(0)))

    def frozen(self, account: dict[str, Any]) -> dict[str, Decimal]:
        """Cash held by open buy orders, per currency."""
        held: dict[str, Decimal] = {}
        for order in self.broker.orders.values():
            if (
                order["acc"] == self.acc_key(account)
                and order["status"] in OPEN_STATUSES
                and order["side"] == Trd.TrdSide_Buy
            ):
                price = (
                    Decimal(order["price"])
                    if order["type"] == Trd.OrderType_Normal
                    else self.broker.quote(order["code"])[2]
                )
                currency = self.currency_of(order["code"])
                held[currency] = held.get(currency, Decimal(0)) + price * (
                    order["qty"] - order["filled"]
                )
        return held

    def acc_key(self, account: dict[str, Any]) -> str:
        return next(k for k, v in self.broker.accounts.items() if v is account)

    @staticmethod
    def currency_of(code: str) -> str:
        return "USD" if code.startswith("US.") else "HKD"

    def on_Trd_GetPositionList(self, conn: Connection, c2s: Any, s2c: Any) -> None:  # noqa: N802
        account = self.account(c2s.header)
        s2c.header.CopyFrom(c2s.header)
        for code, held in account["positions"].items():
            if not held["qty"]:
                continue
            market, ticker = code.split(".", 1)
            last = self.broker.quote(code)[0]
            cost = Decimal(held["cost"])
            selling = sum(
                o["qty"] - o["filled"]
                for o in self.broker.orders.values()
                if o["acc"] == self.acc_key(account)
                and o["code"] == code
                and o["side"] == Trd.TrdSide_Sell
                and o["status"] in OPEN_STATUSES
            )
            row = s2c.positionList.add()
            row.positionID, row.positionSide = abs(hash(code)) % 10**9, Trd.PositionSide_Long
            row.code, row.name = ticker, UNIVERSE[code]["name"]
            row.qty, row.canSellQty = float(held["qty"]), float(held["qty"] - selling)
            row.price, row.costPrice = float(last), float(cost)
            row.dilutedCostPrice = row.averageCostPrice = float(cost)
            row.val = float(money(last * held["qty"]))
            row.plVal = float(money((last - cost) * held["qty"]))
            row.secMarket, row.trdMarket = SEC_MARKET[market], TRD_MARKET[market]
            row.currency = CURRENCY_CODE[self.currency_of(code)]

    # ------------------------------------------------------------ orders

    def fill_order_pb(self, target: Any, order: dict[str, Any]) -> None:
        market, ticker = order["code"].split(".", 1)
        target.trdSide, target.orderType, target.orderStatus = (
            order["side"],
            order["type"],
            order["status"],
        )
        target.orderID, target.orderIDEx = order["id"], order["id_ex"]
        target.code, target.name, target.qty = (
            ticker,
            UNIVERSE[order["code"]]["name"],
            float(order["qty"]),
        )
        target.price = float(Decimal(order["price"]))
        target.createTime = local_time(market, order["created"])
        target.updateTime = local_time(market, order["updated"])
        target.createTimestamp, target.updateTimestamp = order["created"], order["updated"]
        target.fillQty = float(order["filled"])
        target.fillAvgPrice = float(Decimal(order["avg"])) if order["filled"] else 0.0
        target.lastErrMsg = order.get("error", "")
        target.secMarket, target.trdMarket = SEC_MARKET[market], TRD_MARKET[market]
        target.timeInForce, target.currency = (
            order["tif"],
            CURRENCY_CODE[self.currency_of(order["code"])],
        )
        if order["remark"] is not None:
            target.remark = order["remark"]

    def fill_deal_pb(self, target: Any, deal: dict[str, Any]) -> None:
        market, ticker = deal["code"].split(".", 1)
        target.trdSide, target.fillID, target.fillIDEx = deal["side"], deal["id"], str(deal["id"])
        target.orderID, target.orderIDEx = deal["order"], deal["order_ex"]
        target.code, target.name = ticker, UNIVERSE[deal["code"]]["name"]
        target.qty, target.price = float(deal["qty"]), float(Decimal(deal["price"]))
        target.createTime = local_time(market, deal["time"])
        target.createTimestamp = target.updateTimestamp = deal["time"]
        target.secMarket, target.trdMarket, target.status = (
            SEC_MARKET[market],
            TRD_MARKET[market],
            Trd.OrderFillStatus_OK,
        )

    def on_Trd_GetOrderList(self, conn: Connection, c2s: Any, s2c: Any) -> None:  # noqa: N802
        account = self.account(c2s.header)
        s2c.header.CopyFrom(c2s.header)
        wanted = set(c2s.filterConditions.orderIDExList)
        codes = set(c2s.filterConditions.codeList)
        statuses = set(c2s.filterStatusList)
        for order in self.broker.orders.values():
            if order["acc"] != self.acc_key(account):
                continue
            if (wanted and order["id_ex"] not in wanted) or (
                codes and order["code"].split(".", 1)[1] not in codes
            ):
                continue
            if statuses and order["status"] not in statuses:
                continue
            self.fill_order_pb(s2c.orderList.add(), order)

    def on_Trd_GetOrderFillList(self, conn: Connection, c2s: Any, s2c: Any) -> None:  # noqa: N802
        account = self.account(c2s.header)
        s2c.header.CopyFrom(c2s.header)
        for deal in self.broker.deals:
            if deal["acc"] == self.acc_key(account):
                self.fill_deal_pb(s2c.orderFillList.add(), deal)

    def on_Trd_GetOrderFee(self, conn: Connection, c2s: Any, s2c: Any) -> None:  # noqa: N802
        account = self.account(c2s.header)
        s2c.header.CopyFrom(c2s.header)
        by_ex = {
            o["id_ex"]: o for o in self.broker.orders.values() if o["acc"] == self.acc_key(account)
        }
        for id_ex in c2s.orderIdExList:
            order = by_ex.get(id_ex)
            if order is None:
                continue
            entry = s2c.orderFeeList.add()
            entry.orderIDEx = id_ex
            entry.feeAmount = float(Decimal(order["fee"]))
            item = entry.feeList.add()
            item.title, item.value = "Commission and platform fee", float(Decimal(order["fee"]))

    def on_Trd_PlaceOrder(self, conn: Connection, c2s: Any, s2c: Any) -> None:  # noqa: N802
        account = self.account(c2s.header)
        market = {Trd.TrdSecMarket_HK: "HK", Trd.TrdSecMarket_US: "US"}.get(c2s.secMarket)
        code = f"{market}.{c2s.code}"
        if market is None or code not in UNIVERSE:
            raise Refused(f"Unknown stock {c2s.code}")
        if market not in account["markets"] or c2s.header.trdMarket != TRD_MARKET[market]:
            raise Refused(f"This account cannot trade the {market} market")
        if c2s.orderType not in (Trd.OrderType_Normal, Trd.OrderType_Market):
            raise Refused("Order type not supported")
        refusal = self.faults.pop("refuse", None)
        if refusal:
            raise Refused(refusal)
        qty = int(c2s.qty)
        if qty <= 0 or qty % UNIVERSE[code]["lot"]:
            raise Refused(
                f"The quantity must be a multiple of the lot size {UNIVERSE[code]['lot']}"
            )
        price = Decimal(str(c2s.price))
        if c2s.orderType == Trd.OrderType_Normal and (price / Decimal(UNIVERSE[code]["tick"])) % 1:
            raise Refused(f"The price must be a multiple of the tick {UNIVERSE[code]['tick']}")
        if c2s.trdSide == Trd.TrdSide_Buy:
            cost = (
                price if c2s.orderType == Trd.OrderType_Normal else self.broker.quote(code)[2]
            ) * qty
            currency = self.currency_of(code)
            free = Decimal(account["cash"].get(currency, "0")) - self.frozen(account).get(
                currency, Decimal(0)
            )
            if cost > free:
                raise Refused(
                    f"Insufficient buying power: {money(cost)} {currency} needed, "
                    f"{money(free)} available"
                )
        elif c2s.trdSide == Trd.TrdSide_Sell:
            held = account["positions"].get(code, {"qty": 0})["qty"]
            if qty > held:
                raise Refused(f"Insufficient position: {held} held")
        else:
            raise Refused("Side not supported")
        now = time.time()
        order_id = self.broker.new_id()
        order = {
            "id": order_id,
            "id_ex": f"FT{order_id}",
            "acc": self.acc_key(account),
            "code": code,
            "side": c2s.trdSide,
            "type": c2s.orderType,
            "qty": qty,
            "price": str(price),
            "remark": c2s.remark if c2s.HasField("remark") else None,
            "tif": c2s.timeInForce if c2s.HasField("timeInForce") else Trd.TimeInForce_DAY,
            "status": Trd.OrderStatus_Submitted,
            "filled": 0,
            "avg": "0",
            "notional": "0",
            "fee": "0",
            "created": now,
            "updated": now,
        }
        self.broker.orders[str(order_id)] = order
        s2c.header.CopyFrom(c2s.header)
        s2c.orderID, s2c.orderIDEx = order_id, order["id_ex"]
        if self.faults.pop("lose_place_answer", None):
            raise Refused("Timeout: no answer from Futu's server")  # it was placed all the same
        # pushes after the answer, on the loop: as OpenD, which sends the reply first
        asyncio.get_running_loop().call_soon(self.after_place, order)

    def after_place(self, order: dict[str, Any]) -> None:
        self.push_order(order)
        self.match(order["code"])
        self.broker.save()

    def on_Trd_ModifyOrder(self, conn: Connection, c2s: Any, s2c: Any) -> None:  # noqa: N802
        account = self.account(c2s.header)
        if c2s.modifyOrderOp != Trd.ModifyOrderOp_Cancel:
            raise Refused("fake OpenD: only cancels are supported")
        key = self.acc_key(account)
        if c2s.forAll:
            targets = [
                o
                for o in self.broker.orders.values()
                if o["acc"] == key and o["status"] in OPEN_STATUSES
            ]
        else:
            found = [
                o
                for o in self.broker.orders.values()
                if o["acc"] == key and (o["id_ex"] == c2s.orderIDEx or o["id"] == c2s.orderID)
            ]
            if not found:
                raise Refused(f"Order {c2s.orderIDEx or c2s.orderID} does not exist")
            if found[0]["status"] not in OPEN_STATUSES:
                raise Refused("The order has been filled or cancelled and cannot be cancelled")
            targets = found
        s2c.header.CopyFrom(c2s.header)
        s2c.orderID = targets[0]["id"] if targets else 0
        if targets:
            s2c.orderIDEx = targets[0]["id_ex"]
        asyncio.get_running_loop().call_soon(self.cancel_now, targets)

    def cancel_now(self, orders: list[dict[str, Any]]) -> None:
        for order in orders:
            if order["status"] in OPEN_STATUSES:
                order["status"] = (
                    Trd.OrderStatus_Cancelled_Part
                    if order["filled"]
                    else Trd.OrderStatus_Cancelled_All
                )
                order["updated"] = time.time()
                self.push_order(order)
        self.broker.save()

    # ------------------------------------------------------------ matching

    def match(self, code: str) -> None:
        """Fill the open orders of `code` that the market crosses, oldest first, as far as the
        liquidity at the price goes (unlimited unless a test set `size`)."""
        _, bid, ask = self.broker.quote(code)
        for order in sorted(self.broker.orders.values(), key=lambda o: o["id"]):
            if order["code"] != code or order["status"] not in (
                Trd.OrderStatus_Submitted,
                Trd.OrderStatus_Filled_Part,
            ):
                continue
            buy = order["side"] == Trd.TrdSide_Buy
            price = ask if buy else bid
            market = order["type"] == Trd.OrderType_Market
            if not market and (
                (buy and Decimal(order["price"]) < price)
                or (not buy and Decimal(order["price"]) > price)
            ):
                continue
            size = self.broker.liquidity(code)
            qty = order["qty"] - order["filled"]
            if size is not None:
                qty = min(qty, size)
                self.broker.market[code]["size"] = size - qty
            if qty <= 0:
                continue
            self.execute(order, qty, price)

    def execute(self, order: dict[str, Any], qty: int, price: Decimal) -> None:
        account = self.broker.accounts[order["acc"]]
        currency = self.currency_of(order["code"])
        notional = Decimal(order["notional"]) + price * qty
        filled = order["filled"] + qty
        fee = order_fee(currency, filled, notional)
        charged = fee - Decimal(order["fee"])
        order.update(
            filled=filled,
            notional=str(notional),
            fee=str(fee),
            avg=str(notional / filled),
            updated=time.time(),
        )
        order["status"] = (
            Trd.OrderStatus_Filled_All if filled == order["qty"] else Trd.OrderStatus_Filled_Part
        )
        cash = Decimal(account["cash"].get(currency, "0"))
        held = account["positions"].setdefault(order["code"], {"qty": 0, "cost": "0"})
        if order["side"] == Trd.TrdSide_Buy:
            cash -= price * qty
            total = held["qty"] + qty
            held["cost"] = str((Decimal(held["cost"]) * held["qty"] + price * qty) / total)
            held["qty"] = total
        else:
            cash += price * qty
            held["qty"] -= qty
        account["cash"][currency] = str(cash - charged)
        self.broker.market[order["code"]]["volume"] += qty
        deal = {
            "id": self.broker.new_id() + 70_000_000,
            "order": order["id"],
            "order_ex": order["id_ex"],
            "acc": order["acc"],
            "code": order["code"],
            "side": order["side"],
            "qty": qty,
            "price": str(price),
            "time": time.time(),
        }
        self.broker.deals.append(deal)
        if self.deal_before_order:
            self.push_deal(deal)
            self.push_order(order)
        else:
            self.push_order(order)
            self.push_deal(deal)

    # ------------------------------------------------------------ pushes

    def subscribers(self, acc: str) -> list[Connection]:
        return [c for c in self.connections if int(acc) in c.accounts]

    def push_order(self, order: dict[str, Any]) -> None:
        account = self.broker.accounts[order["acc"]]
        for conn in self.subscribers(order["acc"]):
            message = pb("Trd_UpdateOrder").Response()
            message.retType = 0
            header = message.s2c.header
            header.trdEnv, header.accID = account["env"], int(order["acc"])
            header.trdMarket = TRD_MARKET[order["code"].split(".")[0]]
            self.fill_order_pb(message.s2c.order, order)
            conn.push(PUSH_ORDER, message)

    def push_deal(self, deal: dict[str, Any]) -> None:
        account = self.broker.accounts[deal["acc"]]
        for conn in self.subscribers(deal["acc"]):
            message = pb("Trd_UpdateOrderFill").Response()
            message.retType = 0
            header = message.s2c.header
            header.trdEnv, header.accID = account["env"], int(deal["acc"])
            header.trdMarket = TRD_MARKET[deal["code"].split(".")[0]]
            self.fill_deal_pb(message.s2c.orderFill, deal)
            conn.push(PUSH_DEAL, message)

    def push_quote(self, code: str) -> None:
        for conn in [c for c in self.connections if code in c.codes]:
            message = pb("Qot_UpdateBasicQot").Response()
            message.retType = 0
            self.basic_qot(message.s2c.basicQotList.add(), code)
            conn.push(PUSH_QUOTE, message)

    # ------------------------------------------------------------ quotes

    def security(self, security: Any) -> str:
        market = MARKET_OF_QOT.get(security.market)
        code = f"{market}.{security.code}"
        if code not in UNIVERSE:
            raise Refused(f"Unknown stock {security.code}")
        return code

    def basic_qot(self, target: Any, code: str) -> None:
        market, ticker = code.split(".", 1)
        last = self.broker.quote(code)[0]
        state = self.broker.market[code]
        target.security.market, target.security.code = QOT_MARKET[market], ticker
        target.name, target.isSuspended, target.listTime = (
            UNIVERSE[code]["name"],
            False,
            "2004-06-16",
        )
        target.priceSpread = float(Decimal(UNIVERSE[code]["tick"]))
        target.updateTime = local_time(market, time.time())
        target.curPrice = target.highPrice = target.lowPrice = target.openPrice = float(last)
        target.lastClosePrice = float(Decimal(state["prev_close"]))
        target.volume, target.turnover = state["volume"], float(last * state["volume"])
        target.turnoverRate = target.amplitude = 0.0

    def on_Qot_Sub(self, conn: Connection, c2s: Any, s2c: Any) -> None:  # noqa: N802
        if c2s.isUnsubAll:
            conn.codes.clear()
            return
        codes = [self.security(s) for s in c2s.securityList]
        if c2s.isSubOrUnSub:
            conn.codes |= set(codes)
            if c2s.isFirstPush:
                asyncio.get_running_loop().call_soon(lambda: [self.push_quote(c) for c in codes])
        else:
            conn.codes -= set(codes)

    def on_Qot_RegQotPush(self, conn: Connection, c2s: Any, s2c: Any) -> None:  # noqa: N802
        if not c2s.isRegOrUnReg:
            conn.codes -= {self.security(s) for s in c2s.securityList}

    def on_Qot_GetBasicQot(self, conn: Connection, c2s: Any, s2c: Any) -> None:  # noqa: N802
        for security in c2s.securityList:
            self.basic_qot(s2c.basicQotList.add(), self.security(security))

    def on_Qot_GetSecuritySnapshot(self, conn: Connection, c2s: Any, s2c: Any) -> None:  # noqa: N802
        codes = [self.security(s) for s in c2s.securityList]
        for code in codes:
            market, ticker = code.split(".", 1)
            last, bid, ask = self.broker.quote(code)
            state = self.broker.market[code]
            basic = s2c.snapshotList.add().basic
            basic.security.market, basic.security.code = QOT_MARKET[market], ticker
            basic.name, basic.type, basic.isSuspend = (
                UNIVERSE[code]["name"],
                Qot.SecurityType_Eqty,
                False,
            )
            basic.listTime, basic.lotSize = "2004-06-16", UNIVERSE[code]["lot"]
            basic.priceSpread = float(Decimal(UNIVERSE[code]["tick"]))
            basic.updateTime = local_time(market, time.time())
            basic.highPrice = basic.openPrice = basic.lowPrice = basic.curPrice = float(last)
            basic.lastClosePrice = float(Decimal(state["prev_close"]))
            basic.volume, basic.turnover, basic.turnoverRate = (
                state["volume"],
                float(last * state["volume"]),
                0.0,
            )
            basic.bidPrice, basic.askPrice = float(bid), float(ask)
            size = self.broker.liquidity(code)
            basic.bidVol = basic.askVol = 100_000 if size is None else size


# ----------------------------------------------------------------------------- control


class Control:
    """Operations of the control port, one JSON object a line:
    - `state`: the broker's accounts, orders and deals (and request counts per proto);
    - `price`: `code`, `last`, optional `size` (liquidity at that price, then it is used up):
      moves the market, fills what it crosses, pushes the quote;
    - `external`: an order entered in the Futu app (no remark): `acc`, `code`, `side` (buy or
      sell), `qty`, `price`;
    - `fault`: one-shot misbehaviour: `lose_place_answer` (the next order is placed but its
      answer is an error), `refuse` = the message the next order is refused with, `silent`
      = a proto id whose requests go unanswered;
    - `deal_before_order`: push deals before their order update (`on`: bool);
    - `drop`: close every client connection; `listen`: open the API port (`--paused`).
    """

    def __init__(self, fake: FakeOpenD, start_api: Any) -> None:
        self.fake = fake
        self.start_api = start_api

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            while line := await reader.readline():
                request = json.loads(line)
                try:
                    reply = {
                        "ok": True,
                        **(await getattr(self, f"op_{request.pop('op')}")(**request) or {}),
                    }
                except Exception as failed:  # a test's mistake: tell it
                    reply = {"ok": False, "error": f"{type(failed).__name__}: {failed}"}
                writer.write(json.dumps(reply).encode() + b"\n")
                await writer.drain()
        writer.close()

    async def op_state(self) -> dict[str, Any]:
        broker = self.fake.broker
        return {
            "accounts": broker.accounts,
            "orders": broker.orders,
            "deals": broker.deals,
            "requests": self.fake.requests,
            "connections": len(self.fake.connections),
        }

    async def op_price(self, code: str, last: str, size: int | None = None) -> None:
        self.fake.broker.market[code].update(last=last, size=size)
        self.fake.match(code)
        self.fake.push_quote(code)
        self.fake.broker.save()

    async def op_external(
        self, acc: int, code: str, side: str, qty: int, price: str
    ) -> dict[str, Any]:
        now = time.time()
        order_id = self.fake.broker.new_id()
        order = {
            "id": order_id,
            "id_ex": f"FT{order_id}",
            "acc": str(acc),
            "code": code,
            "side": Trd.TrdSide_Buy if side == "buy" else Trd.TrdSide_Sell,
            "type": Trd.OrderType_Normal,
            "qty": qty,
            "price": price,
            "remark": None,
            "tif": Trd.TimeInForce_DAY,
            "status": Trd.OrderStatus_Submitted,
            "filled": 0,
            "avg": "0",
            "notional": "0",
            "fee": "0",
            "created": now,
            "updated": now,
        }
        self.fake.broker.orders[str(order_id)] = order
        self.fake.push_order(order)
        self.fake.match(code)
        self.fake.broker.save()
        return {"order_id": order["id_ex"]}

    async def op_fault(self, **faults: Any) -> None:
        self.fake.faults.update(faults)

    async def op_deal_before_order(self, on: bool) -> None:
        self.fake.deal_before_order = on

    async def op_drop(self) -> None:
        for conn in list(self.fake.connections):
            conn.writer.close()

    async def op_listen(self) -> None:
        await self.start_api()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--control-port", type=int, required=True)
    parser.add_argument("--state", type=Path, required=True)
    parser.add_argument("--paused", action="store_true")
    args = parser.parse_args()
    fake = FakeOpenD(Broker.load(args.state))

    async def start_api() -> None:
        if fake.server is None:
            fake.server = await asyncio.start_server(
                fake.serve, "127.0.0.1", args.port, reuse_address=True
            )

    control = await asyncio.start_server(
        Control(fake, start_api).serve, "127.0.0.1", args.control_port, reuse_address=True
    )
    if not args.paused:
        await start_api()
    print("fake OpenD ready", flush=True)
    async with control:
        await control.serve_forever()


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
