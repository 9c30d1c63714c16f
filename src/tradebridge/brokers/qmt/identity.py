"""Which of MiniQMT's orders are ours, and which tradebridge order each is.

An order we place carries our remark (`mapping.remark_of`); MiniQMT gives it an order id in
its answer. Reports name the order by both, and either may be missing: a push can come before
the answer has been read, and a broker's counter may drop the remark. So the index keeps both
ways to our id, bounded (the oldest entries are of orders long settled, which the engine finds
by their MiniQMT id itself).
"""

from collections import OrderedDict

from tradebridge.brokers.qmt.mapping import is_ours, remark_of

KEPT = 100_000


def _bounded_put(table: "OrderedDict[str, str]", key: str, value: str) -> None:
    table[key] = value
    table.move_to_end(key)
    while len(table) > KEPT:
        table.popitem(last=False)


class OrderIdentity:
    def __init__(self) -> None:
        self._by_remark: OrderedDict[str, str] = OrderedDict()
        self._by_broker_id: OrderedDict[str, str] = OrderedDict()
        self._told: OrderedDict[str, str] = OrderedDict()

    def remember(self, order_id: str, broker_order_id: str | None = None) -> str:
        """Our order (placed now, or left open by a previous run); its remark."""
        remark = remark_of(order_id)
        _bounded_put(self._by_remark, remark, order_id)
        if broker_order_id is not None:
            self.learn(order_id, broker_order_id)
        return remark

    def learn(self, order_id: str, broker_order_id: str) -> None:
        """MiniQMT's id of our order."""
        _bounded_put(self._by_broker_id, broker_order_id, order_id)

    def order_id_of(self, remark: str | None, broker_order_id: str | None) -> str | None:
        if remark and is_ours(remark):
            found = self._by_remark.get(remark)
            if found is not None:
                return found
        return self._by_broker_id.get(broker_order_id) if broker_order_id else None

    def told(self, order_id: str, broker_order_id: str) -> None:
        """A push naming both ids reached the engine: it knows the MiniQMT id."""
        self.learn(order_id, broker_order_id)
        _bounded_put(self._told, broker_order_id, order_id)

    def engine_knows(self, broker_order_id: str) -> bool:
        return broker_order_id in self._told
