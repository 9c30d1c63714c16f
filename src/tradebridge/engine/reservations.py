"""Cash and shares held by orders the engine accepted but the broker has not acknowledged.

Until the broker's books show an order's freeze, concurrent orders could otherwise spend the
same money (or sell the same shares) twice: the checks subtract what is held here.
"""

from decimal import Decimal

from tradebridge.domain.enums import OrderType, Side
from tradebridge.domain.models import Contract, Quote
from tradebridge.domain.orders import Order


class Reservations:
    def __init__(self) -> None:
        self.cash: dict[str, Decimal] = {}
        """Held cash by currency."""
        self.qty: dict[str, int] = {}
        """Held shares by symbol."""
        self._held: dict[str, tuple[str, Decimal, int]] = {}

    def __contains__(self, order_id: str) -> bool:
        return order_id in self._held

    def hold(self, order: Order, contract: Contract, quote: Quote | None) -> None:
        """Hold what `order` would spend (a buy) or sell; futures hold nothing here (the
        broker freezes margin at once)."""
        if order.offset is not None:
            return
        if order.side is Side.BUY:
            price = (
                order.limit_price
                if order.type is OrderType.LIMIT
                else (quote.ask or quote.last if quote else None)
            )
            amount = (price or Decimal(0)) * order.qty * contract.multiplier
            key = contract.currency
            self.cash[key] = self.cash.get(key, Decimal(0)) + amount
            self._held[order.id] = (key, amount, 0)
        else:
            key = order.symbol
            self.qty[key] = self.qty.get(key, 0) + order.qty
            self._held[order.id] = (key, Decimal(0), order.qty)

    def release(self, order_id: str) -> None:
        held = self._held.pop(order_id, None)
        if held is None:
            return
        key, amount, qty = held
        if qty:
            self.qty[key] -= qty
        else:
            self.cash[key] -= amount
