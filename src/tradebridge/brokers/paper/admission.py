"""Admitting an order to the books, and letting go of what it still holds when it ends.

A new order's needs are checked against the books and frozen at once, or the order is
refused (and nothing frozen) with the reason a broker would give: a buy or futures open needs
the cash or margin and fees (`Ticket.cash_reserved_for`); a stock sell needs shares it can
sell now (not bought today under T+1, not frozen by other sells) in a quantity the odd-lot
rules allow; a futures close needs lots not yet taken by resting closes. When an order is
canceled or expires, `release` gives back what its open remainder froze.
"""

from tradebridge.brokers.paper.fees import FeeSchedule
from tradebridge.brokers.paper.futures import CloseSource, FuturesBook
from tradebridge.brokers.paper.portfolio import Portfolio
from tradebridge.brokers.paper.rules import check_sell_qty
from tradebridge.brokers.paper.tickets import ZERO, Ticket, TicketKind, classify
from tradebridge.brokers.paper.universe import Instrument
from tradebridge.domain.enums import OrderType, RejectReason, Side
from tradebridge.domain.errors import OrderRejected
from tradebridge.domain.models import Quote
from tradebridge.domain.money import round_money
from tradebridge.domain.orders import Order
from tradebridge.domain.symbols import venue_of


def admit(
    order: Order,
    instrument: Instrument,
    quote: Quote,
    fees: FeeSchedule,
    broker_order_id: str,
    portfolio: Portfolio,
    futures: FuturesBook,
) -> Ticket:
    """Check what `order` needs against the books and freeze it; return its ticket. Raises
    `OrderRejected` (insufficient funds or position, an odd-lot sell) having frozen nothing."""
    kind, direction, source = classify(order.symbol, order.side, order.offset)
    ticket = Ticket(
        order, instrument, kind, broker_order_id, fees, direction=direction, source=source
    )
    if kind is TicketKind.SELL:
        _freeze_shares(ticket, portfolio)
    elif kind is TicketKind.CLOSE:
        _freeze_lots(ticket, futures)
    else:
        _freeze_cash(ticket, quote, portfolio)
    return ticket


def release(ticket: Ticket, portfolio: Portfolio, futures: FuturesBook) -> bool:
    """Give back what the open remainder of an ending order froze; whether it froze any."""
    order = ticket.order
    released = ticket.freezes_position or ticket.frozen_cash > 0
    portfolio.release_cash(ticket.instrument.currency, ticket.frozen_cash)
    ticket.frozen_cash = ZERO
    if ticket.kind is TicketKind.SELL:
        portfolio.release_qty(order.symbol, ticket.remaining)
    elif ticket.kind is TicketKind.CLOSE:
        assert ticket.direction is not None
        assert ticket.source is not None
        position = futures.get(order.symbol, ticket.direction)
        assert position is not None  # its frozen lots are still held
        position.frozen[ticket.source] -= ticket.remaining
    return released


def _freeze_cash(ticket: Ticket, quote: Quote, portfolio: Portfolio) -> None:
    """A buy or futures open: freeze the cash (or margin) and fees it may take, priced at
    its limit or, for a market order, at the opposite best price."""
    order, currency = ticket.order, ticket.instrument.currency
    if order.type is OrderType.LIMIT:
        ticket.freeze_price = order.limit_price
    else:
        ticket.freeze_price = quote.ask if order.side is Side.BUY else quote.bid
    needed = ticket.cash_reserved_for(order.qty)
    available = portfolio.available_cash(currency)
    if needed > available:
        if order.type is OrderType.LIMIT:
            at = f"{ticket.freeze_price}"
        else:
            at = f"market ({'ask' if order.side is Side.BUY else 'bid'} {ticket.freeze_price})"
        if ticket.kind is TicketKind.OPEN:
            action, what = f"open {ticket.direction} {order.qty}", "of margin and fees"
        else:
            action, what = f"buy {order.qty}", "with fees"
        raise OrderRejected(
            RejectReason.INSUFFICIENT_FUNDS,
            f"{action} {order.symbol} at {at} needs {needed} {currency} {what}, "
            f"{round_money(available)} available",
            {"needed": str(needed), "available": str(round_money(available))},
        )
    ticket.frozen_cash = needed
    portfolio.freeze_cash(currency, needed)


def _freeze_shares(ticket: Ticket, portfolio: Portfolio) -> None:
    """A stock sell: check the shares it sells can be sold now, and freeze them."""
    order = ticket.order
    holding = portfolio.holding(order.symbol)
    if holding is None:
        raise OrderRejected(
            RejectReason.INSUFFICIENT_POSITION,
            f"sell {order.qty} {order.symbol}: no position to sell "
            "(short selling is not supported)",
            {"available_qty": 0},
        )
    if order.qty > holding.available_qty:
        held = [f"{holding.qty} held"]
        if holding.unsettled:
            held.append(
                f"{holding.unsettled} bought today, sellable from the next trading day (T+1)"
            )
        if holding.frozen_qty:
            held.append(f"{holding.frozen_qty} frozen by open sell orders")
        raise OrderRejected(
            RejectReason.INSUFFICIENT_POSITION,
            f"sell {order.qty} {order.symbol} needs {order.qty} shares available, "
            f"{holding.available_qty} available ({', '.join(held)})",
            {"available_qty": holding.available_qty},
        )
    check_sell_qty(ticket.instrument, order.qty, holding.available_qty)
    portfolio.freeze_qty(order.symbol, order.qty)


def _freeze_lots(ticket: Ticket, futures: FuturesBook) -> None:
    """A futures close: check the lots it takes are held and not taken by other closes, and
    freeze them."""
    order, source, direction = ticket.order, ticket.source, ticket.direction
    assert source is not None
    assert direction is not None
    assert order.offset is not None
    position = futures.get(order.symbol, direction)
    closable = position.closable(source) if position is not None else 0
    if position is None or order.qty > closable:
        which = {
            CloseSource.TODAY: "of today's ",
            CloseSource.YESTERDAY: "of yesterday's ",
            CloseSource.EITHER: "",
        }[source]
        hint = ""
        if source is CloseSource.YESTERDAY:
            hint = (
                f"; on {venue_of(order.symbol).value} close and close_yesterday take "
                "yesterday's lots, close_today today's"
            )
        raise OrderRejected(
            RejectReason.INSUFFICIENT_POSITION,
            f"{order.offset.value} {order.qty} {order.symbol}: {closable} "
            f"{which}{direction.value} lots can be closed (net of open closing orders){hint}",
            {"available_qty": closable},
        )
    position.frozen[source] += order.qty
