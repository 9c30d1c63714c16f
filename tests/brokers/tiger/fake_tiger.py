"""A fake Tiger OpenAPI, run as its own process: `python -m tests.brokers.tiger.fake_tiger`.

Written from the protocol as tigeropen speaks it (its `tiger_open_client.py`, `trade_client.py`,
`push/`), not from the adapter:
- HTTP: `POST /gateway` with a JSON body `{method, biz_content (a JSON string), timestamp,
  tiger_id, charset, version, sign_type, device_id, sign}`; `sign` is RSA (PKCS#1 v1.5, SHA-1)
  over `k=v&...` of every other field sorted by key, checked against `--public-key`. The
  answer is `{"code": 0, "message": "success", "data": ...}`; a refusal has a non-zero code.
- Push: TCP, frames of a varint length then a `tigeropen.push.pb.Request` (client) or
  `Response` (server). CONNECT (sign = RSA over the tiger id) -> CONNECTED with
  `{"heart-beat": "10000,10000"}`, or ERROR; HEARTBEAT is answered; SUBSCRIBE -> MESSAGE code
  112; pushes are MESSAGE frames with a `PushData` body (order status, execution, position,
  asset).
- Control: a TCP port taking one JSON object a line (`op` and its arguments), answering one:
  `state`, `fill` (`silent`: no push at all; `push_execution` false: the order's status push
  only), `refuse_next`, `external`, `drop_push`, `silence_next_place`.

State (account, orders, executions) is kept in `--state` so a fake started again on the same
ports carries on where the stopped one ended. Every connection it accepts and every request
is counted in the state (`seen`), so a test can check the SDK spoke to nothing else.
"""

import argparse
import base64
import contextlib
import json
import socket
import socketserver
import threading
import time
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from tigeropen.push.pb.PushData_pb2 import PushData
from tigeropen.push.pb.Request_pb2 import Request
from tigeropen.push.pb.Response_pb2 import Response
from tigeropen.push.pb.SocketCommon_pb2 import SocketCommon

SUBSCRIBE_END = 112
START_STATE: dict[str, Any] = {
    "next_id": 40_000_000_000_001,
    "next_trade": 9_000_001,
    "cash": {"USD": "100000.00", "HKD": "50000.00"},
    "positions": {"AAPL": {"market": "US", "currency": "USD", "qty": 100, "cost": "150.25"}},
    "orders": {},
    "executions": [],
    "seen": {"http": 0, "push_connections": 0, "methods": {}},
    "refuse_next": None,
    "silence_next_place": False,
}
PRICES = {"AAPL": "190.50", "00700": "320.20"}


class Fake:
    def __init__(self, state_file: Path, public_key: Any, tiger_id: str, account: str) -> None:
        self.state_file = state_file
        self.public_key = public_key
        self.tiger_id = tiger_id
        self.account = account
        self.lock = threading.RLock()
        self.state: dict[str, Any] = (
            json.loads(state_file.read_text())
            if state_file.exists()
            else json.loads(json.dumps(START_STATE))
        )
        self.pushers: list[PushSession] = []

    def save(self) -> None:
        """Written whole or not at all: the fake may be killed while it saves."""
        partial = self.state_file.with_suffix(".partial")
        partial.write_text(json.dumps(self.state, indent=1))
        partial.replace(self.state_file)

    def verify(self, message: str, sign: str) -> bool:
        try:
            self.public_key.verify(
                base64.b64decode(sign), message.encode(), padding.PKCS1v15(), hashes.SHA1()
            )
        except Exception:
            return False
        return True

    # ------------------------------------------------------------- gateway

    def gateway(self, body: dict[str, Any]) -> dict[str, Any]:
        sign = body.pop("sign", "")
        content = "&".join(
            f"{k}={v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)}"
            for k, v in sorted(body.items())
        )
        if body.get("tiger_id") != self.tiger_id or not self.verify(content, sign):
            return {"code": 40001, "message": "sign verification failed", "data": None}
        method = body.get("method", "")
        biz = json.loads(body.get("biz_content") or "{}")
        with self.lock:
            seen = self.state["seen"]["methods"]
            seen[method] = seen.get(method, 0) + 1
            if method not in ("accounts", "brief", "quote_stock_trade", "market_state") and (
                biz.get("account") not in (None, self.account)
            ):
                return {"code": 1200, "message": f"account {biz.get('account')} not found"}
            handler = getattr(self, f"m_{method}", None)
            if handler is None:
                return {"code": 1000, "message": f"unknown method {method}", "data": None}
            silenced = method == "place_order" and self.state["silence_next_place"]
            self.state["silence_next_place"] &= not silenced
            code, data, message = handler(biz)
            self.save()
        if silenced:
            time.sleep(30)  # the client gives up first: the answer is lost, the order placed
        return {"code": code, "message": message, "data": data, "timestamp": int(time.time())}

    def m_prime_assets(self, biz: dict[str, Any]) -> tuple[int, Any, str]:
        cash = {c: Decimal(v) for c, v in self.state["cash"].items()}
        held = sum(
            (Decimal(p["qty"]) * Decimal(PRICES.get(s, p["cost"])))
            for s, p in self.state["positions"].items()
            if p["currency"] == "USD"
        )
        locked = sum(
            (Decimal(o["totalQuantity"] - o["filledQuantity"]) * Decimal(str(o["limitPrice"])))
            for o in self.state["orders"].values()
            if o["status"] in ("Submitted", "PendingSubmit")
            and o["action"] == "BUY"
            and o["currency"] == "USD"
        )
        usd = cash["USD"]
        segment = {
            "category": "S",
            "currency": "USD",
            "capability": "RegTMargin",
            "cashBalance": float(usd),
            "cashAvailableForTrade": float(usd - locked),
            "grossPositionValue": float(held),
            "netLiquidation": float(usd + held),
            "equityWithLoan": float(usd + held),
            "unrealizedPL": 0.0,
            "realizedPL": 0.0,
            "buyingPower": float((usd - locked) * 4),
            "currencyAssets": [
                {
                    "currency": c,
                    "cashBalance": float(v),
                    "cashAvailableForTrade": float(v - (locked if c == "USD" else 0)),
                }
                for c, v in sorted(cash.items())
            ],
        }
        return 0, {"accountId": self.account, "segments": [segment]}, "success"

    def m_positions(self, biz: dict[str, Any]) -> tuple[int, Any, str]:
        items = [
            {
                "account": self.account,
                "symbol": symbol,
                "market": p["market"],
                "currency": p["currency"],
                "secType": "STK",
                "position": p["qty"],
                "positionQty": float(p["qty"]),
                "salableQty": float(p["qty"]),
                "averageCost": float(p["cost"]),
                "latestPrice": float(PRICES.get(symbol, p["cost"])),
                "marketValue": float(Decimal(p["qty"]) * Decimal(PRICES.get(symbol, p["cost"]))),
                "unrealizedPnl": 0.0,
                "realizedPnl": 0.0,
            }
            for symbol, p in sorted(self.state["positions"].items())
            if p["qty"]
        ]
        return 0, {"items": items}, "success"

    def new_order(self, biz: dict[str, Any], source: str) -> dict[str, Any]:
        order_id = self.state["next_id"]
        self.state["next_id"] += 1
        now = int(time.time() * 1000)
        order = {
            "id": order_id,
            "orderId": order_id % 100_000,
            "account": self.account,
            "symbol": biz["symbol"],
            "market": "HK" if biz.get("currency") == "HKD" else "US",
            "currency": biz.get("currency", "USD"),
            "secType": "STK",
            "action": biz["action"],
            "orderType": biz["order_type"],
            "totalQuantity": int(biz["total_quantity"]),
            "filledQuantity": 0,
            "avgFillPrice": 0.0,
            "limitPrice": biz.get("limit_price") or 0.0,
            "timeInForce": biz.get("time_in_force", "DAY"),
            "status": "Submitted",
            "userMark": biz.get("user_mark", ""),
            "remark": "",
            "commission": 0.0,
            "openTime": now,
            "updateTime": now,
            "latestTime": now,
            "source": source,
            "isOpen": biz["action"] == "BUY",
            "outsideRth": False,
        }
        self.state["orders"][str(order_id)] = order
        return order

    def m_place_order(self, biz: dict[str, Any]) -> tuple[int, Any, str]:
        refusal = self.state["refuse_next"]
        if refusal:
            self.state["refuse_next"] = None
            return int(refusal["code"]), None, refusal["message"]
        order = self.new_order(biz, "openapi")
        self.push_order(order)
        return 0, {"id": order["id"], "orderId": order["orderId"]}, "success"

    def m_cancel_order(self, biz: dict[str, Any]) -> tuple[int, Any, str]:
        order = self.state["orders"].get(str(biz.get("id")))
        if order is None:
            return 1300, None, f"order {biz.get('id')} not found"
        if order["status"] not in ("Submitted", "PendingSubmit"):
            return 1301, None, f"order is {order['status']} and cannot be cancelled"
        order["status"] = "Cancelled"
        order["updateTime"] = order["latestTime"] = int(time.time() * 1000)
        self.push_order(order)
        return 0, {"id": order["id"]}, "success"

    def m_orders(self, biz: dict[str, Any]) -> tuple[int, Any, str]:
        if biz.get("id"):
            order = self.state["orders"].get(str(biz["id"]))
            return 0, (order or {}), "success"
        start = int(biz.get("start_date") or 0)
        items = [o for o in self.state["orders"].values() if o["openTime"] >= start]
        items.sort(key=lambda o: -o["openTime"])
        return 0, {"items": items[: int(biz.get("limit") or 100)]}, "success"

    def m_active_orders(self, biz: dict[str, Any]) -> tuple[int, Any, str]:
        items = [
            o
            for o in self.state["orders"].values()
            if o["status"] in ("Submitted", "PendingSubmit", "Initial")
        ]
        return 0, {"items": items}, "success"

    def m_order_transactions(self, biz: dict[str, Any]) -> tuple[int, Any, str]:
        if not biz.get("order_id") and not biz.get("symbol"):
            return 1010, None, "order_id or symbol is required"
        items = [
            e
            for e in self.state["executions"]
            if (not biz.get("order_id") or e["orderId"] == int(biz["order_id"]))
            and (not biz.get("symbol") or e["symbol"] == biz["symbol"])
        ]
        return 0, {"items": items}, "success"

    def m_brief(self, biz: dict[str, Any]) -> tuple[int, Any, str]:
        items = [
            {
                "symbol": s,
                "market": "US" if s.isalpha() else "HK",
                "name": {"AAPL": "Apple", "00700": "Tencent"}[s],
                "latestPrice": float(PRICES[s]),
                "preClose": float(Decimal(PRICES[s]) - 1),
                "askPrice": float(Decimal(PRICES[s]) + Decimal("0.05")),
                "askSize": 300,
                "bidPrice": float(Decimal(PRICES[s]) - Decimal("0.05")),
                "bidSize": 200,
                "timestamp": int(time.time() * 1000),
                "halted": 0.0,
            }
            for s in biz.get("symbols", [])
            if s in PRICES
        ]
        return 0, {"items": items}, "success"

    def m_quote_stock_trade(self, biz: dict[str, Any]) -> tuple[int, Any, str]:
        lots = {"AAPL": (1, 0.01), "00700": (100, 0.2)}
        items = [
            {"symbol": s, "lotSize": lots[s][0], "minTick": lots[s][1], "spreadScale": 1}
            for s in biz.get("symbols", [])
            if s in lots
        ]
        return 0, items, "success"

    def m_market_state(self, biz: dict[str, Any]) -> tuple[int, Any, str]:
        return (
            0,
            [
                {"market": "US", "marketStatus": "Trading", "status": "TRADING"},
                {"market": "HK", "marketStatus": "Closed", "status": "MARKET_CLOSED"},
                {"market": "CN", "marketStatus": "Closed", "status": "MARKET_CLOSED"},
            ],
            "success",
        )

    def m_grab_quote_permission(self, biz: dict[str, Any]) -> tuple[int, Any, str]:
        return 0, [{"name": "usStockQuote", "expireAt": -1}], "success"

    # ------------------------------------------------------------- control

    def control(self, command: dict[str, Any]) -> dict[str, Any]:
        op = command.pop("op")
        with self.lock:
            answer = getattr(self, f"c_{op}")(**command)
            self.save()
        return {"ok": True, **(answer or {})}

    def c_state(self) -> dict[str, Any]:
        return {"state": self.state}

    def c_refuse_next(self, code: int, message: str) -> None:
        self.state["refuse_next"] = {"code": code, "message": message}

    def c_silence_next_place(self) -> None:
        self.state["silence_next_place"] = True

    def c_fill(self, user_mark: str | None = None, id: int | None = None, **fill: Any) -> Any:
        if id is None:
            id = next(o["id"] for o in self.state["orders"].values() if o["userMark"] == user_mark)
        order = self.state["orders"][str(id)]
        qty = int(fill.get("qty") or order["totalQuantity"] - order["filledQuantity"])
        price = Decimal(str(fill.get("price") or order["limitPrice"] or PRICES[order["symbol"]]))
        trade_id = self.state["next_trade"]
        self.state["next_trade"] += 1
        now = int(time.time() * 1000)
        done = order["filledQuantity"]
        order["avgFillPrice"] = float(
            (Decimal(str(order["avgFillPrice"])) * done + price * qty) / (done + qty)
        )
        order["filledQuantity"] = done + qty
        order["updateTime"] = order["latestTime"] = now
        if order["filledQuantity"] >= order["totalQuantity"]:
            order["status"] = "Filled"
            order["commission"] = float(fill.get("commission", 1.99))
        sign = 1 if order["action"] == "BUY" else -1
        cash = Decimal(self.state["cash"][order["currency"]]) - sign * price * qty
        self.state["cash"][order["currency"]] = str(cash)
        held = self.state["positions"].setdefault(
            order["symbol"],
            {"market": order["market"], "currency": order["currency"], "qty": 0, "cost": "0"},
        )
        held["qty"] += sign * qty
        execution = {
            "id": trade_id,
            "orderId": order["id"],
            "accountId": self.account,
            "symbol": order["symbol"],
            "market": order["market"],
            "currency": order["currency"],
            "secType": "STK",
            "action": order["action"],
            "filledQuantity": qty,
            "filledPrice": float(price),
            "filledAmount": float(price * qty),
            "transactionTime": now,
            "transactedAt": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(now / 1000)),
        }
        self.state["executions"].append(execution)
        if not fill.get("silent"):
            if fill.get("push_execution", True):
                self.push_execution(execution)
            self.push_order(order)
        return {"trade_id": trade_id, "order": order}

    def c_reject(self, user_mark: str, message: str) -> None:
        order = next(o for o in self.state["orders"].values() if o["userMark"] == user_mark)
        order["status"] = "Inactive"
        order["remark"] = message
        self.push_order(order, error=message)

    def c_external(self, symbol: str, action: str, qty: int, price: float) -> Any:
        currency = "HKD" if symbol.isdigit() else "USD"
        biz = {
            "symbol": symbol,
            "action": action,
            "order_type": "LMT",
            "total_quantity": qty,
            "limit_price": price,
            "currency": currency,
        }
        order = self.new_order(biz, "iOS")
        self.push_order(order)
        return {"order": order}

    def c_drop_push(self) -> None:
        for session in list(self.pushers):
            session.close()

    # ------------------------------------------------------------- pushes

    def push(self, data: PushData) -> None:
        frame = Response(command=SocketCommon.MESSAGE, body=data)
        for session in list(self.pushers):
            if data.dataType in session.subscribed:
                session.send(frame)

    def push_order(self, order: dict[str, Any], error: str = "") -> None:
        data = PushData(dataType=SocketCommon.OrderStatus)
        status = data.orderStatusData
        status.id = order["id"]
        status.account = order["account"]
        status.symbol = order["symbol"]
        status.market = order["market"]
        status.currency = order["currency"]
        status.secType = "STK"
        status.segType = "S"
        status.action = order["action"]
        status.orderType = order["orderType"]
        status.totalQuantity = order["totalQuantity"]
        status.filledQuantity = order["filledQuantity"]
        status.avgFillPrice = order["avgFillPrice"]
        status.limitPrice = order["limitPrice"]
        status.status = order["status"]
        status.userMark = order["userMark"]
        status.timeInForce = order["timeInForce"]
        status.commissionAndFee = order["commission"]
        status.openTime = order["openTime"]
        status.updateTime = order["updateTime"]
        status.timestamp = order["updateTime"]
        status.source = order["source"]
        status.errorMsg = error
        self.push(data)

    def push_execution(self, execution: dict[str, Any]) -> None:
        data = PushData(dataType=SocketCommon.OrderTransaction)
        item = data.orderTransactionData
        item.id = execution["id"]
        item.orderId = execution["orderId"]
        item.account = self.account
        item.symbol = execution["symbol"]
        item.market = execution["market"]
        item.currency = execution["currency"]
        item.secType = "STK"
        item.action = execution["action"]
        item.filledPrice = execution["filledPrice"]
        item.filledQuantity = execution["filledQuantity"]
        item.transactTime = execution["transactionTime"]
        item.timestamp = execution["transactionTime"]
        self.push(data)
        symbol = execution["symbol"]
        held = self.state["positions"][symbol]
        data = PushData(dataType=SocketCommon.Position)
        row = data.positionData
        row.account, row.symbol, row.market = self.account, symbol, held["market"]
        row.currency, row.secType, row.position = held["currency"], "STK", held["qty"]
        row.positionQty = row.salableQty = float(held["qty"])
        row.averageCost = float(held["cost"])
        row.latestPrice = float(PRICES.get(symbol, held["cost"]))
        row.marketValue = row.latestPrice * held["qty"]
        self.push(data)
        data = PushData(dataType=SocketCommon.Asset)
        data.assetData.account = self.account
        data.assetData.currency = "USD"
        data.assetData.segType = "S"
        data.assetData.cashBalance = float(self.state["cash"]["USD"])
        self.push(data)


def varint(value: int) -> bytes:
    out = bytearray()
    while True:
        bits = value & 0x7F
        value >>= 7
        out.append(bits | (0x80 if value else 0))
        if not value:
            return bytes(out)


class PushSession(socketserver.BaseRequestHandler):
    fake: Fake

    def setup(self) -> None:
        self.subscribed: set[int] = set()
        self.send_lock = threading.Lock()
        with self.fake.lock:
            self.fake.state["seen"]["push_connections"] += 1
            self.fake.save()

    def send(self, frame: Response) -> None:
        payload = frame.SerializeToString()
        try:
            with self.send_lock:
                self.request.sendall(varint(len(payload)) + payload)
        except OSError:
            self.close()

    def close(self) -> None:
        with self.fake.lock:
            if self in self.fake.pushers:
                self.fake.pushers.remove(self)
        with contextlib.suppress(OSError):
            self.request.shutdown(socket.SHUT_RDWR)

    def frames(self) -> Any:
        buffer = b""
        while True:
            chunk = self.request.recv(4096)
            if not chunk:
                return
            buffer += chunk
            while buffer:
                length, shift, index = 0, 0, 0
                while index < len(buffer):
                    byte = buffer[index]
                    length |= (byte & 0x7F) << shift
                    shift += 7
                    index += 1
                    if not byte & 0x80:
                        break
                else:
                    break
                if len(buffer) < index + length:
                    break
                request = Request()
                request.ParseFromString(buffer[index : index + length])
                buffer = buffer[index + length :]
                yield request

    def handle(self) -> None:
        try:
            for request in self.frames():
                if not self.answer(request):
                    break
        except OSError:
            pass
        finally:
            self.close()

    def answer(self, request: Request) -> bool:
        command = request.command
        if command == SocketCommon.CONNECT:
            login = request.connect
            if login.tigerId != self.fake.tiger_id or not self.fake.verify(
                login.tigerId, login.sign
            ):
                self.send(Response(command=SocketCommon.ERROR, code=4000, msg="sign invalid"))
                return False
            self.send(
                Response(
                    command=SocketCommon.CONNECTED,
                    id=request.id,
                    msg=json.dumps({"heart-beat": "10000,10000", "version": "3"}),
                )
            )
            with self.fake.lock:
                self.fake.pushers.append(self)
        elif command == SocketCommon.HEARTBEAT:
            self.send(Response(command=SocketCommon.HEARTBEAT, id=request.id))
        elif command == SocketCommon.SUBSCRIBE:
            sub = request.subscribe
            if sub.account and sub.account != self.fake.account:
                self.send(
                    Response(
                        command=SocketCommon.ERROR,
                        id=request.id,
                        code=4002,
                        msg=f"account {sub.account} not authorized",
                    )
                )
            else:
                self.subscribed.add(sub.dataType)
                self.send(
                    Response(
                        command=SocketCommon.MESSAGE,
                        id=request.id,
                        code=SUBSCRIBE_END,
                        msg=json.dumps({"dataType": sub.dataType, "result": True}),
                    )
                )
        elif command == SocketCommon.DISCONNECT:
            return False
        return True


class Gateway(BaseHTTPRequestHandler):
    fake: Fake
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        with self.fake.lock:
            self.fake.state["seen"]["http"] += 1
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
        if self.path != "/gateway":
            answer = json.dumps({"code": 404, "message": f"no route {self.path}"}).encode()
            status = 404
        else:
            answer, status = json.dumps(self.fake.gateway(body)).encode(), 200
        self.send_response(status)
        self.send_header("Content-Type", "application/json;charset=UTF-8")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: Any) -> None:
        return None


class Control(socketserver.StreamRequestHandler):
    fake: Fake

    def handle(self) -> None:
        for line in self.rfile:
            try:
                answer = self.fake.control(json.loads(line))
            except Exception as failed:  # the test sees what it asked wrong
                answer = {"ok": False, "error": repr(failed)}
            self.wfile.write(json.dumps(answer).encode() + b"\n")


class Threaded(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def generate_key(directory: Path) -> tuple[Path, Path]:
    """An RSA key pair for a test: the private key as tigeropen reads it (PKCS#1 PEM, mode
    0600) and the public key the fake checks signatures with."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    private = directory / "tiger_rsa.pem"
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    private.chmod(0o600)
    public = directory / "tiger_rsa.pub"
    public.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return private, public


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--http-port", type=int, required=True)
    parser.add_argument("--push-port", type=int, required=True)
    parser.add_argument("--control-port", type=int, required=True)
    parser.add_argument("--state", type=Path, required=True)
    parser.add_argument("--public-key", type=Path, required=True)
    parser.add_argument("--tiger-id", required=True)
    parser.add_argument("--account", required=True)
    args = parser.parse_args()
    public_key = serialization.load_pem_public_key(args.public_key.read_bytes())
    fake = Fake(args.state, public_key, args.tiger_id, args.account)
    fake.save()
    Gateway.fake = PushSession.fake = Control.fake = fake
    http = ThreadingHTTPServer(("127.0.0.1", args.http_port), Gateway)
    http.daemon_threads = True
    push = Threaded(("127.0.0.1", args.push_port), PushSession)
    control = Threaded(("127.0.0.1", args.control_port), Control)
    for server in (http, push):
        threading.Thread(target=server.serve_forever, daemon=True).start()
    print("fake tiger ready", flush=True)
    control.serve_forever()


if __name__ == "__main__":
    main()
