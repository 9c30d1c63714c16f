"""httptrading 1.0.8 with a broker that does nothing: the reference its dialect is measured
against. Runs in the bench venv `references.py` makes (httptrading needs Python 3.13), as
`python ref_httptrading.py PORT INSTANCE TOKEN`."""

import itertools
import sys

from httptrading.broker.base import BaseBroker, broker_register
from httptrading.http_server import run
from httptrading.model import Cash

_ids = itertools.count(1)


@broker_register(name="noop", display="no-op broker")
class NoopBroker(BaseBroker):
    """Answers at once, from memory: what is left is httptrading's own cost per request."""

    async def place_order(self, *args: object, **kwargs: object) -> str:
        return str(next(_ids))

    async def cash(self) -> Cash:
        return Cash(currency="CNY", amount=1_000_000.0)


if __name__ == "__main__":
    port, instance, token = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    broker = NoopBroker(broker_args={}, instance_id=instance, tokens=[token])
    run(host="127.0.0.1", port=port, brokers=[broker], access_log=None, print=None)
