"""Pre-trade checks the engine runs before an order is journaled and sent.

Two kinds of refusal: malformed input raises `ValidationFailed` and records nothing; a
well-formed order the account may not place raises `Refusal`, which the OMS records as a
`rejected` order before answering `order_rejected`.
"""

import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from tradebridge.brokers.base import Capabilities
from tradebridge.config import RiskSettings
from tradebridge.domain.enums import (
    Direction,
    Offset,
    OrderType,
    RejectReason,
    Side,
    TradingState,
)
from tradebridge.domain.errors import ValidationFailed
from tradebridge.domain.models import Balance, Contract, Position, Quote
from tradebridge.domain.orders import Order, OrderRequest
from tradebridge.domain.symbols import Market, market_of
from tradebridge.domain.ticks import ladder_for


class Refusal(Exception):
    def __init__(self, reason: RejectReason, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def validate_request(request: OrderRequest) -> None:
    """Shape rules every order must meet, whatever the account."""
    if request.qty <= 0:
        raise ValidationFailed("qty must be a positive integer", {"field": "qty"})
    if request.type is OrderType.LIMIT:
        if request.limit_price is None:
            raise ValidationFailed(
                "limit_price is required for limit orders", {"field": "limit_price"}
            )
        if not request.limit_price.is_finite() or request.limit_price <= 0:
            raise ValidationFailed(
                "limit_price must be a positive number", {"field": "limit_price"}
            )
    elif request.limit_price is not None:
        raise ValidationFailed(
            "limit_price is not allowed for market orders", {"field": "limit_price"}
        )
    is_futures = market_of(request.symbol) is Market.CN_FUTURES
    if request.offset is not None and not is_futures:
        raise ValidationFailed("offset applies to futures only", {"field": "offset"})
    if request.offset is None and is_futures:
        raise ValidationFailed(
            "futures orders need an offset: open, close, close_today or close_yesterday",
            {"field": "offset"},
        )


@dataclass(frozen=True, slots=True)
class AccountView:
    """What the checks need to know about the account at this moment."""

    balances: dict[str, Balance]
    positions: Mapping[str, Position]
    """Positions by symbol (stocks) or `symbol:direction` (futures, `cu2601.SHFE:short`)."""
    reserved_cash: dict[str, Decimal]
    """Cash of orders accepted by the engine but not yet acknowledged by the broker."""
    reserved_qty: dict[str, int]
    """Shares of sell orders accepted by the engine but not yet acknowledged."""
    open_orders: Mapping[str, Order]
    """Every order not yet in a terminal status, by id."""


def check_order(
    request: OrderRequest,
    contract: Contract | None,
    quote: Quote | None,
    capabilities: Capabilities,
    account: AccountView,
    risk: "RiskLimits",
) -> None:
    """Raise `Refusal` if the order must not reach the broker. In this order: the account's
    trading state, what the instrument and the broker accept, the account's risk limits,
    then funds or position (so a refusal names the most fundamental reason)."""
    risk.check_state(request, account)
    market = market_of(request.symbol)
    if market not in capabilities.markets:
        raise Refusal(
            RejectReason.NOT_SUPPORTED,
            f"this account does not trade {request.symbol} ({market.value.replace('_', ' ')})",
        )
    if contract is None:
        raise Refusal(RejectReason.UNKNOWN_SYMBOL, f"unknown symbol {request.symbol}")
    if request.type is OrderType.MARKET and not capabilities.market_orders:
        raise Refusal(RejectReason.NOT_SUPPORTED, "this broker does not accept market orders")
    if request.time_in_force not in capabilities.time_in_force:
        raise Refusal(
            RejectReason.NOT_SUPPORTED,
            f"this broker does not accept time_in_force {request.time_in_force.value}",
        )
    if contract.max_qty is not None and request.qty > contract.max_qty:
        raise Refusal(
            RejectReason.INVALID_LOT_SIZE,
            f"{request.qty} {contract.symbol} is over the venue's maximum of {contract.max_qty} "
            "per order",
        )
    price = request.limit_price
    if price is not None:
        ladder = ladder_for(contract)
        if not ladder.is_on_tick(price):
            tick = ladder.tick_at(price)
            raise Refusal(
                RejectReason.INVALID_TICK_SIZE,
                f"limit_price {price} is not a multiple of the tick {tick} of {contract.symbol}",
            )
    risk.check(request, contract, quote, account)
    if market is Market.CN_FUTURES:
        return  # margin and offsets are the venue's to check: the broker refuses what they allow
    if request.side is Side.BUY:
        if not capabilities.broker_checks_funds:
            _check_funds(request, contract, quote, account)
    elif not capabilities.short_selling:
        _check_position(request, account)


def needs_quote(request: OrderRequest, risk: "RiskLimits") -> bool:
    """Whether the checks need the symbol's quote: to value a market order, or for a risk
    limit measured against the last price."""
    settings = risk.settings
    return (
        request.type is OrderType.MARKET
        or settings.price_band_pct is not None
        or (
            request.limit_price is None
            and (
                settings.max_order_notional is not None
                or settings.max_position_notional is not None
            )
        )
    )


def _check_funds(
    request: OrderRequest, contract: Contract, quote: Quote | None, account: AccountView
) -> None:
    price = request.limit_price or (quote.ask if quote else None) or (quote.last if quote else None)
    if price is None:
        raise Refusal(
            RejectReason.NOT_SUPPORTED, f"no price for {request.symbol} to value the order"
        )
    needed = price * request.qty * contract.multiplier
    balance = account.balances.get(contract.currency)
    available = (balance.available if balance else Decimal(0)) - account.reserved_cash.get(
        contract.currency, Decimal(0)
    )
    if needed > available:
        raise Refusal(
            RejectReason.INSUFFICIENT_FUNDS,
            f"buy {request.qty} {request.symbol} needs {needed:.2f} {contract.currency}, "
            f"{available:.2f} available",
        )


def _check_position(request: OrderRequest, account: AccountView) -> None:
    position = account.positions.get(request.symbol)
    available = (position.available_qty if position else 0) - account.reserved_qty.get(
        request.symbol, 0
    )
    if request.qty > available:
        raise Refusal(
            RejectReason.INSUFFICIENT_POSITION,
            f"sell {request.qty} {request.symbol}: {max(available, 0)} available to sell",
        )


def _position_key(symbol: str, direction: Direction | None) -> str:
    """The `AccountView.positions` key of a symbol's position (its side, for futures)."""
    return symbol if direction is None else f"{symbol}:{direction.value}"


def _reduced_side(order: OrderRequest) -> Direction | None:
    """The side of the position a stock sell or futures close reduces: None for stocks (one
    long side); a sell close reduces the long side, a buy close the short one."""
    if order.offset is None:
        return None
    return Direction.LONG if order.side is Side.SELL else Direction.SHORT


def _adds_to_position(order: OrderRequest | Order) -> bool:
    """Stock buys and futures opens; stock sells and futures closes reduce."""
    if order.offset is None:
        return order.side is Side.BUY
    return order.offset is Offset.OPEN


def _added_side(order: OrderRequest | Order) -> Direction | None:
    """The side of the position an adding order grows: None for stocks (one long side)."""
    if order.offset is None:
        return None
    return Direction.LONG if order.side is Side.BUY else Direction.SHORT


class RiskLimits:
    """An account's risk limits and trading state (`RiskSettings`) in force.

    The account replaces `settings` when they change (see `updated`); the window of
    `max_orders_per_second` carries over.
    """

    def __init__(self, settings: RiskSettings, clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self._clock = clock
        self._recent: deque[float] = deque()

    def updated(self, changes: Mapping[str, Any]) -> RiskSettings:
        """The settings with `changes` applied (None clears a limit), validated as the config
        file is; raises `ValidationFailed` naming every bad field. Nothing changes here."""
        try:
            return RiskSettings.model_validate({**self.settings.model_dump(), **changes})
        except ValidationError as exc:
            errors = [
                {"field": ".".join(str(p) for p in e["loc"]) or "body", "message": e["msg"]}
                for e in exc.errors()
            ]
            first = errors[0]
            raise ValidationFailed(
                f"{first['field']}: {first['message']}", {"errors": errors}
            ) from None

    def check_state(self, request: OrderRequest, account: AccountView) -> None:
        """`halted` refuses every order; `reducing` every order that does not reduce a
        position by at most its size. Both with reason `trading_halted`."""
        state = self.settings.trading_state
        if state is TradingState.HALTED:
            raise Refusal(
                RejectReason.TRADING_HALTED,
                "trading on this account is halted (trading_state halted): no new orders; "
                "cancels still work",
            )
        if state is TradingState.REDUCING:
            if _adds_to_position(request):
                why = "it would open or add to a position"
            else:
                position = account.positions.get(
                    _position_key(request.symbol, _reduced_side(request))
                )
                held = position.qty if position else 0
                if request.qty <= held:
                    return
                why = f"it is more than the position of {held} it would reduce"
            what = f"{request.side.value} {request.qty} {request.symbol}"
            if request.offset is not None:
                what += f" ({request.offset.value})"
            raise Refusal(
                RejectReason.TRADING_HALTED,
                "this account is reducing (trading_state reducing): only orders that reduce "
                f"a position are accepted; {what} is refused: {why}",
            )

    def check(
        self, request: OrderRequest, contract: Contract, quote: Quote | None, account: AccountView
    ) -> None:
        s = self.settings
        if s.max_order_qty is not None and request.qty > s.max_order_qty:
            raise Refusal(
                RejectReason.RISK_LIMIT,
                f"qty {request.qty} is over max_order_qty {s.max_order_qty}",
            )
        if s.max_open_orders is not None and len(account.open_orders) >= s.max_open_orders:
            raise Refusal(
                RejectReason.RISK_LIMIT,
                f"{len(account.open_orders)} orders are open on this account; "
                f"max_open_orders is {s.max_open_orders}",
            )
        last = quote.last if quote else None
        price = request.limit_price or last
        if s.max_order_notional is not None:
            notional = self._require_price(price, "max_order_notional", request) * request.qty
            notional *= contract.multiplier
            if notional > s.max_order_notional:
                raise Refusal(
                    RejectReason.RISK_LIMIT,
                    f"order notional {notional:.2f} {contract.currency} is over "
                    f"max_order_notional {s.max_order_notional}",
                )
        if s.price_band_pct is not None and request.limit_price is not None:
            reference = self._require_price(last, "price_band_pct", request)
            distance = abs(request.limit_price - reference) / reference * 100
            if distance > s.price_band_pct:
                raise Refusal(
                    RejectReason.RISK_LIMIT,
                    f"limit_price {request.limit_price} is {distance:.2f}% from the last price "
                    f"{reference}; price_band_pct is {s.price_band_pct}",
                )
        if s.max_position_notional is not None and _adds_to_position(request):
            valued_at = self._require_price(price, "max_position_notional", request)
            self._check_position_notional(
                request, contract, valued_at, account, s.max_position_notional
            )
        if s.max_orders_per_second is not None:
            self._check_rate(s.max_orders_per_second)

    @staticmethod
    def _require_price(price: Decimal | None, limit: str, request: OrderRequest) -> Decimal:
        if price is None:
            raise Refusal(
                RejectReason.RISK_LIMIT,
                f"no last price for {request.symbol} to check {limit} against",
            )
        return price

    @staticmethod
    def _check_position_notional(
        request: OrderRequest,
        contract: Contract,
        price: Decimal,
        account: AccountView,
        limit: Decimal,
    ) -> None:
        """The position if this order and every working order that adds to the same side
        filled, valued at this order's price."""
        side = _added_side(request)
        position = account.positions.get(_position_key(request.symbol, side))
        held = position.qty if position else 0
        working = sum(
            order.qty - order.filled_qty
            for order in account.open_orders.values()
            if order.symbol == request.symbol
            and _adds_to_position(order)
            and _added_side(order) == side
        )
        value = (held + working + request.qty) * price * contract.multiplier
        if value > limit:
            raise Refusal(
                RejectReason.RISK_LIMIT,
                f"the {request.symbol} position would be worth {value:.2f} {contract.currency} "
                f"({held} held, {working} in working orders, {request.qty} in this order, at "
                f"{price}); max_position_notional is {limit}",
            )

    def _check_rate(self, limit: int) -> None:
        now = self._clock()
        while self._recent and now - self._recent[0] >= 1.0:
            self._recent.popleft()
        if len(self._recent) >= limit:
            raise Refusal(
                RejectReason.RISK_LIMIT,
                f"{len(self._recent)} orders in the last second on this account; "
                f"max_orders_per_second is {limit}",
            )
        self._recent.append(now)
