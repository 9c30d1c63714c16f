"""The RPC wire format: shapes on the wire, round trips, and reading bad input safely."""

from __future__ import annotations

import msgspec
import pytest

from tradebridge.domain.enums import RejectReason
from tradebridge.domain.errors import InternalError, OrderRejected, Timeout
from tradebridge.rpc import codec

from .support import Order


def test_messages_are_compact_tagged_arrays() -> None:
    wire = codec.encode_request(7, "orders.place", Order("AAPL", 1, 2.5), 1700000000.25)
    assert msgspec.msgpack.decode(wire) == [
        "req",
        7,
        "orders.place",
        {"symbol": "AAPL", "qty": 1, "price": 2.5},
        1700000000.25,
    ]
    assert msgspec.msgpack.decode(codec.encode_response(7, None)) == ["res", 7, None]
    assert msgspec.msgpack.decode(codec.encode_error(7, "timeout", "slow", {"a": 1})) == [
        "err",
        7,
        ["timeout", "slow", {"a": 1}],
    ]
    assert msgspec.msgpack.decode(codec.encode(codec.Ping(12.5))) == ["ping", 12.5]
    assert msgspec.msgpack.decode(codec.encode(codec.Pong(12.5, 1700000000.5))) == [
        "pong",
        12.5,
        1700000000.5,
    ]


def test_round_trip_keeps_the_body_raw_until_asked() -> None:
    request = codec.decode_message(codec.encode_request(1, "m", Order("X", 2, 3.0), 5.0))
    assert isinstance(request, codec.Request)
    assert (request.id, request.method, request.deadline) == (1, "m", 5.0)
    assert msgspec.msgpack.decode(request.params, type=Order) == Order("X", 2, 3.0)

    response = codec.decode_message(codec.encode_response(2, [1, 2]))
    assert isinstance(response, codec.Response)
    assert msgspec.msgpack.decode(response.result, type=list[int]) == [1, 2]

    assert codec.decode_message(codec.encode(codec.Ping(3.0))) == codec.Ping(3.0)
    assert codec.decode_message(codec.encode(codec.Pong(3.0, 4.0))) == codec.Pong(3.0, 4.0)
    # A request or heartbeat without the timing fields (an older peer) still reads.
    assert codec.decode_message(msgspec.msgpack.encode(["ping"])) == codec.Ping()
    old = codec.decode_message(msgspec.msgpack.encode(["req", 1, "m", None]))
    assert isinstance(old, codec.Request)
    assert old.deadline == float("inf")


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\xc1",
        b"\x93\x01",
        msgspec.msgpack.encode({"id": 1}),
        msgspec.msgpack.encode(["nope", 1]),
        msgspec.msgpack.encode(["req", "1", "m", None]),
        msgspec.msgpack.encode(["res", 1]),
    ],
)
def test_bad_input_is_a_decode_error_and_nothing_else(data: bytes) -> None:
    with pytest.raises(msgspec.DecodeError):
        codec.decode_message(data)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (msgspec.msgpack.encode(["req", 5, 123, None]), 5),
        (msgspec.msgpack.encode(["req", 6]), 6),
        (msgspec.msgpack.encode(["res", 7, None]), None),  # not a request: nobody waits on it
        (msgspec.msgpack.encode(["req", "8"]), None),
        (b"\xc1", None),
        (b"", None),
    ],
)
def test_probe_request_id(data: bytes, expected: int | None) -> None:
    assert codec.probe_request_id(data) == expected


class Leg(msgspec.Struct):
    price: float


class Outer(msgspec.Struct):
    legs: list[Leg]


def test_field_of_validation_messages() -> None:
    with pytest.raises(msgspec.ValidationError) as nested:
        msgspec.msgpack.decode(msgspec.msgpack.encode({"legs": [{"price": "x"}]}), type=Outer)
    assert codec.field_of(nested.value) == "legs[0].price"

    with pytest.raises(msgspec.ValidationError) as root:
        msgspec.msgpack.decode(msgspec.msgpack.encode(1), type=Outer)
    assert codec.field_of(root.value) is None


def test_errors_are_rebuilt_as_the_same_class(monkeypatch: pytest.MonkeyPatch) -> None:
    rejected = codec.error_from_wire(
        codec.ErrorInfo("order_rejected", "no cash", {"reason": "insufficient_funds", "id": 1})
    )
    assert isinstance(rejected, OrderRejected)
    assert rejected.reason is RejectReason.INSUFFICIENT_FUNDS
    assert rejected.details == {"reason": "insufficient_funds", "id": 1}
    assert isinstance(codec.error_from_wire(codec.ErrorInfo("timeout", "t", {})), Timeout)

    unknown = codec.error_from_wire(codec.ErrorInfo("from_the_future", "m", {"a": 1}))
    assert isinstance(unknown, InternalError)
    assert (unknown.message, unknown.details) == ("m", {"a": 1})

    def cannot_rebuild(code: str, message: str, details: dict[str, object]) -> Exception:
        raise ValueError("details this build cannot read")

    # Whatever the rebuilding chokes on, the caller still gets an error, not a hang.
    monkeypatch.setattr(codec, "error_from_code", cannot_rebuild)
    odd = codec.error_from_wire(codec.ErrorInfo("order_rejected", "m", {"reason": "?"}))
    assert isinstance(odd, InternalError)
    assert (odd.message, odd.details) == ("m", {"code": "order_rejected", "reason": "?"})


def test_describe_never_dumps_a_whole_frame() -> None:
    text = codec.describe(b"\x00" * 1_000_000)
    assert text.startswith("1000000 bytes ")
    assert text.endswith("...")
    assert len(text) < 250
    assert codec.describe(b"ab") == "2 bytes b'ab'"
