"""Futures positions of a paper account: long and short held apart, and inside each, today's
lots apart from yesterday's, because SHFE and INE close them with different offsets.

Which lots a close takes (`close_source`): on SHFE and INE `close_today` takes today's and
`close`/`close_yesterday` yesterday's; on the other venues every close takes yesterday's
first, then today's. Closing orders freeze the lots they may take, so what is left to close
is net of the closes already resting.

Each lot keeps its open price and the margin it took (`margin_for`: open price x qty x
multiplier x margin rate, to the cent): realized P&L is (close - open) x qty x multiplier
against the lots closed, oldest first, and closing releases exactly the margin opening them
took. (No daily mark-to-market against a settlement price: lots keep their open price
across days.)
This module keeps the lots; the cash, margin and fees they move are booked by the broker in
`Portfolio`.
"""

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from tradebridge.domain.enums import Direction, Offset, Side
from tradebridge.domain.models import Contract, Position
from tradebridge.domain.money import round_money

ZERO = Decimal(0)
_TODAY_APART = (".SHFE", ".INE")
"""Venues whose closes tell today's lots from yesterday's."""


class CloseSource(StrEnum):
    """The lots a closing order may take."""

    TODAY = "today"
    YESTERDAY = "yesterday"
    EITHER = "either"
    """Yesterday's first, then today's."""


def close_source(symbol: str, offset: Offset) -> CloseSource:
    """Which lots a close with `offset` takes on the venue of `symbol`."""
    if not symbol.endswith(_TODAY_APART):
        return CloseSource.EITHER
    return CloseSource.TODAY if offset is Offset.CLOSE_TODAY else CloseSource.YESTERDAY


def position_direction(side: Side, offset: Offset) -> Direction:
    """The side of the book an order works on: a buy opens long or closes short."""
    buys_long = side is Side.BUY
    opens = offset is Offset.OPEN
    return Direction.LONG if buys_long == opens else Direction.SHORT


def margin_for(contract: Contract, qty: int, price: Decimal) -> Decimal:
    """The margin `qty` lots at `price` take, to the cent."""
    assert contract.margin_rate is not None  # every futures contract has one
    return round_money(price * qty * contract.multiplier * contract.margin_rate)


@dataclass(slots=True)
class _Lot:
    qty: int
    price: Decimal
    margin: Decimal


class _Lots:
    """The lots of one day, oldest first, with their total qty and cost (Σ open price x qty)
    kept as they change."""

    __slots__ = ("cost", "lots", "qty")

    def __init__(self) -> None:
        self.lots: deque[_Lot] = deque()
        self.qty = 0
        self.cost = ZERO

    def add(self, qty: int, price: Decimal, margin: Decimal) -> None:
        last = self.lots[-1] if self.lots else None
        if last is not None and last.price == price:
            last.qty += qty
            last.margin += margin
        else:
            self.lots.append(_Lot(qty, price, margin))
        self.qty += qty
        self.cost += price * qty

    def take(self, qty: int, price: Decimal) -> tuple[int, Decimal, Decimal]:
        """Close up to `qty` lots at `price`, oldest first: `(qty not taken, Σ (price - open
        price) x qty, margin released)`. The last part of a lot takes whatever margin it has
        left, so none is lost to rounding."""
        lots = self.lots
        moved = released = ZERO
        while qty and lots:
            lot = lots[0]
            taken = min(qty, lot.qty)
            if taken == lot.qty:
                margin = lot.margin
                lots.popleft()
            else:
                margin = round_money(lot.margin * taken / lot.qty)
                lot.qty -= taken
                lot.margin -= margin
            qty -= taken
            self.qty -= taken
            self.cost -= lot.price * taken
            moved += (price - lot.price) * taken
            released += margin
        return qty, moved, released

    def move_to(self, other: "_Lots") -> None:
        other.lots.extend(self.lots)
        other.qty += self.qty
        other.cost += self.cost
        self.lots = deque()
        self.qty = 0
        self.cost = ZERO


@dataclass(slots=True)
class FuturesPosition:
    """One direction of one contract."""

    contract: Contract
    direction: Direction
    today: _Lots = field(default_factory=_Lots)
    yesterday: _Lots = field(default_factory=_Lots)
    frozen: dict[CloseSource, int] = field(
        default_factory=lambda: {
            CloseSource.TODAY: 0,
            CloseSource.YESTERDAY: 0,
            CloseSource.EITHER: 0,
        }
    )
    """Lots frozen by resting closing orders, by where they close from."""

    @property
    def qty(self) -> int:
        return self.today.qty + self.yesterday.qty

    @property
    def sign(self) -> int:
        return 1 if self.direction is Direction.LONG else -1

    def closable(self, source: CloseSource) -> int:
        """Lots a new closing order from `source` may still take."""
        if source is CloseSource.TODAY:
            return self.today.qty - self.frozen[source]
        if source is CloseSource.YESTERDAY:
            return self.yesterday.qty - self.frozen[source]
        return self.qty - sum(self.frozen.values())

    def open(self, qty: int, price: Decimal) -> Decimal:
        """Add `qty` lots opened today at `price`; return the margin they take."""
        margin = margin_for(self.contract, qty, price)
        self.today.add(qty, price, margin)
        return margin

    def close(self, qty: int, price: Decimal, source: CloseSource) -> tuple[Decimal, Decimal]:
        """Close `qty` frozen lots from `source` at `price`: `(realized P&L to the cent,
        margin released)`."""
        self.frozen[source] -= qty
        if source is CloseSource.TODAY:
            days: tuple[_Lots, ...] = (self.today,)
        elif source is CloseSource.YESTERDAY:
            days = (self.yesterday,)
        else:
            days = (self.yesterday, self.today)
        pnl = released = ZERO
        for lots in days:
            qty, moved, margin = lots.take(qty, price)
            pnl += moved
            released += margin
        assert qty == 0, "a close takes only lots its order froze"
        return round_money(self.sign * pnl * self.contract.multiplier), released

    def roll(self) -> None:
        """A new trading day: today's lots become yesterday's. Closing orders from today's
        lots must be gone (they expire with the day)."""
        assert self.frozen[CloseSource.TODAY] == 0
        self.today.move_to(self.yesterday)

    @property
    def cost(self) -> Decimal:
        """Σ open price x qty of the lots held."""
        return self.today.cost + self.yesterday.cost

    def unrealized(self, last: Decimal) -> Decimal:
        return self.sign * (last * self.qty - self.cost) * self.contract.multiplier


class FuturesBook:
    """Every futures position of the account, by symbol and direction."""

    def __init__(self) -> None:
        self._positions: dict[tuple[str, Direction], FuturesPosition] = {}

    def get(self, symbol: str, direction: Direction) -> FuturesPosition | None:
        return self._positions.get((symbol, direction))

    def side(self, contract: Contract, direction: Direction) -> FuturesPosition:
        """The position in `direction`, created empty if there is none."""
        key = (contract.symbol, direction)
        position = self._positions.get(key)
        if position is None:
            position = self._positions[key] = FuturesPosition(contract, direction)
        return position

    def discard_if_empty(self, symbol: str, direction: Direction) -> None:
        position = self._positions.get((symbol, direction))
        if position is not None and position.qty == 0:
            del self._positions[(symbol, direction)]

    def held(self) -> list[tuple[str, Direction]]:
        return list(self._positions)

    def roll(self) -> None:
        for position in self._positions.values():
            position.roll()

    def unrealized(self, currency: str, last_price: Callable[[str], Decimal]) -> Decimal:
        if not self._positions:
            return ZERO
        return sum(
            (
                p.unrealized(last_price(symbol))
                for (symbol, _), p in self._positions.items()
                if p.contract.currency == currency
            ),
            ZERO,
        )

    def position(
        self, contract: Contract, direction: Direction, last: Decimal, cost_quantum: Decimal
    ) -> Position:
        """The position valued at `last` (qty 0 when there is none any more). `avg_cost` is
        the average open price; `market_value` the notional, last x qty x multiplier."""
        held = self._positions.get((contract.symbol, direction))
        if held is None:
            qty = closable = 0
            avg = unrealized = ZERO
        else:
            qty, closable = held.qty, held.closable(CloseSource.EITHER)
            avg = (held.cost / qty).quantize(cost_quantum, rounding=ROUND_HALF_UP)
            unrealized = round_money(held.unrealized(last))
        return Position(
            symbol=contract.symbol,
            qty=qty,
            available_qty=closable,
            avg_cost=avg,
            last_price=last,
            market_value=round_money(last * qty * contract.multiplier),
            unrealized_pnl=unrealized,
            currency=contract.currency,
            direction=direction,
        )
