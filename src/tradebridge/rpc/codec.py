"""Wire format of the web <-> engine RPC link.

Framing
    Every RPC message is exactly one ZeroMQ frame holding one msgpack value (the ROUTER socket
    on the engine side adds and strips the peer identity frame; the application never sees it).
    One frame per message keeps parsing trivial: a message with any other number of frames is
    garbage by definition.

Encoding
    The messages are msgspec Structs encoded as msgpack arrays, ``[tag, field, ...]``
    (``array_like`` + ``tag``): the first element names the kind, the rest are positional.
    That is the smallest and fastest shape msgspec offers, and one precompiled decoder for the
    tagged union reads any message in a single pass. ``params`` and ``result`` travel as
    :class:`msgspec.Raw`: the envelope is decoded once, and the body is decoded later, straight
    into the type the handler (server side) or the caller (client side) asked for, with no
    intermediate dicts. Nothing here can run code while decoding (no pickle): untrusted bytes
    produce plain data or a ``msgspec.DecodeError``, never anything else.

Errors
    An error travels as ``{code, message, details}``, the same triple as
    :class:`~tradebridge.domain.errors.TradebridgeError`, and is rebuilt into the same class on
    the client with :func:`~tradebridge.domain.errors.error_from_code`. Never a traceback.

Deadlines
    Every request carries the moment after which its caller no longer waits for it, in seconds
    of the engine's wall clock (``time.time()`` there). The server never starts a request whose
    deadline has passed: its caller has been answered already (see ``server.py``).

Heartbeats
    ``Ping`` (client -> server) carries the client's monotonic clock reading when it was sent;
    ``Pong`` (server -> client) echoes it and adds the server's wall clock. They let each side
    tell a silent peer from a dead one (see ``client.py`` for the policy), and let the client
    translate its clock into the engine's for deadlines, whatever the two hosts' clocks say.
"""

from __future__ import annotations

import math
import re
from typing import Any

import msgspec

from tradebridge.domain.errors import InternalError, TradebridgeError, error_from_code

__all__ = [
    "ErrorInfo",
    "ErrorResponse",
    "Message",
    "Ping",
    "Pong",
    "Request",
    "Response",
    "decode_message",
    "describe",
    "encode",
    "encode_error",
    "encode_request",
    "encode_response",
    "error_from_wire",
    "field_of",
    "probe_request_id",
]


class Request(msgspec.Struct, tag="req", array_like=True, gc=False):
    """A call: ``id`` is chosen by the client and unique among its calls in flight;
    ``deadline`` is in seconds of the engine's wall clock (infinite: none)."""

    id: int
    method: str
    params: msgspec.Raw
    deadline: float = math.inf


class Response(msgspec.Struct, tag="res", array_like=True, gc=False):
    """A successful answer to the request with the same ``id``."""

    id: int
    result: msgspec.Raw


class ErrorInfo(msgspec.Struct, array_like=True):
    code: str
    message: str
    details: dict[str, Any]


class ErrorResponse(msgspec.Struct, tag="err", array_like=True):
    """A failed answer to the request with the same ``id``."""

    id: int
    error: ErrorInfo


class Ping(msgspec.Struct, tag="ping", array_like=True, gc=False):
    sent: float = 0.0
    """The client's ``time.monotonic()`` when it sent the ping."""


class Pong(msgspec.Struct, tag="pong", array_like=True, gc=False):
    sent: float = 0.0
    """``Ping.sent`` of the ping answered."""
    now: float = 0.0
    """The server's ``time.time()`` when it answered."""


Message = Request | Response | ErrorResponse | Ping | Pong


class _RequestProbe(msgspec.Struct, array_like=True, gc=False):
    """The first two elements of anything that claims to be a request; the rest is skipped."""

    kind: str
    id: int


_encoder = msgspec.msgpack.Encoder()
_message_decoder: msgspec.msgpack.Decoder[Message] = msgspec.msgpack.Decoder(Message)
_probe_decoder = msgspec.msgpack.Decoder(_RequestProbe)

#: Encode any msgspec-encodable value to msgpack bytes.
encode = _encoder.encode

#: Decode one message frame; raises ``msgspec.DecodeError`` (or its subclass
#: ``msgspec.ValidationError``) on anything that is not a well-formed message.
decode_message = _message_decoder.decode


def encode_request(
    request_id: int, method: str, params: object, deadline: float = math.inf
) -> bytes:
    raw = msgspec.Raw(_encoder.encode(params))
    return _encoder.encode(Request(request_id, method, raw, deadline))


def encode_response(request_id: int, result: object) -> bytes:
    return _encoder.encode(Response(request_id, msgspec.Raw(_encoder.encode(result))))


def encode_error(request_id: int, code: str, message: str, details: dict[str, Any]) -> bytes:
    """Encode an error answer; raises if ``details`` holds something msgpack cannot carry."""
    return _encoder.encode(ErrorResponse(request_id, ErrorInfo(code, message, details)))


def error_from_wire(info: ErrorInfo) -> TradebridgeError:
    """Rebuild the exception the server-side handler raised (same class, code, message, details)."""
    try:
        return error_from_code(info.code, info.message, info.details)
    except Exception:  # e.g. an order_rejected whose reason this build does not know
        return InternalError(info.message, {"code": info.code, **info.details})


def probe_request_id(payload: bytes) -> int | None:
    """The request id of a frame that failed to decode, if one can be read from it.

    Lets the server answer ``bad_request`` to a malformed request instead of leaving the caller
    waiting for its timeout. Only frames that start like a request (``["req", <int>, ...]``)
    qualify.
    """
    try:
        probe = _probe_decoder.decode(payload)
    except msgspec.DecodeError:
        return None
    return probe.id if probe.kind == "req" else None


_PATH = re.compile(r" - at `\$\.?([^`]*)`$")


def field_of(error: msgspec.DecodeError) -> str | None:
    """The field a msgspec validation message points at (``"qty"``, ``"legs[0].price"``)."""
    match = _PATH.search(str(error))
    if match is None:
        return None
    return match.group(1) or None


def describe(data: bytes, limit: int = 48) -> str:
    """A short, log-safe rendering of a frame: its size and its first bytes, never all of it."""
    head = data[:limit]
    return f"{len(data)} bytes {head!r}{'...' if len(data) > limit else ''}"
