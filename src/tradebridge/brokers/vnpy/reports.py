"""What a vnpy gateway pushes, taken over on vnpy's event thread.

The gateway puts its objects (`OrderData`, `TradeData`, ...) on its `EventEngine`; the
`EventBridge` is registered for the generic event types and runs on the engine's single
event thread. It converts each object at once to our own immutable types (gateways may mutate
and re-push the objects they pushed, so nothing of vnpy's is kept) and posts the result to the
engine loop through `LoopSink.post`, where the `GatewayBook` (`book.py`) takes it. It never
touches adapter or engine state, and nothing it does can raise into vnpy's thread.

The state it keeps is its own, used only on the event thread: each instrument's tick, size
and currency (to round prices and value positions), the last price of each, and whether the
gateway said it was logged in.
"""

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import msgspec

from tradebridge.brokers.base import Fill, OrderDetails
from tradebridge.brokers.vnpy.mapping import Tables, our_symbol
from tradebridge.brokers.vnpy.sdk import Vnpy
from tradebridge.domain.enums import OrderStatus, OrderType
from tradebridge.domain.models import Contract, Position, Quote
from tradebridge.domain.symbols import MARKET_CURRENCY, Market, market_of

log = logging.getLogger(__name__)

CHINA = ZoneInfo("Asia/Shanghai")
"""vnpy's gateways stamp times in China's zone; a naive time is taken to be there."""
BARRIER = "tbBarrier"
"""An event type of ours: put after other events, it reaches the loop after all of them."""


class GatewayOrder(msgspec.Struct, frozen=True, kw_only=True):
    """One `OrderData` as the gateway pushed it."""

    vt_orderid: str
    orderid: str
    """The gateway's local id, what a `CancelRequest` takes."""
    reference: str
    """`OrderRequest.reference` as the gateway echoes it (on the order `send_order` made)."""
    status: OrderStatus
    filled_qty: int
    details: OrderDetails
    time: datetime | None
    """When the broker took it (None on the order `send_order` made itself)."""


class GatewayAccount(msgspec.Struct, frozen=True, kw_only=True):
    vt_accountid: str
    balance: Decimal
    frozen: Decimal
    available: Decimal


class GatewayContract(msgspec.Struct, frozen=True, kw_only=True):
    contract: Contract
    vn_symbol: str
    exchange: Any
    """vnpy's `Exchange` member, for the requests about this instrument."""


class Receiver(Protocol):
    """The loop side: where the bridge's conversions are posted (`book.GatewayBook`)."""

    def on_gateway_order(self, order: GatewayOrder) -> None: ...
    def on_gateway_trade(self, fill: Fill) -> None: ...
    def on_gateway_position(self, position: Position) -> None: ...
    def on_gateway_account(self, account: GatewayAccount) -> None: ...
    def on_gateway_contract(self, contract: GatewayContract) -> None: ...
    def on_gateway_tick(self, quote: Quote) -> None: ...
    def on_gateway_log(self, message: str) -> None: ...
    def on_gateway_login(self, logged_in: bool) -> None: ...


Post = Callable[..., None]
"""`LoopSink.post`: run a callable with its arguments on the engine loop."""


def decimal(value: float, exponent: int | None = None) -> Decimal:
    """A vnpy float as a Decimal, through its shortest repr (no binary noise), rounded to
    `exponent` decimal places when the instrument's tick is known."""
    number = Decimal(repr(float(value)))
    if exponent is not None:
        number = number.quantize(Decimal(1).scaleb(exponent))
    return number


def utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=CHINA)
    return moment.astimezone(UTC)


class EventBridge:
    """The handler registered on the gateway's `EventEngine` (on its event thread)."""

    def __init__(
        self,
        vn: Vnpy,
        tables: Tables,
        receiver: Receiver,
        post: Post,
        login_flag: Callable[[], bool | None],
    ) -> None:
        self._tables = tables
        self._receiver = receiver
        self._post = post
        self._login_flag = login_flag
        self._logged_in = False
        events = vn.events
        self._convert: dict[str, Callable[[Any], None]] = {
            events.EVENT_ORDER: self._order,
            events.EVENT_TRADE: self._trade,
            events.EVENT_POSITION: self._position,
            events.EVENT_ACCOUNT: self._account,
            events.EVENT_CONTRACT: self._contract,
            events.EVENT_TICK: self._tick,
            events.EVENT_LOG: self._log,
            BARRIER: self._barrier,
        }
        self.event_types = [*self._convert, events.EVENT_TIMER]
        self._digits: dict[str, int] = {}
        """Decimal exponent of each instrument's tick, by vnpy `vt_symbol`."""
        self._sizes: dict[str, Decimal] = {}
        self._last: dict[str, Decimal] = {}

    def handle(self, event: Any) -> None:
        """Every event of the registered types; never raises into vnpy's thread."""
        try:
            self._check_login()
            convert = self._convert.get(event.type)
            if convert is not None:
                convert(event.data)
        except Exception:
            log.exception("a vnpy %s event could not be taken over: %r", event.type, event.data)

    def _check_login(self) -> None:
        """The gateway's login flag, read on this thread, so the loop learns of a new session
        before any event of it (the flag is set before the gateway pushes the session's
        replay)."""
        flag = self._login_flag()
        if flag is not None and flag != self._logged_in:
            self._logged_in = flag
            self._post(self._receiver.on_gateway_login, flag)

    def _exponent(self, vt_symbol: str) -> int | None:
        return self._digits.get(vt_symbol)

    def _order(self, data: Any) -> None:
        tables = self._tables
        symbol = our_symbol(tables, data.symbol, data.exchange)
        order_type, time_in_force = tables.order_type.to_ours(data.type)
        exponent = self._exponent(data.vt_symbol)
        time = utc(data.datetime)
        details = OrderDetails(
            symbol=symbol,
            side=tables.side.to_ours(data.direction),
            qty=int(data.volume),
            type=order_type,
            limit_price=decimal(data.price, exponent) if order_type is OrderType.LIMIT else None,
            time_in_force=time_in_force,
            offset=tables.offset.to_ours(data.offset),
            created_at=time or datetime.now(UTC),
        )
        order = GatewayOrder(
            vt_orderid=data.vt_orderid,
            orderid=data.orderid,
            reference=data.reference or "",
            status=tables.status.to_ours(data.status),
            filled_qty=int(data.traded),
            details=details,
            time=time,
        )
        self._post(self._receiver.on_gateway_order, order)

    def _trade(self, data: Any) -> None:
        fill = Fill(
            trade_id=f"{data.vt_orderid}/{str(data.tradeid).strip()}",
            broker_order_id=data.vt_orderid,
            qty=int(data.volume),
            price=decimal(data.price, self._exponent(data.vt_symbol)),
            fee=None,  # vnpy's TradeData carries no commission
            time=utc(data.datetime) or datetime.now(UTC),
        )
        self._post(self._receiver.on_gateway_trade, fill)

    def _position(self, data: Any) -> None:
        tables = self._tables
        symbol = our_symbol(tables, data.symbol, data.exchange)
        exponent = self._exponent(data.vt_symbol)
        avg_cost = decimal(data.price, None if exponent is None else exponent - 2)
        last = self._last.get(data.vt_symbol, avg_cost)
        qty = int(data.volume)
        size = self._sizes.get(data.vt_symbol, Decimal(1))
        position = Position(
            symbol=symbol,
            qty=qty,
            available_qty=max(qty - int(data.frozen), 0),
            avg_cost=avg_cost,
            last_price=last,
            market_value=last * qty * size,
            unrealized_pnl=decimal(data.pnl, -2),
            currency=MARKET_CURRENCY[market_of(symbol)],
            direction=tables.position_direction.to_ours(data.direction),
        )
        self._post(self._receiver.on_gateway_position, position)

    def _account(self, data: Any) -> None:
        account = GatewayAccount(
            vt_accountid=data.vt_accountid,
            balance=decimal(data.balance, -2),
            frozen=decimal(data.frozen, -2),
            available=decimal(data.available, -2),
        )
        self._post(self._receiver.on_gateway_account, account)

    def _contract(self, data: Any) -> None:
        tables = self._tables
        if not tables.product.knows(data.product):
            return  # options, spreads, indexes: nothing to trade here
        symbol = our_symbol(tables, data.symbol, data.exchange)
        tick = decimal(data.pricetick).normalize()
        exponent = tick.as_tuple().exponent
        self._digits[data.vt_symbol] = exponent if isinstance(exponent, int) else 0
        size = decimal(data.size or 1).normalize()
        self._sizes[data.vt_symbol] = size
        market = market_of(symbol)
        stock = market is Market.CN_STOCK and tables.product.to_ours(data.product) == "equity"
        min_qty = max(int(data.min_volume or 1), 1)
        contract = Contract(
            symbol=symbol,
            name=str(data.name),
            currency=MARKET_CURRENCY[market],
            lot_size=min_qty,
            tick_size=tick,
            pre_close=Decimal(0),  # not in vnpy's ContractData
            t_plus=1 if stock else 0,  # A-shares bought today are sold tomorrow
            multiplier=size,
            min_qty=min_qty,
            max_qty=int(data.max_volume) if data.max_volume else None,
        )
        self._post(
            self._receiver.on_gateway_contract,
            GatewayContract(contract=contract, vn_symbol=data.symbol, exchange=data.exchange),
        )

    def _tick(self, data: Any) -> None:
        symbol = our_symbol(self._tables, data.symbol, data.exchange)
        exponent = self._exponent(data.vt_symbol)
        last = decimal(data.last_price, exponent)
        self._last[data.vt_symbol] = last
        bid, ask = data.bid_price_1, data.ask_price_1
        quote = Quote(
            symbol=symbol,
            last=last,
            bid=decimal(bid, exponent) if bid else None,
            ask=decimal(ask, exponent) if ask else None,
            bid_size=int(data.bid_volume_1),
            ask_size=int(data.ask_volume_1),
            pre_close=decimal(data.pre_close, exponent) if data.pre_close else None,
            time=utc(data.datetime) or datetime.now(UTC),
        )
        self._post(self._receiver.on_gateway_tick, quote)

    def _log(self, data: Any) -> None:
        self._post(self._receiver.on_gateway_log, str(data.msg))

    def _barrier(self, data: Any) -> None:
        self._post(data)
