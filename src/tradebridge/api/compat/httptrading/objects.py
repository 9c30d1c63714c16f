"""Our domain objects as httptrading's camelCase ones (document 002): quote, cash, position,
order and the market status map. Money stays Decimal (JSON numbers)."""

from decimal import Decimal
from typing import Any

from tradebridge.api.compat.httptrading.contracts import VENUE_REGION, contract_object
from tradebridge.api.compat.httptrading.instances import Instance
from tradebridge.brokers.base import VenueStatus
from tradebridge.domain.enums import MarketStatus, OrderStatus
from tradebridge.domain.models import Bar, Position, Quote
from tradebridge.domain.orders import Order
from tradebridge.domain.symbols import Venue

UNIFIED_STATUS: dict[MarketStatus, str] = {
    MarketStatus.OPEN: "RTH",
    MarketStatus.BREAK: "REST",
    MarketStatus.CLOSED: "CLOSED",
    MarketStatus.PRE_HOURS: "PRE_HOURS",
    MarketStatus.AFTER_HOURS: "AFTER_HOURS",
    MarketStatus.OVERNIGHT: "OVERNIGHT",
    MarketStatus.PRE_OPEN: "UNKNOWN",
    MarketStatus.AUCTION: "UNKNOWN",
    MarketStatus.UNKNOWN: "UNKNOWN",
}
"""httptrading's `unifiedStatus` of each of ours; it has no word for the time before the
open or for call auctions, which its own adapters also report as UNKNOWN."""

TRADABLE_STATUSES = frozenset(
    {MarketStatus.OPEN, MarketStatus.PRE_HOURS, MarketStatus.AFTER_HOURS, MarketStatus.OVERNIGHT}
)
"""A quote `isTradable` while its venue matches orders continuously."""

_REGION_BY_VENUE = {venue.value: region for venue, region in VENUE_REGION.items()}

SHARE = "Share"
"""`unit` of a position: quantities are in shares, as ours are."""


def quote_object(
    quote: Quote, currency: str, status: VenueStatus | None, day: Bar | None
) -> dict[str, Any]:
    """`day`: the current daily bar, for the open, high and low (null without one)."""
    return {
        "type": "quote",
        "contract": contract_object(quote.symbol),
        "currency": currency,
        "isTradable": status is not None and status.status in TRADABLE_STATUSES,
        "latest": quote.last,
        "preClose": quote.pre_close,
        "highPrice": day.high if day else None,
        "lowPrice": day.low if day else None,
        "openPrice": day.open if day else None,
        "timestamp": int(quote.time.timestamp() * 1000),
    }


def cash_object(currency: str, amount: Decimal) -> dict[str, Any]:
    return {"type": "cash", "currency": currency, "amount": amount}


def position_object(position: Position, instance: Instance) -> dict[str, Any] | None:
    """None for a position without an httptrading contract (futures)."""
    contract = contract_object(position.symbol)
    if contract is None:
        return None
    return {
        "type": "position",
        "broker": instance.broker,
        "brokerDisplay": instance.broker_display,
        "contract": contract,
        "unit": SHARE,
        "currency": position.currency,
        "qty": position.qty,
    }


def order_object(order: Order, currency: str) -> dict[str, Any]:
    """`isCanceled` also for an order that expired (it ended unfilled without an error);
    `errorReason` is the reject reason; `isCompleted` is true for every final status."""
    status = order.status
    rejected = status is OrderStatus.REJECTED
    return {
        "type": "order",
        "orderId": order.id,
        "currency": currency,
        "qty": order.qty,
        "filledQty": order.filled_qty,
        "avgPrice": order.avg_fill_price or 0,
        "errorReason": order.reject_reason or ("rejected" if rejected else ""),
        "isCanceled": status in (OrderStatus.CANCELED, OrderStatus.EXPIRED),
        "isFilled": status is OrderStatus.FILLED,
        "isCompleted": status.is_terminal,
        "isCancelable": status.is_open and status is not OrderStatus.PENDING_CANCEL,
    }


def market_status_map(statuses: list[VenueStatus]) -> dict[str, Any]:
    """Per region, the status of its first venue (SH for CN: SH, SZ and BJ keep the same
    hours); venues without a region (futures) are left out."""
    securities: dict[str, Any] = {}
    for status in statuses:
        region = _REGION_BY_VENUE.get(status.venue)
        if region is None or region.value in securities:
            continue
        securities[region.value] = {
            "type": "marketStatus",
            "region": region.value,
            "originStatus": status.broker_status,
            "unifiedStatus": UNIFIED_STATUS[status.status],
        }
    return {"type": "marketStatusMap", "securities": securities}


def venue_status(statuses: list[VenueStatus], venue: Venue) -> VenueStatus | None:
    return next((s for s in statuses if s.venue == venue.value), None)
