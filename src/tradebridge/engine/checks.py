"""Pre-trade checks the engine runs before an order is journaled and sent.

Two kinds of refusal: malformed input raises `ValidationFailed` and records nothing; a
well-formed order the account may not place raises `Refusal`, which the OMS records as a
`rejected` order before answering `order_rejected`.
"""

import time
from collections import deque
from dataclasses import dataclass
from decimal import Decimal

from tradebridge.brokers.base import Capabilities
from tradebridge.config import RiskSettings
from tradebridge.domain.enums import OrderType, RejectReason, Side
from tradebridge.domain.errors import ValidationFailed
from tradebridge.domain.models import Balance, Contract, Position, Quote
from tradebridge.domain.orders import OrderRequest
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
    positions: dict[str, Position]
    """Stock positions by symbol."""
    reserved_cash: dict[str, Decimal]
    """Cash of orders accepted by the engine but not yet acknowledged by the broker."""
    reserved_qty: dict[str, int]
    """Shares of sell orders accepted by the engine but not yet acknowledged."""


def check_order(
    request: OrderRequest,
    contract: Contract | None,
    quote: Quote | None,
    capabilities: Capabilities,
    account: AccountView,
) -> None:
    """Raise `Refusal` if the order must not reach the broker."""
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
    if market_of(request.symbol) is Market.CN_FUTURES:
        return  # margin and offsets are the venue's to check: the broker refuses what they allow
    if request.side is Side.BUY:
        _check_funds(request, contract, quote, account)
    else:
        _check_position(request, account)


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


class RiskLimits:
    """Per-account limits from `[accounts.risk]`."""

    def __init__(self, settings: RiskSettings) -> None:
        self.settings = settings
        self._recent: deque[float] = deque()

    def check(self, request: OrderRequest, contract: Contract, quote: Quote | None) -> None:
        s = self.settings
        if s.max_order_qty is not None and request.qty > s.max_order_qty:
            raise Refusal(
                RejectReason.RISK_LIMIT,
                f"qty {request.qty} exceeds the account's max_order_qty {s.max_order_qty}",
            )
        reference = quote.last if quote else None
        price = request.limit_price or reference
        if s.max_order_notional is not None and price is not None:
            notional = price * request.qty * contract.multiplier
            if notional > s.max_order_notional:
                raise Refusal(
                    RejectReason.RISK_LIMIT,
                    f"notional {notional:.2f} exceeds max_order_notional {s.max_order_notional}",
                )
        if s.price_band_pct is not None and request.limit_price is not None and reference:
            distance = abs(request.limit_price - reference) / reference * 100
            if distance > s.price_band_pct:
                raise Refusal(
                    RejectReason.RISK_LIMIT,
                    f"limit_price {request.limit_price} is {distance:.2f}% from the last price "
                    f"{reference}; the band is {s.price_band_pct}%",
                )
        if s.max_orders_per_second is not None:
            self._check_rate(s.max_orders_per_second)

    def _check_rate(self, limit: int) -> None:
        now = time.monotonic()
        while self._recent and now - self._recent[0] >= 1.0:
            self._recent.popleft()
        if len(self._recent) >= limit:
            raise Refusal(
                RejectReason.RISK_LIMIT, f"more than {limit} orders in one second on this account"
            )
        self._recent.append(now)
