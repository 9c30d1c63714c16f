"""ZeroMQ transport between the web process(es) and the engine process.

- :class:`RpcServer` (engine) / :class:`RpcClient` (web): request/response over ROUTER/DEALER,
  many calls in flight, per-call timeouts, heartbeats, fast failure and self-healing when the
  engine goes away and comes back. Errors cross as ``TradebridgeError`` code/message/details.
- :class:`EventPublisher` (engine) / :class:`EventSubscriber` (web): PUB/SUB event bus with a
  heartbeat; the publisher never blocks.

The wire format (msgpack via msgspec, never pickle) is in :mod:`tradebridge.rpc.codec`. Off
loopback the link is encrypted and authenticated with CURVE keys (:mod:`tradebridge.rpc.curve`,
chosen from the settings by :mod:`tradebridge.rpc.link`).
"""

from tradebridge.rpc.client import RpcClient
from tradebridge.rpc.events import EventPublisher, EventSubscriber
from tradebridge.rpc.server import RpcServer

__all__ = ["EventPublisher", "EventSubscriber", "RpcClient", "RpcServer"]
