"""`/api/v1/stream`: live account events and quotes over a WebSocket.

- `hub`: one per web worker; reads the engine's event bus, repairs gaps from the database,
  fans out without ever waiting on a client.
- `connection`: one per client; subscriptions, bounded queues, quote conflation, the writer,
  and resume (replay from the database merged with the live feed).
- `endpoint`: the route; authentication and close codes.
- `messages`: the wire protocol.
"""

from tradebridge.api.stream.endpoint import install_token_redaction, router
from tradebridge.api.stream.hub import StreamHub, StreamLimits

__all__ = ["StreamHub", "StreamLimits", "install_token_redaction", "router"]
