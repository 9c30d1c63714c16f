"""The wire protocol of `/api/v1/stream`: client operations, server messages, close codes.

Every message is one JSON object in one WebSocket text frame (binary frames holding JSON are
accepted from clients too). docs/README.md, "WebSocket stream", is the user's description.
"""

from __future__ import annotations

from typing import Annotated, Any, Final

import msgspec

from tradebridge.domain.enums import EventType
from tradebridge.domain.models import AccountSummary, Position, Quote, Trade
from tradebridge.domain.orders import Order
from tradebridge.engine.protocol import AccountEvent

# --------------------------------------------------------------------------- close codes


class CloseCode:
    """WebSocket close codes the server uses; each close also carries a reason text."""

    NORMAL: Final = 1000
    GOING_AWAY: Final = 1001
    """The web process is shutting down; reconnect and resume."""
    INTERNAL_ERROR: Final = 1011
    TRY_AGAIN_LATER: Final = 1013
    """Too many connections on this web worker."""
    BAD_MESSAGE: Final = 4400
    """The first message was not an `auth` operation."""
    UNAUTHORIZED: Final = 4401
    """Missing, invalid or expired token or API key."""
    FORBIDDEN: Final = 4403
    """Authenticated, but without the `read` scope."""
    TIMEOUT: Final = 4408
    """No `auth` within the auth timeout, or nothing from the client for 3 heartbeats."""
    RESUME_REQUIRED: Final = 4409
    """The client fell too far behind (backlog over the bound): reconnect and `resume`."""


# --------------------------------------------------------------------------- client operations

RequestId = str | int | None
"""Optional `id` of an operation, echoed in the reply (`subscribed`, `pong`, `error`)."""

Channel = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
SeqNumber = Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1)]
"""As the database stores it (64-bit)."""


class AuthOp(msgspec.Struct, tag_field="op", tag="auth", forbid_unknown_fields=True):
    token: str
    id: RequestId = None


class SubscribeOp(msgspec.Struct, tag_field="op", tag="subscribe", forbid_unknown_fields=True):
    channels: Annotated[list[Channel], msgspec.Meta(min_length=1, max_length=1000)]
    account: str | None = None
    id: RequestId = None


class UnsubscribeOp(msgspec.Struct, tag_field="op", tag="unsubscribe", forbid_unknown_fields=True):
    channels: Annotated[list[Channel], msgspec.Meta(min_length=1, max_length=1000)]
    account: str | None = None
    id: RequestId = None


class ResumeOp(msgspec.Struct, tag_field="op", tag="resume", forbid_unknown_fields=True):
    since_seq: SeqNumber
    account: str | None = None
    channels: Annotated[list[Channel], msgspec.Meta(min_length=1, max_length=4)] | None = None
    id: RequestId = None


class PingOp(msgspec.Struct, tag_field="op", tag="ping", forbid_unknown_fields=True):
    id: RequestId = None


class PongOp(msgspec.Struct, tag_field="op", tag="pong", forbid_unknown_fields=True):
    """The answer to a server `ping`; any message counts as a sign of life, this one is
    simply ignored."""

    id: RequestId = None


Op = AuthOp | SubscribeOp | UnsubscribeOp | ResumeOp | PingOp | PongOp
OP_NAMES: Final = frozenset({"auth", "subscribe", "unsubscribe", "resume", "ping", "pong"})
MAX_CLIENT_MESSAGE = 64 * 1024
"""Bytes; the server (uvicorn's `ws_max_size`) closes a socket with 1009 on the header of a
larger message, before reading it."""

_decode_any = msgspec.json.Decoder().decode


class OpError(Exception):
    """An operation the server cannot carry out; answered with an `error` message."""

    def __init__(
        self, code: str, message: str, details: dict[str, Any] | None = None, id: RequestId = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details or {}
        self.id = id


def parse_op(raw: str | bytes) -> Op:
    """The operation in one client message, or `OpError` (`bad_request`, `unknown_op`)."""
    try:
        value = _decode_any(raw)
    except msgspec.DecodeError:
        raise OpError("bad_request", "the message is not valid JSON") from None
    except RecursionError:  # the decoder's guard against deep nesting ([[[[...]]]])
        raise OpError("bad_request", "the message is nested too deeply") from None
    if not isinstance(value, dict):
        raise OpError("bad_request", 'send a JSON object such as {"op": "ping"}')
    request_id = value.get("id")
    if not isinstance(request_id, str | int) or isinstance(request_id, bool):
        request_id = None
    op = value.get("op")
    if not isinstance(op, str):
        raise OpError("bad_request", 'the message has no "op"', id=request_id)
    if op not in OP_NAMES:
        raise OpError(
            "unknown_op",
            f"unknown op {op[:40]!r}; use one of {', '.join(sorted(OP_NAMES))}",
            {"op": op[:40]},
            request_id,
        )
    try:
        parsed: Op = msgspec.convert(value, Op)
    except msgspec.ValidationError as exc:
        raise OpError("bad_request", f"{op}: {exc}", {"op": op}, request_id) from None
    return parsed


# --------------------------------------------------------------------------- channels

ACCOUNT_CHANNELS: Final[dict[str, EventType]] = {
    "orders": EventType.ORDER,
    "trades": EventType.TRADE,
    "positions": EventType.POSITION,
    "account": EventType.ACCOUNT,
}
CHANNEL_OF: Final[dict[EventType, str]] = {t: c for c, t in ACCOUNT_CHANNELS.items()}
QUOTES_PREFIX: Final = "quotes:"

# --------------------------------------------------------------------------- server messages

_encoder = msgspec.json.Encoder(decimal_format="number")
encode_json = _encoder.encode

EVENT_DATA_TYPES: Final[dict[EventType, type[msgspec.Struct]]] = {
    EventType.ORDER: Order,
    EventType.TRADE: Trade,
    EventType.POSITION: Position,
    EventType.ACCOUNT: AccountSummary,
}
DATA_DECODERS: Final = {
    event_type: msgspec.msgpack.Decoder(data_type)
    for event_type, data_type in EVENT_DATA_TYPES.items()
}
quote_decoder: Final = msgspec.msgpack.Decoder(Quote)


def message(type: str, data: Any = None, **fields: Any) -> str:
    """A server message as JSON text: `type`, the given top-level fields (those not None),
    then `data`."""
    body: dict[str, Any] = {"type": type}
    body.update((k, v) for k, v in fields.items() if v is not None)
    if data is not None:
        body["data"] = data
    return encode_json(body).decode()


def error_message(
    code: str,
    text: str,
    details: dict[str, Any] | None = None,
    *,
    id: RequestId = None,
    account: str | None = None,
) -> str:
    return message(
        "error", {"code": code, "message": text, "details": details or {}}, id=id, account=account
    )


PING: Final = message("ping")


class EncodedEvent:
    """One account event, encoded once per web process for every connection it goes to.

    The message is `{"type", "account", "seq", "data", "prev_seq"}`; `prev_seq` depends on the
    connection (the previous event it was sent for the account), so the text is kept as a
    head that lacks it, plus the full text for the common case `prev_seq == seq - 1`.
    """

    __slots__ = ("account", "contiguous", "head", "seq", "type")

    def __init__(self, account: str, seq: int, type: EventType, data_json: bytes) -> None:
        self.account = account
        self.seq = seq
        self.type = type
        head = b'{"type":"%s","account":%s,"seq":%d,"data":%s,"prev_seq":' % (
            type.value.encode(),
            encode_json(account),
            seq,
            data_json,
        )
        self.head = head.decode()
        self.contiguous = f"{self.head}{seq - 1}}}"

    def text(self, prev_seq: int) -> str:
        if prev_seq == self.seq - 1:
            return self.contiguous
        return f"{self.head}{prev_seq}}}"


_envelope_decoder = msgspec.msgpack.Decoder(AccountEvent)


def decode_envelope(payload: bytes) -> AccountEvent:
    """A published or stored `AccountEvent`, its `data` still raw msgpack."""
    return _envelope_decoder.decode(payload)


def encode_event(event: AccountEvent) -> EncodedEvent:
    """Decode the msgpack `data` into its REST resource type and encode it as JSON."""
    resource = DATA_DECODERS[event.type].decode(event.data)
    return EncodedEvent(event.account, event.seq, event.type, encode_json(resource))


def encode_quote(account: str, payload: bytes) -> str:
    quote = encode_json(quote_decoder.decode(payload)).decode()
    return f'{{"type":"quote","account":{encode_json(account).decode()},"data":{quote}}}'
