"""The `futu` adapter: one Futu account (simulate or real, one trading market) through OpenD.

- Orders go out with `remark` = the tradebridge order id; status and fills follow the
  trade context's pushes (`reports.py`), which may arrive before or after `place_order`
  returns (the SDK looks the order up before it returns). A failure of unknown outcome
  (timeout, dropped link) is left to the engine, which finds the order by its remark.
- State and reconciliation: `accinfo_query`, `position_list_query`, `order_list_query`,
  `deal_list_query`; fees: `order_fee_query` once an order has ended (`fees.py`).
- Quotes: `get_market_snapshot`, streaming through `subscribe` (QUOTE) and its push; market
  state: `get_global_state`, our status with Futu's own value kept.
- The connection is the adapter's `Reconnector`'s, not the SDK's (`session.py`).
- Every SDK call runs on the adapter's own executor with a timeout.
"""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

from tradebridge.brokers.base import (
    Broker,
    BrokerOrder,
    BrokerSink,
    Capabilities,
    Fill,
    OrderUpdate,
    VenueStatus,
)
from tradebridge.brokers.fees import FillShare, split_fee
from tradebridge.brokers.futu.config import FutuSettings
from tradebridge.brokers.futu.mapping import (
    GLOBAL_STATE_KEYS,
    MARKETS_OF,
    UnknownSymbol,
    exchange_time,
    our_reference,
    tables,
    to_futu_code,
    to_our_symbol,
)
from tradebridge.brokers.futu.reports import (
    Row,
    broker_order,
    deal_counts,
    deal_fill,
    decimal,
    order_update,
    present,
    push_handlers,
    quantity,
    rows,
    snapshot_quote,
    text,
)
from tradebridge.brokers.futu.session import Opener, Session, open_session, probe
from tradebridge.brokers.mapping import UnmappedValue
from tradebridge.brokers.reconnect import Reconnector
from tradebridge.brokers.threads import LoopSink, SdkExecutor
from tradebridge.domain.enums import OrderStatus, OrderType, RejectReason, TimeInForce
from tradebridge.domain.errors import (
    BrokerUnavailable,
    NotCancelable,
    NotFound,
    OrderRejected,
    Timeout,
    TradebridgeError,
)
from tradebridge.domain.models import AccountSummary, Balance, Contract, Position, Quote
from tradebridge.domain.orders import Order
from tradebridge.domain.symbols import MARKET_CURRENCY, market_of
from tradebridge.sections import read_secret

log = logging.getLogger(__name__)

FIRST_CONNECT_S = 10.0
OPEN_WAIT_S = 8.0
"""How long one attempt waits for OpenD's handshake (the SDK's constructors)."""
WATCH_INTERVAL_S = 0.25
FEE_DELAYS_S = (0.0, 1.0, 3.0, 10.0, 30.0)
"""When the fee of an ended order is asked for (again, while Futu has not reported it)."""
FEE_BATCH = 400
"""Orders per `order_fee_query` (Futu's limit)."""

NOT_SENT = frozenset({"Connect timeout", "Connection closed", "Context status bad"})
"""SDK failures of requests it never sent (the context was not ready)."""
OUTCOME_UNKNOWN = frozenset(
    {
        "PacketErr.Timeout",
        "PacketErr.Disconnect",
        "PacketErr.SendFail",
        "PacketErr.Invalid",
        "Timeout",
        "Disconnect",
        "SendFail",
        "Invalid",
        "Abnormal event timeout",
    }
)
"""SDK failures of requests sent without an answer (timeout, dropped link, garbled reply):
Futu may or may not have acted on them."""

CASH_COLUMNS = (
    ("HKD", "hk"),
    ("USD", "us"),
    ("CNH", "cn"),
    ("JPY", "jp"),
    ("SGD", "sg"),
    ("AUD", "au"),
    ("CAD", "ca"),
    ("MYR", "my"),
)
"""`accinfo_query`'s per-currency columns (`hk_cash`, `hk_avl_withdrawal_cash`, ...)."""


class SdkRefused(Exception):
    """Futu (OpenD or the SDK's own checks) answered the request with an error."""


class UnlockRefused(Exception):
    """Futu refused the trade unlock password: it is not tried again (wrong passwords lock
    the account) until the adapter is restarted."""


class FutuBroker(Broker):
    name = "futu"

    def __init__(
        self,
        account_id: str,
        settings: FutuSettings,
        sink: BrokerSink,
        sdk: Any,
        *,
        base_currency: str,
    ) -> None:
        super().__init__(account_id, sink)
        self._settings = settings
        self._sdk = sdk
        self._tables = tables(sdk)
        self.capabilities = Capabilities(
            markets=MARKETS_OF[settings.trd_market],
            quote_streaming=True,
            time_in_force=frozenset({TimeInForce.DAY, TimeInForce.GTC}),
        )
        self._env = self._tables.env.to_sdk(settings.trd_env)
        self._trd_market = self._tables.trd_market.to_sdk(settings.trd_market)
        try:
            self._currency = self._tables.currency.to_sdk(base_currency)
        except UnmappedValue:
            raise BrokerUnavailable(
                f"account {account_id}: Futu does not count in {base_currency}; set "
                "base_currency to one of HKD, USD, CNY, JPY, SGD, AUD, CAD, MYR, NZD",
                {"account": account_id},
            ) from None
        self._base_currency = base_currency
        where = f"OpenD {settings.host}:{settings.port}"
        self._calls = SdkExecutor(f"futu-{account_id}", timeout_s=settings.request_timeout_s)
        self._opener = Opener(
            f"futu-open-{account_id}",
            lambda: open_session(sdk, settings.host, settings.port, self._trd_market),
        )
        self._reconnector = Reconnector(
            where, sink, self._connect_once, disconnect=self._disconnect
        )
        self._session: Session | None = None
        self._acc_id = 0
        self._watcher: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._unlock_refused: str | None = None

    # ----------------------------------------------------------------- connection

    async def connect(self) -> None:
        await self._reconnector.start(FIRST_CONNECT_S)

    async def _connect_once(self) -> str:
        settings = self._settings
        if self._unlock_refused is not None:
            raise ConnectionError(self._unlock_refused)
        await probe(settings.host, settings.port)
        session = await self._opener.open(OPEN_WAIT_S)
        loop_sink = LoopSink(self.sink, asyncio.get_running_loop())
        try:
            self._acc_id = await self._calls.run(self._prepare, session, loop_sink)
        except UnlockRefused as refused:
            session.close()
            self._unlock_refused = (
                f"Futu refused the trade unlock password ({refused}); fix "
                f"{settings.unlock_password_file} and restart: it is not tried again, "
                "as wrong passwords lock the account"
            )
            raise ConnectionError(self._unlock_refused) from None
        except BaseException:
            session.close()
            raise
        self._session = session
        self._watcher = asyncio.create_task(
            self._watch(session), name=f"futu watch {self.account_id}"
        )
        self._spawn(self._settle_fees(None))
        return (
            f"connected to OpenD {settings.host}:{settings.port}, {settings.trd_env} "
            f"{settings.trd_market} account {self._acc_id}"
        )

    def _prepare(self, session: Session, loop_sink: LoopSink) -> int:
        """On the SDK thread, once per connection: OpenD logged in, the trade unlocked (real
        accounts), the account found, the push handlers set, the account readable."""
        sdk, settings = self._sdk, self._settings
        state = self._answer(session.quote.get_global_state())
        if not state.get("trd_logined"):
            raise ConnectionError("OpenD is not logged in to Futu's trade server")
        if settings.trd_env == "real":
            assert settings.unlock_password_file is not None  # checked by FutuSettings
            password = read_secret(settings.unlock_password_file)
            try:
                self._answer(session.trade.unlock_trade(password=password))
            except SdkRefused as refused:
                raise UnlockRefused(str(refused)) from None
        acc_id = self._account_of(rows(self._answer(session.trade.get_acc_list())))
        handlers = push_handlers(
            sdk,
            acc_id,
            self._tables,
            on_order=lambda update: loop_sink.post(self._order_pushed, update),
            on_deal=loop_sink.on_fill,
            on_quote=loop_sink.on_quote,
        )
        session.trade.set_handler(handlers[0])
        session.trade.set_handler(handlers[1])
        session.quote.set_handler(handlers[2])
        self._answer(
            session.trade.accinfo_query(trd_env=self._env, acc_id=acc_id, currency=self._currency)
        )
        return acc_id

    def _account_of(self, accounts: list[Row]) -> int:
        settings = self._settings
        usable = [a for a in accounts if a.get("trd_env") == self._env]
        if settings.acc_id:
            chosen = [a for a in usable if int(a["acc_id"]) == settings.acc_id]
        else:
            chosen = [a for a in usable if self._trd_market in (a.get("trdmarket_auth") or [])]
            chosen = [a for a in chosen if a.get("acc_status") != "DISABLED"] or chosen
        if not chosen:
            known = ", ".join(f"{a['acc_id']} ({a.get('trd_env')})" for a in accounts) or "none"
            wanted = settings.acc_id or f"a {settings.trd_env} {settings.trd_market} account"
            raise ConnectionError(f"OpenD has no account {wanted}; its accounts: {known}")
        return int(chosen[0]["acc_id"])

    async def _watch(self, session: Session) -> None:
        """Report the connection lost as soon as a context is not ready."""
        while True:
            await asyncio.sleep(WATCH_INTERVAL_S)
            broken = session.broken()
            if broken is not None:
                self._reconnector.lost(f"OpenD connection lost: {broken}")
                return

    async def _disconnect(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            self._watcher = None
        session, self._session = self._session, None
        if session is not None:
            session.close()

    async def close(self) -> None:
        await self._reconnector.stop()
        for task in list(self._tasks):
            task.cancel()
        await self._disconnect()
        self._opener.close()
        self._calls.close()

    async def ping(self) -> bool:
        session = self._session
        return self._reconnector.connected and session is not None and session.broken() is None

    def _spawn(self, work: Awaitable[None]) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ----------------------------------------------------------------- calling the SDK

    def _live(self) -> Session:
        session = self._session
        if session is None or not self._reconnector.connected:
            raise BrokerUnavailable(
                f"account {self.account_id}: not connected to OpenD",
                {"account": self.account_id},
            )
        return session

    def _answer(self, result: tuple[int, Any]) -> Any:
        """The data of an SDK call's `(ret, data)`, or its failure as an exception."""
        ret, data = result
        if ret == self._sdk.RET_OK:
            return data
        message = str(data)
        if message in NOT_SENT:
            raise BrokerUnavailable(f"OpenD is not connected ({message}); nothing was sent")
        if message in OUTCOME_UNKNOWN or message.startswith("PacketErr."):
            raise Timeout(f"OpenD did not answer ({message})", {"sdk": message})
        raise SdkRefused(message)

    async def _call(self, call: Callable[..., tuple[int, Any]], /, **kwargs: Any) -> Any:
        """An SDK call of the account, on the executor; Futu's refusal is `BrokerUnavailable`
        here (the callers that give a refusal its own meaning catch `SdkRefused` first)."""
        return await self._calls.run(lambda: self._answer(call(**kwargs)))

    async def _query(self, call: Callable[..., tuple[int, Any]], /, **kwargs: Any) -> Any:
        try:
            return await self._call(call, trd_env=self._env, acc_id=self._acc_id, **kwargs)
        except SdkRefused as refused:
            raise BrokerUnavailable(f"Futu: {refused}", {"account": self.account_id}) from None

    # ----------------------------------------------------------------- orders

    async def place_order(self, order: Order) -> None:
        trade = self._live().trade
        try:
            code = to_futu_code(order.symbol)
        except UnknownSymbol as unknown:
            raise OrderRejected(RejectReason.UNKNOWN_SYMBOL, str(unknown)) from None
        limit = order.limit_price if order.type is OrderType.LIMIT else None
        try:
            frame = await self._call(
                trade.place_order,
                price=float(limit or 0),
                qty=order.qty,
                code=code,
                trd_side=self._tables.side.to_sdk(order.side),
                order_type=self._tables.order_type.to_sdk(order.type),
                trd_env=self._env,
                acc_id=self._acc_id,
                remark=order.id,  # our reference: how a lost answer is found again
                time_in_force=self._tables.time_in_force.to_sdk(order.time_in_force),
            )
        except SdkRefused as refused:
            placed = await self._placed_despite(order, refused)
            self.sink.on_order_update(order_update(placed, self._tables))
            return
        (row,) = rows(frame)
        broker_order_id = str(row["order_id"])
        if present(row.get("order_status")) and present(row.get("code")):
            self.sink.on_order_update(order_update(row, self._tables))
        else:  # the SDK's look-up after placing failed: Futu has it, its status follows
            self.sink.on_order_update(
                OrderUpdate(
                    status=OrderStatus.PENDING_NEW,
                    order_id=order.id,
                    broker_order_id=broker_order_id,
                )
            )

    async def _placed_despite(self, order: Order, refused: SdkRefused) -> Row:
        """The order Futu holds under `order`'s remark although placing it failed (OpenD
        also answers an error when Futu's server did not answer it in time); raises the
        refusal when Futu has none."""
        try:
            placed = [r for r in await self._order_rows() if r.get("remark") == order.id]
        except TradebridgeError as failed:
            raise Timeout(
                f"Futu answered the order with an error ({refused}) and could not be asked "
                f"whether it has it ({failed.message})"
            ) from None
        if not placed:
            raise OrderRejected(RejectReason.BROKER_REFUSED, f"Futu: {refused}")
        log.warning("futu: order %s failed (%s) but Futu has it", order.id, refused)
        return placed[0]

    async def cancel_order(self, order: Order) -> None:
        trade = self._live().trade
        if order.broker_order_id is None:
            raise NotCancelable(f"order {order.id} has no Futu order id yet")
        try:
            await self._call(
                trade.modify_order,
                modify_order_op=self._sdk.ModifyOrderOp.CANCEL,
                order_id=order.broker_order_id,
                qty=0,
                price=0,
                trd_env=self._env,
                acc_id=self._acc_id,
            )
        except SdkRefused as refused:
            raise NotCancelable(f"Futu refused the cancel: {refused}") from None

    def _order_pushed(self, update: OrderUpdate) -> None:
        """An order push, on the loop: to the engine; an order that ended with fills gets
        its fee."""
        self.sink.on_order_update(update)
        if update.status.is_terminal and update.filled_qty and update.broker_order_id:
            self._spawn(self._settle_fees([update.broker_order_id]))

    async def _order_rows(self) -> list[Row]:
        return rows(await self._query(self._live().trade.order_list_query))

    async def query_orders(self) -> list[BrokerOrder]:
        found = []
        for row in await self._order_rows():
            report = self._translated(row, broker_order)
            if report is not None:
                found.append(report)
        return found

    def _translated(
        self, row: Row, translate: Callable[[Row, Any], BrokerOrder]
    ) -> BrokerOrder | None:
        """A listed order; one placed elsewhere on a market tradebridge does not trade is
        left out (logged), one of ours that cannot be read fails the listing."""
        try:
            return translate(row, self._tables)
        except (UnknownSymbol, UnmappedValue) as unknown:
            if our_reference(row.get("remark")):
                raise BrokerUnavailable(f"Futu order {row.get('order_id')}: {unknown}") from None
            log.warning("futu: order %s left out: %s", row.get("order_id"), unknown)
            return None

    async def query_trades(self) -> list[Fill]:
        references = {
            str(row["order_id"]): our_reference(row.get("remark"))
            for row in await self._order_rows()
        }
        deals = rows(await self._query(self._live().trade.deal_list_query))
        fills = []
        for row in deals:
            if not deal_counts(row):
                continue
            try:
                fills.append(deal_fill(row, references.get(str(row.get("order_id")))))
            except UnknownSymbol as unknown:
                log.warning("futu: deal %s left out: %s", row.get("deal_id"), unknown)
        return fills

    # ----------------------------------------------------------------- fees

    async def _settle_fees(self, broker_order_ids: list[str] | None) -> None:
        """Book the fee of each ended order with fills (all of today's with None), asking
        again a few times for those Futu has not charged yet."""
        waiting = broker_order_ids
        for delay in FEE_DELAYS_S:
            await asyncio.sleep(delay)
            if not self._reconnector.connected:
                return  # the next connection settles every ended order of the day
            try:
                waiting = await self._settle_round(waiting)
            except TradebridgeError as failed:
                log.info("futu: fees not read yet (%s)", failed.message)
                continue
            if not waiting:
                return
        log.warning("futu: Futu reported no fee for orders %s yet", waiting)

    async def _settle_round(self, only: list[str] | None) -> list[str]:
        ended = {
            str(row["order_id"]): row
            for row in await self._order_rows()
            if self._tables.status.knows(row["order_status"])
            and self._tables.status.to_ours(row["order_status"]).is_terminal
            and quantity(row.get("dealt_qty")) > 0
            and (only is None or str(row["order_id"]) in only)
        }
        if not ended:
            return []
        trade = self._live().trade
        totals: dict[str, Decimal] = {}
        ids = sorted(ended)
        for start in range(0, len(ids), FEE_BATCH):
            frame = await self._query(
                trade.order_fee_query, order_id_list=ids[start : start + FEE_BATCH]
            )
            for row in rows(frame):
                if present(row.get("fee_amount")):
                    totals[str(row["order_id"])] = decimal(row["fee_amount"])
        deals: dict[str, list[FillShare]] = {}
        for row in rows(await self._query(trade.deal_list_query)):
            order_id = str(row.get("order_id"))
            if order_id in ended and deal_counts(row):
                symbol = to_our_symbol(row["code"])
                share = FillShare(
                    str(row["deal_id"]),
                    quantity(row["qty"]),
                    exchange_time(symbol, row["create_time"]),
                )
                deals.setdefault(order_id, []).append(share)
        waiting = []
        for order_id, row in ended.items():
            fills = deals.get(order_id, [])
            if order_id not in totals or sum(f.qty for f in fills) < quantity(row.get("dealt_qty")):
                waiting.append(order_id)
                continue
            for trade_id, fee in split_fee(totals[order_id], fills).items():
                self.sink.on_fee(trade_id, fee)
        return waiting

    # ----------------------------------------------------------------- books

    async def query_positions(self) -> list[Position]:
        positions = []
        for row in rows(await self._query(self._live().trade.position_list_query)):
            try:
                positions.append(self._position(row))
            except (UnknownSymbol, UnmappedValue) as unknown:
                log.warning("futu: position %s left out: %s", row.get("code"), unknown)
        return positions

    def _position(self, row: Row) -> Position:
        symbol = to_our_symbol(row["code"])
        qty = quantity(row["qty"])
        if row.get("position_side") == self._sdk.PositionSide.SHORT:
            qty = -qty
        cost = next(
            (row[k] for k in ("average_cost", "diluted_cost", "cost_price") if present(row.get(k))),
            0,
        )
        currency = row.get("currency")
        return Position(
            symbol=symbol,
            qty=qty,
            available_qty=quantity(row.get("can_sell_qty")),
            avg_cost=decimal(cost),
            last_price=decimal(row.get("nominal_price")),
            market_value=decimal(row.get("market_val")),
            unrealized_pnl=decimal(row.get("pl_val")),
            currency=(
                self._tables.currency.to_ours(str(currency))
                if present(currency)
                else MARKET_CURRENCY[market_of(symbol)]
            ),
        )

    async def query_account(self) -> AccountSummary:
        (row,) = rows(await self._query(self._live().trade.accinfo_query, currency=self._currency))
        cash, frozen = decimal(row["cash"]), decimal(row["frozen_cash"])
        balances = []
        for futu_currency, prefix in CASH_COLUMNS:
            if not present(row.get(f"{prefix}_cash")):
                continue
            held = decimal(row[f"{prefix}_cash"])
            withdrawable = row.get(f"{prefix}_avl_withdrawal_cash")
            available = min(decimal(withdrawable), held) if present(withdrawable) else held
            balances.append(
                Balance(
                    currency=self._tables.currency.to_ours(futu_currency),
                    cash=held,
                    available=available,
                    frozen=held - available,
                )
            )
        if not balances:
            balances = [
                Balance(
                    currency=self._base_currency, cash=cash, available=cash - frozen, frozen=frozen
                )
            ]
        return AccountSummary(
            account=self.account_id,
            currency=self._base_currency,
            cash=cash,
            available=cash - frozen,
            frozen=frozen,
            market_value=decimal(row["market_val"]),
            equity=decimal(row["total_assets"]),
            realized_pnl=decimal(row.get("realized_pl")),
            unrealized_pnl=decimal(row.get("unrealized_pl")),
            balances=balances,
        )

    # ----------------------------------------------------------------- market data

    async def _snapshots(self, symbols: list[str]) -> tuple[list[Row], dict[str, str]]:
        """Snapshot rows of `symbols`, and why each missing one is missing."""
        quote = self._live().quote
        missing: dict[str, str] = {}
        codes: dict[str, str] = {}
        for symbol in symbols:
            try:
                codes[symbol] = to_futu_code(symbol)
            except UnknownSymbol as unknown:
                missing[symbol] = str(unknown)
        if not codes:
            return [], missing
        try:
            return rows(
                await self._call(quote.get_market_snapshot, code_list=list(codes.values()))
            ), missing
        except SdkRefused as refused:
            if len(codes) == 1:
                (symbol,) = codes
                return [], {**missing, symbol: str(refused)}
        found: list[Row] = []  # one refused the whole request: which?
        for symbol, code in codes.items():
            try:
                found += rows(await self._call(quote.get_market_snapshot, code_list=[code]))
            except SdkRefused as refused:
                missing[symbol] = str(refused)
        return found, missing

    async def contract(self, symbol: str) -> Contract | None:
        found, missing = await self._snapshots([symbol])
        if missing or not found:
            return None
        row = found[0]
        return Contract(
            symbol=symbol,
            name=text(row.get("name")) or symbol,
            currency=MARKET_CURRENCY[market_of(symbol)],
            lot_size=max(quantity(row.get("lot_size")), 1),
            tick_size=decimal(row.get("price_spread")) or Decimal("0.01"),
            pre_close=decimal(row.get("prev_close_price")),
        )

    async def quotes(self, symbols: list[str]) -> list[Quote]:
        found, missing = await self._snapshots(symbols)
        if missing:
            reasons = "; ".join(f"{s}: {why}" for s, why in missing.items())
            raise NotFound(
                f"no quote for {', '.join(missing)} ({reasons})", {"symbols": list(missing)}
            )
        return [snapshot_quote(row) for row in found]

    async def market_status(self) -> list[VenueStatus]:
        state = await self._calls.run(lambda: self._answer(self._live().quote.get_global_state()))
        statuses = []
        for venue, key in GLOBAL_STATE_KEYS.items():
            value = str(state.get(key, "N/A"))
            statuses.append(
                VenueStatus(
                    venue=venue.value,
                    status=self._tables.market_status.to_ours(value),
                    broker_status=value,
                )
            )
        return statuses

    async def subscribe_quotes(self, symbols: list[str]) -> None:
        await self._subscription(symbols, subscribe=True)

    async def unsubscribe_quotes(self, symbols: list[str]) -> None:
        await self._subscription(symbols, subscribe=False)

    async def _subscription(self, symbols: list[str], *, subscribe: bool) -> None:
        quote = self._live().quote
        codes = []
        for symbol in symbols:
            with contextlib.suppress(UnknownSymbol):
                codes.append(to_futu_code(symbol))
        if not codes:
            return
        call = quote.subscribe if subscribe else quote.unsubscribe
        try:
            await self._call(call, code_list=codes, subtype_list=[self._sdk.SubType.QUOTE])
        except SdkRefused as refused:
            raise BrokerUnavailable(f"Futu quote subscription: {refused}") from None
