"""LongPort's WebSocket framing and the few protobuf messages the fake speaks, by hand.

Frames (the SDK's `wsclient` codec): a request is `[type=1 | verify<<4 | gzip<<5][cmd u8]
[request_id u32][timeout_ms u16][len u24][body]`, a response `[type=2][cmd][request_id u32]
[status u8][len u24][body]` (status 0 = ok, else body = `qop.error.Error{code, msg}`), a push
`[type=3][cmd][len u24][body]`; all big-endian. Bodies are protobuf (proto3)."""

import struct
from collections.abc import Iterator
from dataclasses import dataclass

REQUEST, RESPONSE, PUSH = 1, 2, 3


@dataclass(frozen=True)
class Request:
    cmd: int
    request_id: int
    body: bytes


def decode_request(frame: bytes) -> Request:
    kind = frame[0] & 0x0F
    if kind != REQUEST:
        raise ValueError(f"not a request packet (type {kind})")
    cmd, request_id, _timeout = struct.unpack(">BIH", frame[1:8])
    length = int.from_bytes(frame[8:11], "big")
    return Request(cmd, request_id, frame[11 : 11 + length])


def response(cmd: int, request_id: int, body: bytes, status: int = 0) -> bytes:
    return bytes([RESPONSE, cmd]) + struct.pack(">IB", request_id, status) + _u24(body) + body


def push(cmd: int, body: bytes) -> bytes:
    return bytes([PUSH, cmd]) + _u24(body) + body


def _u24(body: bytes) -> bytes:
    return len(body).to_bytes(3, "big")


# ---------------------------------------------------------------- protobuf


def _varint(value: int) -> bytes:
    value &= (1 << 64) - 1
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def varint_field(tag: int, value: int) -> bytes:
    return _varint(tag << 3) + _varint(value) if value else b""


def bytes_field(tag: int, value: bytes | str) -> bytes:
    data = value.encode() if isinstance(value, str) else value
    return _varint(tag << 3 | 2) + _varint(len(data)) + data if data else b""


def message_field(tag: int, value: bytes) -> bytes:
    """An embedded message (present even when empty)."""
    return _varint(tag << 3 | 2) + _varint(len(value)) + value


def fields(data: bytes) -> Iterator[tuple[int, int | bytes]]:
    """(tag, value) of each field: ints for varints, bytes for length-delimited ones."""
    at = 0

    def read_varint() -> int:
        nonlocal at
        shift = result = 0
        while True:
            byte = data[at]
            at += 1
            result |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                return result

    while at < len(data):
        key = read_varint()
        tag, kind = key >> 3, key & 7
        if kind == 0:
            yield tag, read_varint()
        elif kind == 2:
            length = read_varint()
            yield tag, data[at : at + length]
            at += length
        elif kind == 1:
            yield tag, data[at : at + 8]
            at += 8
        elif kind == 5:
            yield tag, data[at : at + 4]
            at += 4
        else:
            raise ValueError(f"protobuf wire type {kind} not understood")


def strings(data: bytes, tag: int) -> list[str]:
    return [bytes(v).decode() for t, v in fields(data) if t == tag and isinstance(v, bytes)]


def error(code: int, message: str) -> bytes:
    """`qop.error.Error{code=1 uint64, msg=2 string}`."""
    return varint_field(1, code) + bytes_field(2, message)
