"""Rebuilding a paper account's books from the engine's journal after a restart.

The paper broker keeps its books in memory, so a restarted engine hands it every fill the
journal booked (`JournalSnapshot`). `book_fill` books each one as the live fill did (same
amounts to the cent, same fees, same lots), with no order freezes; then `reopen` gives each
order that was still open its ticket back and freezes what its open remainder needs, as
`admission.admit` did when it arrived, without checking anything again: the broker had
accepted it.
"""

from collections.abc import Iterable
from decimal import Decimal

from tradebridge.brokers.base import JournalFill
from tradebridge.brokers.paper.booking import book_execution
from tradebridge.brokers.paper.fees import FeeSchedule
from tradebridge.brokers.paper.futures import FuturesBook
from tradebridge.brokers.paper.portfolio import Portfolio
from tradebridge.brokers.paper.tickets import Ticket, TicketKind, classify
from tradebridge.brokers.paper.universe import Instrument
from tradebridge.domain.enums import OrderStatus, OrderType, Side
from tradebridge.domain.models import Quote
from tradebridge.domain.money import round_money
from tradebridge.domain.orders import Order

ZERO = Decimal(0)


def fill_amount(fill: JournalFill, instrument: Instrument) -> Decimal:
    """Price x qty x multiplier to the cent, as the live fill settled it."""
    return round_money(fill.price * fill.qty * instrument.contract.multiplier)


def book_fill(
    fill: JournalFill, instrument: Instrument, portfolio: Portfolio, futures: FuturesBook
) -> None:
    """Book one journaled fill into the cash, stock and futures books, as the live fill
    did; its order's freezes are not rebuilt, so a sell or close freezes what it takes."""
    kind, direction, source = classify(fill.symbol, fill.side, fill.offset)
    if kind is TicketKind.SELL:
        portfolio.freeze_qty(fill.symbol, fill.qty)
    elif kind is TicketKind.CLOSE:
        assert direction is not None
        assert source is not None
        futures.side(instrument.contract, direction).frozen[source] += fill.qty
    book_execution(
        kind,
        direction,
        source,
        instrument,
        fill.qty,
        fill.price,
        fill_amount(fill, instrument),
        ZERO if fill.fee is None else fill.fee,  # the paper broker knows its fees at once
        released=ZERO,
        portfolio=portfolio,
        futures=futures,
    )


def reopen(
    order: Order,
    fills: Iterable[JournalFill],
    instrument: Instrument,
    quote: Quote,
    fees: FeeSchedule,
    broker_order_id: str,
    portfolio: Portfolio,
    futures: FuturesBook,
) -> Ticket:
    """The ticket of an order still open at the restart, with its `fills` counted and what
    its open remainder needs frozen again."""
    kind, direction, source = classify(order.symbol, order.side, order.offset)
    ticket = Ticket(
        order, instrument, kind, broker_order_id, fees, direction=direction, source=source
    )
    for fill in fills:
        ticket.filled_qty += fill.qty
        ticket.filled_notional += fill_amount(fill, instrument)
    ticket.status = OrderStatus.PARTIALLY_FILLED if ticket.filled_qty else OrderStatus.NEW
    remaining = ticket.remaining
    if kind is TicketKind.SELL:
        portfolio.freeze_qty(order.symbol, remaining)
    elif kind is TicketKind.CLOSE:
        assert direction is not None
        assert source is not None
        position = futures.side(instrument.contract, direction)
        position.frozen[source] += remaining
    else:
        if order.type is OrderType.LIMIT:
            ticket.freeze_price = order.limit_price
        else:
            ticket.freeze_price = quote.ask if order.side is Side.BUY else quote.bid
        ticket.frozen_cash = ticket.cash_reserved_for(remaining)
        portfolio.freeze_cash(instrument.currency, ticket.frozen_cash)
    return ticket
