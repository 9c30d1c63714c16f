"""`Ticket`: the paper broker's record of one accepted order and of what it keeps frozen.

What an open order reserves depends on what it does (`TicketKind`):

- a stock buy freezes cash: price x qty plus the fees of the open part;
- a futures open freezes margin: price x qty x multiplier x margin rate, plus fees;
- a stock sell freezes the shares, a futures close the lots it may take (no cash: the fees
  come out of the proceeds or the P&L).

The price is the limit, or for a market order the opposite best price when it arrived. A
buy fills at or below that price, so the freeze always covers it; a futures sell-open may
fill above its limit (at a higher bid), and then takes a little more margin than it froze,
as at a real futures broker.
"""

from dataclasses import dataclass
from decimal import Decimal
from enum import Enum

from tradebridge.brokers.paper.fees import FeeSchedule
from tradebridge.brokers.paper.futures import (
    CloseSource,
    close_source,
    margin_for,
    position_direction,
)
from tradebridge.brokers.paper.universe import Instrument
from tradebridge.domain.enums import Direction, Offset, OrderStatus, Side
from tradebridge.domain.money import round_money
from tradebridge.domain.orders import Order

ZERO = Decimal(0)


class TicketKind(Enum):
    BUY = "buy"
    SELL = "sell"
    OPEN = "open"
    CLOSE = "close"


def classify(
    symbol: str, side: Side, offset: Offset | None
) -> tuple[TicketKind, Direction | None, CloseSource | None]:
    """What an order (or a fill of it) does, and for futures the side of the book it works
    on and, for a close, the lots it takes."""
    if offset is None:
        return (TicketKind.BUY if side is Side.BUY else TicketKind.SELL), None, None
    direction = position_direction(side, offset)
    if offset is Offset.OPEN:
        return TicketKind.OPEN, direction, None
    return TicketKind.CLOSE, direction, close_source(symbol, offset)


@dataclass(eq=False, slots=True)
class Ticket:
    order: Order
    instrument: Instrument
    kind: TicketKind
    broker_order_id: str
    fees: FeeSchedule
    direction: Direction | None = None
    """Futures: the side of the book the order works on."""
    source: CloseSource | None = None
    """Futures closes: the lots the order takes."""
    freeze_price: Decimal | None = None
    """Where cash is frozen: the price it is computed at; None when nothing is."""
    frozen_cash: Decimal = ZERO
    status: OrderStatus = OrderStatus.NEW
    filled_qty: int = 0
    filled_notional: Decimal = ZERO
    """Σ amount (price x qty x multiplier, to the cent) of the fills so far: the base of the
    order's fee."""
    _last_fee: tuple[Decimal, Decimal, Decimal] | None = None
    """`(before, added, fee)` of the last fee worked out: an order that fills whole at the
    price it froze at (a market order, a limit at the touch) is charged exactly the fee its
    freeze estimated, without working it out again."""

    @property
    def remaining(self) -> int:
        return self.order.qty - self.filled_qty

    @property
    def fill_step(self) -> int:
        """Fills come in multiples of this: the board lot where only board lots trade."""
        instrument = self.instrument
        return instrument.contract.lot_size if instrument.board_lots_only else 1

    @property
    def freezes_position(self) -> bool:
        """Whether the order freezes shares or lots (and shows in a position)."""
        return self.kind in (TicketKind.SELL, TicketKind.CLOSE)

    def cash_reserved_for(self, qty: int) -> Decimal:
        """Cash the order keeps frozen while `qty` of it is open."""
        if self.freeze_price is None or qty == 0:
            return ZERO
        contract = self.instrument.contract
        notional = round_money(self.freeze_price * qty * contract.multiplier)
        if self.kind is TicketKind.OPEN:
            base = margin_for(contract, qty, self.freeze_price)
        else:
            base = notional
        return base + self.fee_for(notional)

    def fee_for(self, notional: Decimal) -> Decimal:
        """The fee of a fill of `notional`, given what the order filled before."""
        before, last = self.filled_notional, self._last_fee
        if last is not None and last[0] == before and last[1] == notional:
            return last[2]
        fee = self.fees.increment(self.order.side, before, notional)
        self._last_fee = (before, notional, fee)
        return fee
