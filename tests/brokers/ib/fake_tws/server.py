"""The fake TWS: API sessions on one port, a control channel for the test on another.

Each API connection is a `Session`: the handshake and version negotiation, `startApi` (a
client id already connected is refused with error 326 and the socket closed, as TWS does),
then the requests. Orders are the `Book`'s; what happens to one goes to the session that
placed it, to a session of the master client id (if configured) and, for orders entered in
TWS itself (client 0), to client 0 once it asked for them (`reqAutoOpenOrders`).

The control channel takes one JSON object a line and answers one: move the market, enter an
order "in TWS", read the state, drop the API clients, stop or start listening.
"""

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar

from tests.brokers.ib.fake_tws import messages as m
from tests.brokers.ib.fake_tws.book import Book, Execution, FakeOrder, Rejected
from tests.brokers.ib.fake_tws.catalog import BY_CON_ID, LISTINGS, Listing, matching
from tests.brokers.ib.fake_tws.requests import (
    ContractSpec,
    read_contract_details,
    read_executions,
    read_market_data,
    read_place_order,
)
from tests.brokers.ib.fake_tws.wire import (
    Cursor,
    ProtocolError,
    frame,
    handshake_reply,
    read_handshake,
    read_message,
)

log = logging.getLogger("fake_tws")

DUPLICATE_CLIENT = (
    "Unable to connect as the client id is already in use. Retry with a unique client id."
)
NO_SECURITY = "No security definition has been found for the request"
NOT_SUBSCRIBED = (
    "Requested market data is not subscribed. Check API status by selecting the Account menu "
    "then under Management choose Market Data Subscription Manager and/or Market Data "
    "Permissions."
)
DELAYED = "Requested market data is not subscribed. Displaying delayed market data."
FARMS = (
    (2104, "Market data farm connection is OK:usfarm"),
    (2106, "HMDS data farm connection is OK:ushmds"),
    (2158, "Sec-def data farm connection is OK:secdefnj"),
)


@dataclass
class Settings:
    server_version: int = m.MAX_VERSION
    fill_delay_s: float = 0.02
    status_first: bool = False
    """Send orderStatus/openOrder before execDetails on a fill (both orders occur)."""
    master_client_id: int | None = None
    commission_delay_s: float = 0.0
    """Send commission reports this long after their executions (TWS sends them apart)."""
    silent: bool = False
    """Take new orders without a word (no acknowledgement, no fills): TWS gone quiet."""


class Session:
    def __init__(
        self, tws: "FakeTws", reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.tws = tws
        self.reader = reader
        self.writer = writer
        self.sv = 0
        self.client_id: int | None = None
        self.positions = False
        self.account_updates = False
        self.auto_open = False
        self.market_data_type = 1
        self.streams: dict[int, int] = {}
        """reqId -> conId of streaming market data."""

    def send(self, fields: list[object]) -> None:
        if not self.writer.is_closing():
            self.writer.write(frame(fields))

    def error(self, req_id: int, code: int, message: str) -> None:
        self.send(m.error(self.sv, req_id, code, message))

    async def run(self) -> None:
        try:
            low, high, _ = await read_handshake(self.reader)
            self.sv = min(high, self.tws.settings.server_version)
            self.writer.write(handshake_reply(self.sv))
            if self.sv < low:
                log.info("client wants versions %d..%d, this server has %d", low, high, self.sv)
            while True:
                fields = await read_message(self.reader)
                self.handle(fields)
                await self.writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        except ProtocolError as broken:
            log.error("protocol error from client %s: %s", self.client_id, broken)
        finally:
            self.tws.sessions.discard(self)
            self.writer.close()
            with contextlib.suppress(Exception):
                await self.writer.wait_closed()

    def handle(self, fields: list[str]) -> None:
        msg_id = int(fields[0])
        if self.client_id is None and msg_id != 71:
            log.error("message %d before startApi", msg_id)
            return
        handler = self.HANDLERS.get(msg_id)
        if handler is None:
            log.warning("unhandled message %s", fields)
            self.error(-1, 321, f"Error validating request: message {msg_id} not implemented")
            return
        try:
            handler(self, fields)
        except ProtocolError as broken:
            log.error("bad message %s: %s", fields[:3], broken)
            self.error(-1, 320, f"Error reading request: {broken}")

    # ------------------------------------------------------------------ session

    def start_api(self, fields: list[str]) -> None:
        client_id = Cursor(fields, start=2).int()
        if any(s.client_id == client_id for s in self.tws.sessions if s is not self):
            self.error(-1, 326, DUPLICATE_CLIENT)
            self.writer.close()
            return
        self.client_id = client_id
        book = self.tws.book
        self.send(m.managed_accounts(self.tws.accounts))
        self.send(m.next_valid_id(book.next_order_id(client_id)))
        for code, text in FARMS:
            self.error(-1, code, text)
        log.info("client %d connected at server version %d", client_id, self.sv)

    def req_ids(self, fields: list[str]) -> None:
        assert self.client_id is not None
        self.send(m.next_valid_id(self.tws.book.next_order_id(self.client_id)))

    def req_managed_accounts(self, fields: list[str]) -> None:
        self.send(m.managed_accounts(self.tws.accounts))

    def req_current_time(self, fields: list[str]) -> None:
        self.send(m.current_time(int(datetime.now(UTC).timestamp())))

    # ------------------------------------------------------------------ contracts, quotes

    def resolve(self, spec: ContractSpec) -> list[Listing]:
        return matching(
            con_id=spec.con_id,
            symbol=spec.symbol or spec.local_symbol,
            sec_type=spec.sec_type,
            exchange=spec.exchange,
            primary=spec.primary,
            currency=spec.currency,
        )

    def req_contract_details(self, fields: list[str]) -> None:
        req_id, spec = read_contract_details(fields, self.sv)
        found = self.resolve(spec)
        if not found:
            self.error(req_id, 200, NO_SECURITY)
            return
        for listing in found:
            self.send(m.contract_details(self.sv, req_id, listing, spec.exchange))
        self.send(m.contract_details_end(req_id))

    def req_market_data_type(self, fields: list[str]) -> None:
        self.market_data_type = Cursor(fields, start=2).int()

    def delayed_for(self, listing: Listing) -> bool | None:
        """Whether this session gets delayed data of `listing`; None: none at all."""
        if listing.market_data:
            return False
        return True if self.market_data_type in (3, 4) else None

    def req_market_data(self, fields: list[str]) -> None:
        request = read_market_data(fields)
        found = self.resolve(request.contract)
        if len(found) != 1:
            self.error(request.req_id, 200, NO_SECURITY)
            return
        listing = found[0]
        delayed = self.delayed_for(listing)
        if delayed is None:
            self.error(request.req_id, 354, NOT_SUBSCRIBED)
            return
        if delayed:
            self.error(request.req_id, 10167, DELAYED)
        self.send(m.market_data_type(request.req_id, 3 if delayed else 1))
        self.send_ticks(request.req_id, listing)
        if request.snapshot:
            self.send(m.tick_snapshot_end(request.req_id))
        else:
            self.streams[request.req_id] = listing.con_id

    def send_ticks(self, req_id: int, listing: Listing) -> None:
        delayed = bool(self.delayed_for(listing))
        for tick in m.ticks(req_id, self.tws.book.quotes[listing.con_id], delayed=delayed):
            self.send(tick)

    def cancel_market_data(self, fields: list[str]) -> None:
        self.streams.pop(Cursor(fields, start=2).int(), None)

    # ------------------------------------------------------------------ orders

    def knows(self, order: FakeOrder) -> bool:
        """Whether this session hears of `order` (see the module docstring)."""
        if self.client_id is None:
            return False
        master = self.tws.settings.master_client_id
        return (
            order.client_id == self.client_id
            or (master is not None and self.client_id == master)
            or (order.client_id == 0 and self.client_id == 0 and self.auto_open)
        )

    def place_order(self, fields: list[str]) -> None:
        assert self.client_id is not None
        request = read_place_order(fields, self.sv)
        book = self.tws.book
        book.next_order_ids[self.client_id] = max(
            book.next_order_id(self.client_id), request.order_id + 1
        )
        if request.what_if or request.algo or not request.transmit or request.parent_id:
            self.error(request.order_id, 321, "Error validating request: not supported here")
            return
        existing = book.order_of(self.client_id, request.order_id)
        if existing is not None:
            if not existing.is_open:
                self.error(request.order_id, 103, "Duplicate order id")
                return
            existing.qty, existing.lmt_price = request.qty, request.lmt_price
            self.tws.changed(existing)
            self.tws.match_soon(existing)
            return
        found = self.resolve(request.contract)
        if len(found) != 1:
            self.error(request.order_id, 200, NO_SECURITY)
            return
        order = FakeOrder(
            perm_id=0,
            client_id=self.client_id,
            order_id=request.order_id,
            account=request.account or book.account,
            con_id=found[0].con_id,
            action=request.action,
            qty=request.qty,
            order_type=request.order_type,
            lmt_price=request.lmt_price if request.order_type == "LMT" else None,
            tif=request.tif,
            order_ref=request.order_ref,
            outside_rth=request.outside_rth,
        )
        try:
            book.place(order)
        except Rejected as refused:
            self.tws.save()
            self.error(request.order_id, refused.code, refused.message)
            return
        if self.tws.settings.silent:
            self.tws.save()
            return
        self.tws.changed(order)
        self.tws.match_soon(order)

    def cancel_order(self, fields: list[str]) -> None:
        assert self.client_id is not None
        cursor = Cursor(fields, start=2)
        order_id = cursor.int()
        if self.sv >= 169:
            cursor.skip(1)
        cursor.done()
        order = self.tws.book.order_of(self.client_id, order_id)
        if order is None:
            self.error(
                order_id, 10147, f"OrderId {order_id} that needs to be cancelled is not found."
            )
        elif not order.is_open:
            self.error(
                order_id,
                10148,
                f"OrderId {order_id} that needs to be cancelled cannot be cancelled, "
                f"state: {order.status}.",
            )
        else:
            self.tws.cancel(order)

    def global_cancel(self, fields: list[str]) -> None:
        for order in list(self.tws.book.orders.values()):
            if order.is_open:
                self.tws.cancel(order)

    def send_order(self, order: FakeOrder) -> None:
        self.send(m.open_order(self.sv, order, order.order_id))
        self.send(m.order_status(order, order.order_id))

    def req_open_orders(self, fields: list[str]) -> None:
        for order in self.tws.book.orders.values():
            if order.is_open and self.knows(order):
                self.send_order(order)
        self.send(m.open_order_end())

    def req_all_open_orders(self, fields: list[str]) -> None:
        for order in self.tws.book.orders.values():
            if order.is_open:
                self.send_order(order)
        self.send(m.open_order_end())

    def req_auto_open_orders(self, fields: list[str]) -> None:
        if self.client_id == 0:
            self.auto_open = Cursor(fields, start=2).bool()
        else:
            self.error(-1, 321, "Error validating request: auto open orders need client id 0")

    def req_completed_orders(self, fields: list[str]) -> None:
        api_only = Cursor(fields).bool()
        for order in self.tws.book.orders.values():
            if not order.is_open and not (api_only and order.client_id == 0):
                self.send(m.completed_order(self.sv, order))
        self.send(m.completed_orders_end())

    def req_executions(self, fields: list[str]) -> None:
        wanted = read_executions(fields)
        for execution in self.tws.book.executions:
            listing = BY_CON_ID[execution.con_id]
            side = "BUY" if execution.side == "BOT" else "SELL"
            if (
                (wanted.client_id and execution.client_id != wanted.client_id)
                or (wanted.account and execution.account != wanted.account)
                or (wanted.symbol and listing.symbol != wanted.symbol)
                or (wanted.sec_type and wanted.sec_type != "STK")
                or (wanted.side and wanted.side != side)
            ):
                continue
            self.send(m.exec_details(self.sv, wanted.req_id, execution, listing))
            self.send(m.commission_report(execution))
        self.send(m.exec_details_end(wanted.req_id))

    # ------------------------------------------------------------------ the account

    def req_positions(self, fields: list[str]) -> None:
        self.positions = True
        book = self.tws.book
        for con_id, holding in book.holdings.items():
            if holding.qty:
                self.send(
                    m.position(book.account, BY_CON_ID[con_id], holding.qty, holding.avg_cost)
                )
        self.send(m.position_end())

    def cancel_positions(self, fields: list[str]) -> None:
        self.positions = False

    def req_account_updates(self, fields: list[str]) -> None:
        cursor = Cursor(fields, start=2)
        subscribe, account = cursor.bool(), cursor.str()
        book = self.tws.book
        if not subscribe:
            self.account_updates = False
            return
        if account and account != book.account:
            self.error(-1, 321, f"Error validating request: unknown account {account}")
            return
        self.account_updates = True
        self.send_account()
        for con_id in book.holdings:
            self.send_portfolio(con_id)
        self.send(m.account_download_end(book.account))

    def send_account(self) -> None:
        book = self.tws.book
        for key, value, currency in book.account_values():
            self.send(m.account_value(key, value, currency, book.account))
        self.send(m.account_time(datetime.now(UTC).strftime("%H:%M")))

    def send_portfolio(self, con_id: int) -> None:
        book = self.tws.book
        holding = book.holdings[con_id]
        self.send(
            m.portfolio_value(
                BY_CON_ID[con_id],
                holding.qty,
                book.quotes[con_id].market_price(),
                holding.avg_cost,
                holding.realized,
                book.account,
            )
        )

    def req_account_updates_multi(self, fields: list[str]) -> None:
        cursor = Cursor(fields, start=2)
        req_id, account = cursor.int(), cursor.str()
        book = self.tws.book
        if account in ("", book.account):
            for key, value, currency in book.account_values():
                self.send(m.account_update_multi(req_id, book.account, key, value, currency))
        self.send(m.account_update_multi_end(req_id))

    def cancel_account_updates_multi(self, fields: list[str]) -> None:
        return None

    def req_account_summary(self, fields: list[str]) -> None:
        cursor = Cursor(fields, start=2)
        req_id, _group, tags = cursor.int(), cursor.str(), cursor.str().split(",")
        book = self.tws.book
        for key, value, currency in book.account_values():
            if key in tags and currency not in ("", "BASE"):
                self.send(m.account_summary(req_id, book.account, key, value, currency))
        self.send(m.account_summary_end(req_id))

    def cancel_account_summary(self, fields: list[str]) -> None:
        return None

    HANDLERS: ClassVar[dict[int, Callable[["Session", list[str]], None]]] = {
        1: req_market_data,
        2: cancel_market_data,
        3: place_order,
        4: cancel_order,
        5: req_open_orders,
        6: req_account_updates,
        7: req_executions,
        8: req_ids,
        9: req_contract_details,
        15: req_auto_open_orders,
        16: req_all_open_orders,
        17: req_managed_accounts,
        49: req_current_time,
        58: global_cancel,
        59: req_market_data_type,
        61: req_positions,
        62: req_account_summary,
        63: cancel_account_summary,
        64: cancel_positions,
        71: start_api,
        76: req_account_updates_multi,
        77: cancel_account_updates_multi,
        99: req_completed_orders,
    }


class FakeTws:
    def __init__(
        self, book: Book, state: Path, settings: Settings, accounts: list[str] | None = None
    ) -> None:
        self.book = book
        self.state = state
        self.settings = settings
        self.accounts = accounts or [book.account]
        self.sessions: set[Session] = set()
        self._listener: asyncio.Server | None = None
        self.port = 0
        self.stopped = asyncio.Event()

    def save(self) -> None:
        self.book.save(self.state)

    # ------------------------------------------------------------------ API listener

    async def listen(self, port: int) -> int:
        if self._listener is None:
            self._listener = await asyncio.start_server(
                self._accept, "127.0.0.1", port or self.port, reuse_address=True
            )
            self.port = self._listener.sockets[0].getsockname()[1]
        return self.port

    async def stop_listening(self) -> None:
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        await self.drop()

    async def drop(self) -> None:
        for session in list(self.sessions):
            session.writer.close()
        self.sessions.clear()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        session = Session(self, reader, writer)
        self.sessions.add(session)
        await session.run()

    # ------------------------------------------------------------------ what happens

    def changed(self, order: FakeOrder) -> None:
        """Persist, then tell who knows the order of its state."""
        self.save()
        for session in self.sessions:
            if session.knows(order):
                session.send_order(order)

    def cancel(self, order: FakeOrder) -> None:
        self.book.cancel(order)
        self.changed(order)
        for session in self.sessions:
            if session.knows(order) and order.order_id > 0:
                session.error(order.order_id, 202, "Order Canceled - reason:")

    def match_soon(self, order: FakeOrder) -> None:
        asyncio.get_running_loop().call_later(
            self.settings.fill_delay_s, self.match, [order.perm_id]
        )

    def match(self, perm_ids: list[int]) -> None:
        for perm_id in perm_ids:
            order = self.book.orders[perm_id]
            before = order.status
            executions = self.book.match(order)
            for execution in executions:
                self.filled(order, execution)
            if not executions and order.status != before:
                self.changed(order)  # an IOC/FOK order canceled

    def filled(self, order: FakeOrder, execution: Execution) -> None:
        self.save()
        listing = BY_CON_ID[execution.con_id]
        for session in self.sessions:
            if not session.knows(order):
                continue
            details = m.exec_details(session.sv, -1, execution, listing)
            if self.settings.status_first:
                session.send_order(order)
                session.send(details)
            else:
                session.send(details)
                session.send_order(order)
        if self.settings.commission_delay_s:
            asyncio.get_running_loop().call_later(
                self.settings.commission_delay_s, self.report_commission, order, execution
            )
        else:
            self.report_commission(order, execution)
        self.books_changed([execution.con_id])

    def report_commission(self, order: FakeOrder, execution: Execution) -> None:
        for session in self.sessions:
            if session.knows(order):
                session.send(m.commission_report(execution))

    def books_changed(self, con_ids: list[int]) -> None:
        book = self.book
        for session in self.sessions:
            for con_id in con_ids:
                holding = book.holdings.get(con_id)
                if holding is None:
                    continue
                if session.positions:
                    session.send(
                        m.position(book.account, BY_CON_ID[con_id], holding.qty, holding.avg_cost)
                    )
                if session.account_updates:
                    session.send_portfolio(con_id)
            if session.account_updates:
                session.send_account()

    def set_quote(self, con_id: int, changes: dict[str, Any]) -> None:
        quote = self.book.quotes[con_id]
        for name, value in changes.items():
            kind = type(getattr(quote, name))
            setattr(quote, name, kind(str(value)) if kind is Decimal else int(value))
        self.save()
        listing = BY_CON_ID[con_id]
        for session in self.sessions:
            for req_id, streamed in session.streams.items():
                if streamed == con_id:
                    session.send_ticks(req_id, listing)
        self.match(
            sorted(p for p, o in self.book.orders.items() if o.con_id == con_id and o.is_open)
        )
        if any(h for c, h in self.book.holdings.items() if c == con_id and h.qty):
            self.books_changed([con_id])

    def enter_in_tws(self, spec: dict[str, Any]) -> FakeOrder:
        """An order typed into TWS (client 0) or placed by another API client."""
        listing = by_symbol(spec["symbol"])
        client_id = int(spec.get("client_id", 0))
        order_id = self.book.next_order_id(client_id) if client_id else 0
        order = FakeOrder(
            perm_id=0,
            client_id=client_id,
            order_id=order_id,
            account=self.book.account,
            con_id=listing.con_id,
            action=spec["action"],
            qty=Decimal(str(spec["qty"])),
            order_type=spec.get("type", "LMT"),
            lmt_price=Decimal(str(spec["price"])) if spec.get("price") is not None else None,
            tif=spec.get("tif", "DAY"),
            order_ref=spec.get("order_ref", ""),
        )
        self.book.place(order)
        self.changed(order)
        self.match([order.perm_id])
        return order

    # ------------------------------------------------------------------ control channel

    async def serve_control(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        try:
            while line := await reader.readline():
                try:
                    reply = await self.control(json.loads(line))
                except Rejected as refused:
                    reply = {"ok": False, "code": refused.code, "error": refused.message}
                except Exception as failed:
                    log.exception("control command %s failed", line)
                    reply = {"ok": False, "error": repr(failed)}
                writer.write((json.dumps(reply, default=str) + "\n").encode())
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass  # the test went away, or the fake stops
        finally:
            writer.close()

    async def control(self, command: dict[str, Any]) -> dict[str, Any]:
        op = command.pop("op")
        if op == "quote":
            self.set_quote(by_symbol(command.pop("symbol")).con_id, command)
        elif op == "enter_order":
            return {"ok": True, "perm_id": self.enter_in_tws(command).perm_id}
        elif op == "cancel_order":
            self.cancel(self.book.orders[int(command["perm_id"])])
        elif op == "state":
            return {"ok": True, **self.snapshot()}
        elif op == "listen":
            if command["on"]:
                await self.listen(self.port)
            else:
                await self.stop_listening()
        elif op == "drop":
            await self.drop()
        elif op == "configure":
            for name, value in command.items():
                setattr(self.settings, name, value)
        elif op == "stop":
            self.stopped.set()
        elif op != "ping":
            raise ValueError(f"unknown control op {op!r}")
        return {"ok": True}

    def snapshot(self) -> dict[str, Any]:
        book = self.book
        return {
            "account": book.account,
            "cash": book.cash,
            "account_values": [list(row) for row in book.account_values()],
            "positions": {
                BY_CON_ID[c].symbol: {"qty": h.qty, "avg_cost": h.avg_cost, "realized": h.realized}
                for c, h in book.holdings.items()
                if h.qty
            },
            "orders": [{**asdict(o), "symbol": o.listing.symbol} for o in book.orders.values()],
            "executions": [asdict(e) for e in book.executions],
            "clients": sorted(s.client_id for s in self.sessions if s.client_id is not None),
            "listening": self._listener is not None,
        }


def by_symbol(symbol: str) -> Listing:
    found = [listing for listing in LISTINGS if listing.symbol == symbol]
    if not found:
        raise ValueError(f"the fake TWS lists no {symbol!r}")
    return found[0]
