"""A fake LongPort OpenAPI server, written from the SDK's protocol (its Rust core): the HTTP
API (JSON envelope `{code, message, data}`, HMAC-SHA256 signed requests) and the two
WebSocket long connections (quote and trade: binary packets with protobuf bodies, `wire.py`).

Run as its own process (the SDK holds the GIL in its blocking calls, so a fake in the test's
process could starve): `python -m tests.brokers.longport.fake_longport --port P
--control-port C --state FILE [--paused]`. The state (cash, positions, orders, executions)
is kept in FILE, so a fake started again carries on where the stopped one ended; `--paused`
starts only the control port (the test changes the state as if while the gateway was away,
then `listen`).

The control port takes `POST /<op>` with a JSON body: `state`, `fill` (order_id, qty,
price; `push_status`: the status string its push carries instead of the order's), `external`
(an order entered in LongPort's own app), `refuse` (the next submit is refused with code and
message), `lose_reply` (the next submit is booked but its answer never comes), `hold`
(answers are held for `seconds`), `hold_charges` (`on`: orders' charges not worked out yet),
`earlier_day` (order_id: as if placed on an earlier day, so not among today's orders), `drop`
(close every WebSocket), `price` (symbol, last), `listen`.
"""

import argparse
import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect
from tests.brokers.longport import wire

log = logging.getLogger("fake_longport")

APP_KEY = "fake-app-key"
APP_SECRET = "fake-app-secret"
ACCESS_TOKEN = "fake-access-token"
ACCOUNT_NO = "LB0000001"

AUTH, RECONNECT = 2, 3
QUOTE_PROFILE, TRADING_SESSION, TRADING_DAYS, STATIC_INFO, REALTIME_QUOTE = 4, 8, 9, 10, 11
DEPTH = 14
SUBSCRIBE, UNSUBSCRIBE, NOTIFY = 16, 17, 18

NAMES = {"700.HK": "Tencent", "9988.HK": "Alibaba", "AAPL.US": "Apple"}
LOT = {"700.HK": 100, "9988.HK": 100, "AAPL.US": 1}
ENDED = {"FilledStatus", "CanceledStatus", "RejectedStatus", "ExpiredStatus"}


def initial_state() -> dict[str, Any]:
    return {
        "cash": {"HKD": "1000000.00", "USD": "50000.00"},
        "positions": {"9988.HK": {"qty": 500, "cost": "80.00"}},
        "prices": {"700.HK": "380.0", "9988.HK": "85.0", "AAPL.US": "190.0"},
        "orders": {},
        "executions": [],
        "request_ids": {},
        "next_id": 701_000_000_000_000_000,
        "counts": {},
    }


class Fake:
    def __init__(self, state_path: Path) -> None:
        self.path = state_path
        self.state: dict[str, Any] = (
            json.loads(state_path.read_text()) if state_path.exists() else initial_state()
        )
        self.trade_sockets: set[WebSocket] = set()
        self.quote_sockets: set[WebSocket] = set()
        self.refusal: tuple[int, str] | None = None
        self.lose_reply = False
        self.hold_s = 0.0
        self.hold_charges = False
        self.sessions: set[str] = set()

    def save(self) -> None:
        """Written whole or not at all: the fake may be stopped while it saves."""
        partial = self.path.with_suffix(".partial")
        partial.write_text(json.dumps(self.state, indent=1))
        partial.replace(self.path)

    def count(self, what: str) -> None:
        counts = self.state["counts"]
        counts[what] = counts.get(what, 0) + 1
        self.save()

    def new_id(self) -> str:
        self.state["next_id"] += 1
        return str(self.state["next_id"])

    # ------------------------------------------------------------ orders

    def book(self, body: dict[str, Any], remark: str) -> dict[str, Any]:
        symbol = body["symbol"]
        if symbol not in NAMES:
            raise Refused(602001, f"security {symbol} not found")
        qty = int(Decimal(body["submitted_quantity"]))
        if qty <= 0 or qty % LOT[symbol]:
            raise Refused(603059, f"quantity must be a multiple of the lot size {LOT[symbol]}")
        now = str(int(time.time()))
        order = {
            "order_id": self.new_id(),
            "symbol": symbol,
            "stock_name": NAMES[symbol],
            "side": body["side"],
            "order_type": body["order_type"],
            "quantity": str(qty),
            "price": str(body.get("submitted_price") or ""),
            "executed_quantity": "0",
            "executed_amount": "0",
            "status": "NewStatus",
            "msg": "",
            "remark": remark,
            "time_in_force": body.get("time_in_force", "Day"),
            "currency": "USD" if symbol.endswith(".US") else "HKD",
            "submitted_at": now,
            "updated_at": now,
            "last_share": "",
            "last_price": "",
        }
        self.state["orders"][order["order_id"]] = order
        self.save()
        return order

    def fill(self, order_id: str, qty: int, price: str | None) -> dict[str, Any]:
        order = self.state["orders"][order_id]
        left = int(order["quantity"]) - int(order["executed_quantity"])
        if order["status"] in ENDED or not 0 < qty <= left:
            raise ValueError(f"order {order_id} ({order['status']}) cannot fill {qty}")
        fill_price = Decimal(price or order["price"] or self.state["prices"][order["symbol"]])
        executed = int(order["executed_quantity"]) + qty
        order["executed_quantity"] = str(executed)
        order["executed_amount"] = str(Decimal(order["executed_amount"]) + fill_price * qty)
        order["status"] = (
            "FilledStatus" if executed == int(order["quantity"]) else ("PartialFilledStatus")
        )
        order["last_share"], order["last_price"] = str(qty), str(fill_price)
        order["updated_at"] = str(int(time.time()))
        trade = {
            "order_id": order_id,
            "trade_id": f"T{order_id}-{len(self.state['executions']) + 1}",
            "symbol": order["symbol"],
            "trade_done_at": order["updated_at"],
            "quantity": str(qty),
            "price": str(fill_price),
            "side": order["side"],
        }
        self.state["executions"].append(trade)
        sign = 1 if order["side"] == "Buy" else -1
        cash = self.state["cash"]
        cash[order["currency"]] = str(Decimal(cash[order["currency"]]) - sign * fill_price * qty)
        held = self.state["positions"].setdefault(order["symbol"], {"qty": 0, "cost": "0"})
        if sign > 0:
            total = Decimal(held["cost"]) * held["qty"] + fill_price * qty
            held["qty"] += qty
            held["cost"] = str((total / held["qty"]).quantize(Decimal("0.001")))
        else:
            held["qty"] -= qty
        self.save()
        return order

    def cancel(self, order_id: str) -> dict[str, Any]:
        order = self.state["orders"].get(order_id)
        if order is None:
            raise Refused(603001, f"order {order_id} not found")
        if order["status"] in ENDED:
            raise Refused(603023, "the order has ended and cannot be withdrawn")
        order["status"] = "CanceledStatus"
        order["updated_at"] = str(int(time.time()))
        order["last_share"], order["last_price"] = "", ""
        self.save()
        return order

    # ------------------------------------------------------------ pushes

    async def push_order(self, order: dict[str, Any]) -> None:
        data = {
            "side": order["side"],
            "stock_name": order["stock_name"],
            "submitted_quantity": order["quantity"],
            "symbol": order["symbol"],
            "order_type": order["order_type"],
            "submitted_price": order["price"] or "0",
            "executed_quantity": order["executed_quantity"],
            "executed_price": average(order),
            "order_id": order["order_id"],
            "currency": order["currency"],
            "status": order["status"],
            "submitted_at": order["submitted_at"],
            "updated_at": order["updated_at"],
            "trigger_price": "",
            "msg": order["msg"],
            "tag": "Normal",
            "trigger_status": "NOT_USED",
            "trigger_at": "0",
            "trailing_amount": "",
            "trailing_percent": "",
            "limit_offset": "",
            "account_no": ACCOUNT_NO,
            "last_share": order["last_share"],
            "last_price": order["last_price"],
            "remark": order["remark"],
            "time_in_force": order["time_in_force"],
        }
        content = json.dumps({"event": "order_changed_lb", "data": data}).encode()
        body = (
            wire.bytes_field(1, "private")
            + wire.varint_field(2, 1)  # ContentType JSON
            + wire.varint_field(3, 1)  # DispatchType DIRECT
            + wire.bytes_field(4, content)
        )
        for socket in list(self.trade_sockets):
            with contextlib.suppress(Exception):
                await socket.send_bytes(wire.push(NOTIFY, body))


class Refused(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def average(order: dict[str, Any]) -> str:
    executed = int(order["executed_quantity"])
    if not executed:
        return "0"
    return str((Decimal(order["executed_amount"]) / executed).quantize(Decimal("0.001")))


def order_json(order: dict[str, Any]) -> dict[str, Any]:
    """An order as `/v1/trade/order/today` lists it (the SDK's `Order`)."""
    return {
        "order_id": order["order_id"],
        "status": order["status"],
        "stock_name": order["stock_name"],
        "quantity": order["quantity"],
        "executed_quantity": order["executed_quantity"],
        "price": order["price"],
        "executed_price": average(order),
        "submitted_at": order["submitted_at"],
        "side": order["side"],
        "symbol": order["symbol"],
        "order_type": order["order_type"],
        "last_done": order["last_price"],
        "trigger_price": "",
        "msg": order["msg"],
        "tag": "Normal",
        "time_in_force": order["time_in_force"],
        "expire_date": "",
        "updated_at": order["updated_at"],
        "trigger_at": "0",
        "trailing_amount": "",
        "trailing_percent": "",
        "limit_offset": "",
        "trigger_status": "NOT_USED",
        "currency": order["currency"],
        "outside_rth": "UnknownOutsideRth",
        "limit_depth_level": 0,
        "trigger_count": 0,
        "monitor_price": "",
        "remark": order["remark"],
    }


def charges(fake: "Fake", order: dict[str, Any]) -> dict[str, Any] | None:
    """The order's `OrderChargeDetail`: null until the order has ended with fills and its
    charges are worked out (never, while `hold_charges`); a broker commission (0.03%, at
    least 3) and the exchange's fees (0.00565%, at least 0.01) of the executed amount."""
    executed = Decimal(order["executed_amount"])
    if order["status"] not in ENDED or not executed or fake.hold_charges:
        return None
    cent = Decimal("0.01")
    commission = max(executed * Decimal("0.0003"), Decimal(3)).quantize(cent)
    exchange = max(executed * Decimal("0.0000565"), cent).quantize(cent)
    currency = order["currency"]

    def fee(code: str, name: str, amount: Decimal) -> dict[str, Any]:
        return {"code": code, "name": name, "amount": str(amount), "currency": currency}

    return {
        "total_amount": str(commission + exchange),
        "currency": currency,
        "items": [
            {
                "code": "BROKER_FEES",
                "name": "Broker Fees",
                "fees": [fee("0001", "Commission", commission)],
            },
            {
                "code": "THIRD_FEES",
                "name": "Third-party Fees",
                "fees": [fee("0101", "Trading Fee", exchange)],
            },
        ],
    }


def order_detail_json(fake: "Fake", order: dict[str, Any]) -> dict[str, Any]:
    """An order as `GET /v1/trade/order` describes it (the SDK's `OrderDetail`)."""
    history = [
        {
            "price": t["price"],
            "quantity": t["quantity"],
            "status": "PartialFilledStatus",
            "msg": "",
            "time": t["trade_done_at"],
        }
        for t in fake.state["executions"]
        if t["order_id"] == order["order_id"]
    ]
    return order_json(order) | {
        "free_status": "None",
        "free_amount": "",
        "free_currency": "",
        "deductions_status": "NONE",
        "deductions_amount": "",
        "deductions_currency": "",
        "platform_deducted_status": "NONE",
        "platform_deducted_amount": "",
        "platform_deducted_currency": "",
        "history": history,
        "charge_detail": charges(fake, order),
    }


# ---------------------------------------------------------------- HTTP


def signed(request: Request, body: bytes) -> bool:
    """The SDK's `X-Api-Signature`: HMAC-SHA256 with the app secret over
    `HMAC-SHA256|sha1(method|path|query|signed header values|header names|sha1(body))`."""
    headers = request.headers
    names = "authorization;x-api-key;x-timestamp"
    values = (
        f"authorization:{headers.get('authorization', '')}\n"
        f"x-api-key:{headers.get('x-api-key', '')}\nx-timestamp:{headers.get('x-timestamp', '')}\n"
    )
    plain = f"{request.method}|{request.url.path}|{request.url.query}|{values}|{names}|"
    if body:
        plain += hashlib.sha1(body).hexdigest()
    to_sign = "HMAC-SHA256|" + hashlib.sha1(plain.encode()).hexdigest()
    digest = hmac.new(APP_SECRET.encode(), to_sign.encode(), hashlib.sha256).hexdigest()
    expected = f"HMAC-SHA256 SignedHeaders={names}, Signature={digest}"
    return hmac.compare_digest(headers.get("x-api-signature", ""), expected)


def envelope(data: Any = None, code: int = 0, message: str = "") -> JSONResponse:
    return JSONResponse({"code": code, "message": message, "data": data})


Handler = Callable[[Request, bytes], Awaitable[Response]]


def broker_app(fake: Fake) -> Starlette:
    def api(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def checked(request: Request) -> Response:
            body = await request.body()
            fake.count(f"{request.method} {request.url.path}")
            if request.headers.get("x-api-key") != APP_KEY:
                return envelope(code=401001, message="invalid app key")
            if request.headers.get("authorization") != ACCESS_TOKEN:
                return envelope(code=401003, message="invalid access token")
            if not signed(request, body):
                return envelope(code=401004, message="signature mismatch")
            if fake.hold_s:
                await asyncio.sleep(fake.hold_s)
            try:
                return await handler(request, body)
            except Refused as refused:
                return envelope(code=refused.code, message=refused.message)

        return checked

    async def token(request: Request, body: bytes) -> Response:
        return envelope({"otp": "fake-otp", "limit": 10, "online": 0})

    async def account(request: Request, body: bytes) -> Response:
        cash = fake.state["cash"]
        infos = [
            {
                "withdraw_cash": amount,
                "available_cash": amount,
                "frozen_cash": "0",
                "settling_cash": "0",
                "currency": currency,
            }
            for currency, amount in cash.items()
        ]
        value = sum(
            (
                Decimal(fake.state["prices"][s]) * p["qty"]
                for s, p in fake.state["positions"].items()
                if s.endswith(".HK")
            ),
            Decimal(0),
        )
        balance = {
            "total_cash": cash["HKD"],
            "max_finance_amount": "0",
            "remaining_finance_amount": "0",
            "risk_level": "1",
            "margin_call": "0",
            "currency": "HKD",
            "cash_infos": infos,
            "net_assets": str(Decimal(cash["HKD"]) + value),
            "init_margin": "0",
            "maintenance_margin": "0",
            "buy_power": cash["HKD"],
            "frozen_transaction_fees": [],
        }
        return envelope({"list": [balance]})

    async def stock(request: Request, body: bytes) -> Response:
        info = [
            {
                "symbol": symbol,
                "symbol_name": NAMES[symbol],
                "quantity": str(held["qty"]),
                "available_quantity": str(held["qty"]),
                "currency": "USD" if symbol.endswith(".US") else "HKD",
                "cost_price": held["cost"],
                "market": symbol.rsplit(".", 1)[1],
                "init_quantity": str(held["qty"]),
            }
            for symbol, held in fake.state["positions"].items()
            if held["qty"]
        ]
        return envelope({"list": [{"account_channel": "lb", "stock_info": info}]})

    async def submit(request: Request, body: bytes) -> Response:
        order_body = json.loads(body)
        request_id = order_body.get("client_request_id")
        if request_id and request_id in fake.state["request_ids"]:
            return envelope({"order_id": fake.state["request_ids"][request_id]})
        if fake.refusal is not None:
            code, message = fake.refusal
            fake.refusal = None
            raise Refused(code, message)
        order = fake.book(order_body, order_body.get("remark", ""))
        if request_id:
            fake.state["request_ids"][request_id] = order["order_id"]
            fake.save()
        await fake.push_order(order)
        if fake.lose_reply:
            fake.lose_reply = False
            await asyncio.sleep(3600)  # the answer never comes
        return envelope({"order_id": order["order_id"]})

    async def cancel(request: Request, body: bytes) -> Response:
        order = fake.cancel(request.query_params["order_id"])
        await fake.push_order(order)
        return envelope({})

    async def today_orders(request: Request, body: bytes) -> Response:
        wanted = request.query_params.get("order_id")
        orders = [
            order_json(o)
            for o in fake.state["orders"].values()
            if (wanted is None or o["order_id"] == wanted) and not o.get("earlier_day")
        ]
        return envelope({"orders": orders})

    async def order_detail(request: Request, body: bytes) -> Response:
        order = fake.state["orders"].get(request.query_params.get("order_id", ""))
        if order is None:
            raise Refused(603001, "order not found")
        return envelope(order_detail_json(fake, order))

    async def today_executions(request: Request, body: bytes) -> Response:
        wanted = request.query_params.get("order_id")
        trades = [t for t in fake.state["executions"] if wanted is None or t["order_id"] == wanted]
        return envelope({"trades": trades})

    async def trade_socket(socket: WebSocket) -> None:
        await serve_socket(fake, socket, fake.trade_sockets, trade_request)

    async def quote_socket(socket: WebSocket) -> None:
        await serve_socket(fake, socket, fake.quote_sockets, quote_request)

    return Starlette(
        routes=[
            Route("/v1/socket/token", api(token), methods=["GET"]),
            Route("/v1/asset/account", api(account), methods=["GET"]),
            Route("/v1/asset/stock", api(stock), methods=["GET"]),
            Route("/v1/trade/order", api(submit), methods=["POST"]),
            Route("/v1/trade/order", api(cancel), methods=["DELETE"]),
            Route("/v1/trade/order", api(order_detail), methods=["GET"]),
            Route("/v1/trade/order/today", api(today_orders), methods=["GET"]),
            Route("/v1/trade/execution/today", api(today_executions), methods=["GET"]),
            WebSocketRoute("/v2/trade", trade_socket),
            WebSocketRoute("/v2/quote", quote_socket),
        ]
    )


# ---------------------------------------------------------------- WebSocket

Answer = tuple[bytes, int]
"""A response body and its status (0 = ok)."""


async def serve_socket(
    fake: Fake,
    socket: WebSocket,
    sockets: set[WebSocket],
    answer: Callable[[Fake, wire.Request], Answer | None],
) -> None:
    """One long connection: `version=1&codec=1` (protobuf) only; auth (or a session
    reconnect) first, then the context's requests."""
    params = socket.query_params
    if (params.get("version"), params.get("codec")) != ("1", "1"):
        await socket.close(code=1008)
        return
    await socket.accept()
    fake.count(f"ws {socket.url.path}")
    authed = False
    try:
        while True:
            frame = await socket.receive_bytes()
            request = wire.decode_request(frame)
            if request.cmd in (AUTH, RECONNECT):
                body, status = session(fake, request)
                authed = status == 0
                if authed:
                    sockets.add(socket)
            elif not authed:
                body, status = wire.error(401, "not authenticated"), 1
            else:
                answered = answer(fake, request)
                if answered is None:
                    body, status = wire.error(404, f"command {request.cmd} unknown"), 1
                else:
                    body, status = answered
            await socket.send_bytes(wire.response(request.cmd, request.request_id, body, status))
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        sockets.discard(socket)


def session(fake: Fake, request: wire.Request) -> Answer:
    if request.cmd == AUTH:
        (token, *_) = wire.strings(request.body, 1) or [""]
        if token != "fake-otp":
            return wire.error(401, "invalid otp"), 1
    else:
        (session_id, *_) = wire.strings(request.body, 1) or [""]
        if session_id not in fake.sessions:
            return wire.error(401, "session expired"), 1
    session_id = f"session-{len(fake.sessions) + 1}"
    fake.sessions.add(session_id)
    expires = int(time.time() * 1000) + 3_600_000
    body = (
        wire.bytes_field(1, session_id)
        + wire.varint_field(2, expires)
        + wire.varint_field(3, 10)
        + wire.varint_field(4, 1)
    )
    return body, 0


def trade_request(fake: Fake, request: wire.Request) -> Answer | None:
    if request.cmd in (SUBSCRIBE, UNSUBSCRIBE):
        topics = wire.strings(request.body, 1)
        fake.count("subscribe" if request.cmd == SUBSCRIBE else "unsubscribe")
        current = [] if request.cmd == UNSUBSCRIBE else sorted(set(topics) & {"private"})
        body = b"".join(wire.bytes_field(1, t) for t in current if request.cmd == SUBSCRIBE)
        return body + b"".join(wire.bytes_field(3, t) for t in current), 0
    return None


def quote_request(fake: Fake, request: wire.Request) -> Answer | None:
    if request.cmd == QUOTE_PROFILE:
        return wire.varint_field(1, 1) + wire.bytes_field(2, "lv1") + wire.varint_field(
            3, 500
        ) + wire.varint_field(4, 1000), 0
    if request.cmd == TRADING_DAYS:
        return b"", 0
    if request.cmd == TRADING_SESSION:
        body = b""
        for market, periods in (
            ("HK", ((930, 1200), (1300, 1600))),
            ("US", ((930, 1600),)),
            ("CN", ((930, 1130), (1300, 1500))),
        ):
            sessions = b"".join(
                wire.message_field(2, wire.varint_field(1, begin) + wire.varint_field(2, end))
                for begin, end in periods
            )
            body += wire.message_field(1, wire.bytes_field(1, market) + sessions)
        return body, 0
    symbols = wire.strings(request.body, 1)
    if request.cmd == DEPTH:  # `SecurityRequest{symbol}` -> `SecurityDepthResponse`
        (symbol,) = symbols
        if symbol not in NAMES:
            return wire.error(301600, f"security {symbol} not found"), 1
        last, step = Decimal(fake.state["prices"][symbol]), Decimal("0.2")

        def level(position: int, price: Decimal, volume: int) -> bytes:
            return (
                wire.varint_field(1, position)
                + wire.bytes_field(2, str(price))
                + wire.varint_field(3, volume)
                + wire.varint_field(4, 3)
            )

        body = wire.bytes_field(1, symbol)
        for i in (1, 2):  # the levels out of order: the first is not always the best
            body += wire.message_field(2, level(3 - i, last + step * (3 - i), 1000 * (3 - i)))
        for i in (1, 2):
            body += wire.message_field(3, level(i, last - step * i, 500 * i))
        return body, 0
    if request.cmd == STATIC_INFO:
        infos = b"".join(
            wire.message_field(
                1,
                wire.bytes_field(1, s)
                + wire.bytes_field(3, NAMES[s])
                + wire.bytes_field(6, "SEHK" if s.endswith(".HK") else "NASD")
                + wire.bytes_field(7, "USD" if s.endswith(".US") else "HKD")
                + wire.varint_field(8, LOT[s]),
            )
            for s in symbols
            if s in NAMES
        )
        return infos, 0
    if request.cmd == REALTIME_QUOTE:
        now = int(time.time())
        quotes = b"".join(
            wire.message_field(
                1,
                wire.bytes_field(1, s)
                + wire.bytes_field(2, fake.state["prices"][s])
                + wire.bytes_field(3, fake.state["prices"][s])
                + wire.bytes_field(4, fake.state["prices"][s])
                + wire.bytes_field(5, fake.state["prices"][s])
                + wire.bytes_field(6, fake.state["prices"][s])
                + wire.varint_field(7, now)
                + wire.varint_field(8, 1000)
                + wire.bytes_field(9, "0"),
            )
            for s in symbols
            if s in NAMES
        )
        return quotes, 0
    return None


# ---------------------------------------------------------------- control


def control_app(fake: Fake, listen: Callable[[], None]) -> Starlette:
    async def control(request: Request) -> Response:
        op = request.path_params["op"]
        args: dict[str, Any] = json.loads(await request.body() or b"{}")
        if op == "state":
            return JSONResponse({**fake.state, "trade_sockets": len(fake.trade_sockets)})
        if op == "fill":
            order = fake.fill(args["order_id"], int(args["qty"]), args.get("price"))
            pushed = order | {"status": args["push_status"]} if "push_status" in args else order
            await fake.push_order(pushed)
            return JSONResponse(order)
        if op == "external":
            body = {
                "symbol": args["symbol"],
                "side": args.get("side", "Buy"),
                "order_type": "LO",
                "submitted_quantity": str(args["qty"]),
                "submitted_price": args["price"],
                "time_in_force": "Day",
            }
            order = fake.book(body, args.get("remark", ""))
            await fake.push_order(order)
            return JSONResponse(order)
        if op == "refuse":
            fake.refusal = (int(args.get("code", 602012)), args["message"])
        elif op == "lose_reply":
            fake.lose_reply = True
        elif op == "hold_charges":
            fake.hold_charges = bool(args["on"])
        elif op == "earlier_day":  # as if placed on an earlier day: not among today's
            fake.state["orders"][args["order_id"]]["earlier_day"] = True
            fake.save()
        elif op == "hold":
            fake.hold_s = float(args["seconds"])
        elif op == "price":
            fake.state["prices"][args["symbol"]] = args["last"]
            fake.save()
        elif op == "drop":
            for socket in list(fake.trade_sockets | fake.quote_sockets):
                with contextlib.suppress(Exception):
                    await socket.close(code=1001)
        elif op == "listen":
            listen()
        else:
            return JSONResponse({"error": f"unknown op {op}"}, status_code=404)
        return JSONResponse({})

    return Starlette(routes=[Route("/{op}", control, methods=["POST"])])


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--control-port", type=int, required=True)
    parser.add_argument("--state", type=Path, required=True)
    parser.add_argument("--paused", action="store_true")
    options = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s fake %(message)s")
    fake = Fake(options.state)
    fake.save()
    broker = uvicorn.Server(
        uvicorn.Config(
            broker_app(fake),
            host="127.0.0.1",
            port=options.port,
            log_level="warning",
            ws="websockets-sansio",
            ws_ping_interval=5.0,
        )
    )
    broker.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    tasks: list[asyncio.Task[None]] = []

    def listen() -> None:
        if not tasks:
            tasks.append(asyncio.get_running_loop().create_task(broker.serve()))

    control = uvicorn.Server(
        uvicorn.Config(
            control_app(fake, listen),
            host="127.0.0.1",
            port=options.control_port,
            log_level="warning",
        )
    )
    if not options.paused:
        listen()
    await control.serve()
    broker.should_exit = True
    if tasks:
        await tasks[0]


if __name__ == "__main__":
    asyncio.run(main())
