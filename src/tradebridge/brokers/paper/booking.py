"""Booking one execution into the cash, stock and futures books. A live fill
(`PaperBroker._fill`) and a journaled fill replayed after a restart (`replay.book_fill`) book
the same way, through `book_execution`."""

from decimal import Decimal

from tradebridge.brokers.paper.futures import CloseSource, FuturesBook
from tradebridge.brokers.paper.portfolio import Portfolio
from tradebridge.brokers.paper.tickets import ZERO, TicketKind
from tradebridge.brokers.paper.universe import Instrument
from tradebridge.domain.enums import Direction


def book_execution(
    kind: TicketKind,
    direction: Direction | None,
    source: CloseSource | None,
    instrument: Instrument,
    qty: int,
    price: Decimal,
    amount: Decimal,
    fee: Decimal,
    *,
    released: Decimal,
    portfolio: Portfolio,
    futures: FuturesBook,
) -> None:
    """Book `qty` at `price` for `amount` (price x qty x multiplier, to the cent) and `fee`.

    `released` is the cash the order's freeze gives back for this execution (a buy or open).
    A sell takes shares, a close lots, that its order froze.
    """
    contract, currency = instrument.contract, instrument.currency
    symbol = contract.symbol
    if kind is TicketKind.BUY:
        portfolio.buy(
            symbol,
            currency,
            qty,
            amount,
            fee,
            release=released,
            unsettled=contract.t_plus > 0,
        )
        return
    if kind is TicketKind.SELL:
        portfolio.sell(symbol, qty, amount, fee)
        return
    assert direction is not None
    position = futures.side(contract, direction)
    if kind is TicketKind.OPEN:
        margin = position.open(qty, price)
        portfolio.book_futures(currency, ZERO, fee, frozen_change=margin - released)
        return
    assert source is not None
    pnl, margin = position.close(qty, price, source)
    portfolio.book_futures(currency, pnl, fee, frozen_change=-margin)
    futures.discard_if_empty(symbol, direction)
