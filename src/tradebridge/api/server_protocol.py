"""uvicorn's HTTP and WebSocket protocols with the guards uvicorn itself lacks.

uvicorn (httptools) reads a request head of any size and waits for a half-sent request
forever: it starts no timer until a first response is complete, so a client that trickles
its headers (slowloris) or its body holds a socket and a task for good, and an 8 MB header is
buffered whole before anything looks at it. Its own refusals (malformed HTTP, WebSocket
handshakes it rejects) are plain text. Here:

- the request line and headers of a request are counted as they arrive; past
  `max_head_bytes` the request is answered 431 and the connection closed at once;
- a request must arrive whole within `read_timeout_s` of its first byte (of the connection,
  for its first request), else 408 and close (a connection that sent nothing is closed);
  time during which the server itself stopped reading (flow control) is not held against it;
- every refusal is our JSON error (API.md §3), the WebSocket handshake's included;
- a response's head leaves with the first part of its body, in one write (`_HeadWithBody`).

The limits come from the app's lifespan state (`lifespan_state`), so each worker process has
those of its own settings.
"""

from __future__ import annotations

import asyncio
import http
import logging
from dataclasses import dataclass
from typing import Any

import msgspec
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from uvicorn.server import ServerState
from websockets.datastructures import Headers
from websockets.http11 import Response
from websockets.server import ServerProtocol

from tradebridge.api.errors import error_document
from tradebridge.config import ServerSettings

log = logging.getLogger(__name__)

LIMITS_KEY = "tradebridge.http_limits"
INTERIM_STATUS = b"HTTP/1.1 1"
"""How a `1xx` answer's status line starts (uvicorn writes only HTTP/1.1 ones)."""
LINGER_S = 2.0
"""After a refusal, how long the rest of what the client sends is read and dropped."""


@dataclass(frozen=True, slots=True)
class HttpLimits:
    max_head_bytes: int = 16_384
    read_timeout_s: float = 10.0

    @classmethod
    def from_settings(cls, server: ServerSettings) -> HttpLimits:
        return cls(server.max_header_bytes, server.request_read_timeout_ms / 1000)


def lifespan_state(server: ServerSettings) -> dict[str, Any]:
    """What the app's lifespan yields, for the protocols of its server to read."""
    return {LIMITS_KEY: HttpLimits.from_settings(server)}


_encode = msgspec.json.Encoder().encode

_ERROR_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    408: "request_timeout",
    413: "payload_too_large",
    414: "bad_request",
    431: "headers_too_large",
    500: "internal_error",
    503: "engine_unavailable",
}


def _error_body(status: int, message: str) -> bytes:
    return _encode(error_document(_ERROR_CODES.get(status, "bad_request"), message))


class GuardedHttpProtocol(HttpToolsProtocol):
    """httptools' protocol with a bound on the request head and a read deadline."""

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        limits = app_state.get(LIMITS_KEY) or HttpLimits()
        self._max_head_bytes = limits.max_head_bytes
        self._read_timeout_s = limits.read_timeout_s
        self._in_head = True
        """Bytes arriving now belong to a request line or headers."""
        self._head_bytes = 0
        self._begun = False
        """A request has begun (its first byte arrived) and has not arrived whole yet."""
        self._read_deadline: asyncio.TimerHandle | None = None
        self._refused = False

    # ------------------------------------------------------------------ transport events

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._start_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_deadline()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return  # lingering after a refusal
        if self._in_head:
            self._head_bytes += len(data)
        super().data_received(data)
        if self._in_head and self._head_bytes > self._max_head_bytes and not self._refused:
            self._refuse(431, f"the request line and headers are over {self._max_head_bytes} bytes")

    def handle_websocket_upgrade(self) -> None:
        self._stop_deadline()  # the WebSocket protocol takes over the socket
        super().handle_websocket_upgrade()

    def send_400_response(self, msg: str) -> None:
        self._refuse(400, "malformed HTTP request")

    # ------------------------------------------------------------------ parser callbacks

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._begun = True
        self._start_deadline()

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._head_bytes = 0
        previous = self.cycle
        super().on_headers_complete()
        if self.cycle is not None and self.cycle is not previous:  # a new request's cycle
            self.cycle.transport = _HeadWithBody(self.transport, self.loop)

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._stop_deadline()
        self._begun = False
        self._in_head = True

    # ------------------------------------------------------------------ the deadline

    def _start_deadline(self) -> None:
        if self._read_deadline is None:
            self._read_deadline = self.loop.call_later(self._read_timeout_s, self._read_late)

    def _stop_deadline(self) -> None:
        if self._read_deadline is not None:
            self._read_deadline.cancel()
            self._read_deadline = None

    def _read_late(self) -> None:
        self._read_deadline = None
        if self.transport.is_closing():
            return
        if self.flow.read_paused:  # the server is not reading: not the client's fault
            self._start_deadline()
            return
        cycle = self.cycle  # while the head is incomplete: the previous request's, if any
        if not self._begun:
            self.transport.close()  # connected and sent nothing
        elif self._in_head and cycle is not None and not cycle.response_complete:
            self._start_deadline()  # pipelined behind a request still being answered
        else:  # (a request answered early whose body never came is just closed)
            self._refuse(408, f"the request did not arrive within {self._read_timeout_s:g} s")

    # ------------------------------------------------------------------ refusals

    def _refuse(self, status: int, message: str) -> None:
        """Answer `status` with our JSON error and close, whatever the app was doing with
        the request (it sees a disconnect)."""
        self._refused = True
        self._stop_deadline()
        client = f"{self.client[0]}:{self.client[1]}" if self.client else "-"
        log.info("refused a request from %s: %d %s", client, status, message)
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete:
            answering = cycle.response_started
            cycle.disconnected = True  # what the app sends from now on is dropped
            cycle.message_event.set()
            if answering:  # an answer is half-way out: no room for another
                self.transport.close()
                return
        body = _error_body(status, message)
        head = [f"HTTP/1.1 {status} {http.HTTPStatus(status).phrase}\r\n".encode()]
        for name, value in self.server_state.default_headers:
            head += [name, b": ", value, b"\r\n"]
        head += [
            b"content-type: application/json\r\n",
            b"content-length: %d\r\n" % len(body),
            b"connection: close\r\n\r\n",
        ]
        self.transport.write(b"".join(head) + body)
        self._linger()

    def _linger(self) -> None:
        """Close after the answer, reading (and dropping) what the client still sends for a
        moment: closing with unread data would reset the connection, and the client's
        kernel could drop the answer before the client reads it."""
        if not self.transport.can_write_eof():
            self.transport.close()
            return
        self.transport.write_eof()
        self.flow.resume_reading()
        self.loop.call_later(LINGER_S, self.transport.close)


class _HeadWithBody(asyncio.Transport):
    """The connection as one request's cycle writes to it: the response's head is held until
    the first part of its body, and both leave in one write.

    uvicorn writes a head and its body apart. On loopback each write is a `send()` that also
    runs the receiving end's TCP work, which made the two writes the web's largest cost per
    request on a hot route. A head whose body does not follow at once (an answer to HEAD, a
    stream that takes its time) leaves on the loop's next turn. Interim answers
    (`100 Continue`) are not held: the client waits for them.
    """

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self._transport = transport
        self._loop = loop
        self._head_seen = False
        self._held: bytes | None = None

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not self._head_seen and not bytes(data[:10]).startswith(INTERIM_STATUS):
            self._head_seen = True
            self._held = bytes(data)
            self._loop.call_soon(self._flush)
            return
        if self._held is not None:
            data, self._held = self._held + data, None
        self._transport.write(data)

    def _flush(self) -> None:
        if self._held is not None:
            held, self._held = self._held, None
            if not self._transport.is_closing():
                self._transport.write(held)

    def close(self) -> None:
        self._flush()
        self._transport.close()

    def is_closing(self) -> bool:
        return self._transport.is_closing()


class _JsonRejections(ServerProtocol):
    """websockets' handshake protocol, whose refusals are our JSON error."""

    def reject(self, status: http.HTTPStatus | int, text: str) -> Response:
        response = super().reject(status, text)
        message = text.strip().rstrip(".") or http.HTTPStatus(response.status_code).phrase
        body = _error_body(response.status_code, message)
        headers = Headers(
            [
                (name, value)
                for name, value in response.headers.raw_items()
                if name.lower() not in ("content-type", "content-length")
            ]
        )
        headers["Content-Type"] = "application/json"
        headers["Content-Length"] = str(len(body))
        return Response(response.status_code, response.reason_phrase, headers, body)


class GuardedWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's WebSocket protocol (websockets, sans-I/O) with JSON handshake refusals."""

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.conn = _JsonRejections(
            extensions=self.conn.available_extensions,
            max_size=config.ws_max_size,
            logger=self.conn.logger,
        )
