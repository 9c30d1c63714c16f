"""The engine's in-memory index of an account's orders.

Open orders are all here; closed ones are kept for a while for quick reads and idempotent
retries (older ones are read from the database). An order is found by our id, by the
caller's `client_order_id`, or by the broker's order id, for brokers that report by theirs.
"""

from collections import OrderedDict

from tradebridge.domain.orders import Order

RECENT_CLOSED_ORDERS = 10_000
"""Closed orders kept in memory; older ones are read from the database."""


class OrderIndex:
    def __init__(self) -> None:
        self.open: dict[str, Order] = {}
        self.recent: OrderedDict[str, Order] = OrderedDict()
        self.by_client_id: dict[str, str] = {}
        self.by_broker_id: dict[str, str] = {}

    def load(self, open_orders: list[Order], client_order_ids: dict[str, str]) -> None:
        """What the database holds at start."""
        self.by_client_id = dict(client_order_ids)
        self.open = {}
        for order in open_orders:
            self.put(order)

    def put(self, order: Order) -> None:
        """Make `order` the current state of its id."""
        if order.status.is_terminal:
            self.open.pop(order.id, None)
            self.recent[order.id] = order
            if len(self.recent) > RECENT_CLOSED_ORDERS:
                _, dropped = self.recent.popitem(last=False)
                if dropped.broker_order_id is not None:
                    self.by_broker_id.pop(dropped.broker_order_id, None)
        else:
            self.open[order.id] = order
        if order.broker_order_id is not None:
            self.by_broker_id[order.broker_order_id] = order.id

    def forget(self, order: Order) -> None:
        """Undo every trace of an order whose journal write failed."""
        self.open.pop(order.id, None)
        self.recent.pop(order.id, None)
        if order.client_order_id is not None:
            self.by_client_id.pop(order.client_order_id, None)
        if order.broker_order_id is not None:
            self.by_broker_id.pop(order.broker_order_id, None)

    def get(self, order_id: str) -> Order | None:
        return self.open.get(order_id) or self.recent.get(order_id)

    def find(self, order_id: str | None, broker_order_id: str | None) -> Order | None:
        """The order a broker report is about: by our id if the broker echoed it, else by
        the broker's id."""
        if order_id is not None:
            found = self.get(order_id)
            if found is not None:
                return found
        if broker_order_id is not None:
            known = self.by_broker_id.get(broker_order_id)
            if known is not None:
                return self.get(known)
        return None
