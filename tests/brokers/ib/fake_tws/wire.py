"""The TWS API socket protocol: the handshake, framing, and field encoding.

Every message is a 4-byte big-endian length and then text fields, each ending in NUL. The
client opens with `API\\0` (unframed) and one framed, unterminated `v<min>..<max>` version
range; the server answers with a framed `serverVersion, connectionTime` pair. Numbers travel
as decimal text, booleans as `0`/`1`, an unset value as the empty string.
"""

import asyncio
import struct
from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

API_SIGN = b"API\0"
UNSET_DOUBLE_TEXT = "1.7976931348623157E308"
"""How TWS writes an unset double (clients also accept the empty string)."""
MAX_MESSAGE = 16 * 1024 * 1024


class ProtocolError(Exception):
    """The peer sent something the TWS protocol does not allow."""


def text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, Decimal):
        return _decimal_text(value)
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _decimal_text(value: Decimal) -> str:
    if value == value.to_integral_value():
        return str(value.quantize(Decimal(1)))
    return format(value.normalize(), "f")


def frame(fields: Iterable[object]) -> bytes:
    payload = "".join(text(field) + "\0" for field in fields).encode()
    return struct.pack(">I", len(payload)) + payload


def handshake_reply(server_version: int, now: datetime | None = None) -> bytes:
    when = (now or datetime.now(UTC)).strftime("%Y%m%d %H:%M:%S UTC")
    return frame([server_version, when])


async def read_handshake(reader: asyncio.StreamReader) -> tuple[int, int, str]:
    """The client's `API\\0` and version range: (min, max, connect options)."""
    sign = await reader.readexactly(len(API_SIGN))
    if sign != API_SIGN:
        raise ProtocolError(f"expected API\\0, got {sign!r}")
    body = (await _read_frame(reader)).decode()
    versions, _, options = body.partition(" ")
    if not versions.startswith("v") or ".." not in versions:
        raise ProtocolError(f"expected a version range v<min>..<max>, got {body!r}")
    low, high = versions[1:].split("..", 1)
    return int(low), int(high), options


async def read_message(reader: asyncio.StreamReader) -> list[str]:
    fields = (await _read_frame(reader)).decode().split("\0")
    if fields[-1] != "":
        raise ProtocolError(f"the last field of {fields[:3]}... is not NUL-terminated")
    fields.pop()
    return fields


async def _read_frame(reader: asyncio.StreamReader) -> bytes:
    (size,) = struct.unpack(">I", await reader.readexactly(4))
    if size > MAX_MESSAGE:
        raise ProtocolError(f"message of {size} bytes")
    return await reader.readexactly(size)


class Cursor:
    """Reads the fields of one client message in order; `done()` checks none is left."""

    def __init__(self, fields: list[str], start: int = 1) -> None:
        self._fields = fields
        self._at = start

    def str(self) -> str:
        if self._at >= len(self._fields):
            raise ProtocolError(f"message {self._fields[0]} ends after {self._at} fields")
        value = self._fields[self._at]
        self._at += 1
        return value

    def int(self) -> int:
        value = self.str()
        try:
            return int(value) if value else 0
        except ValueError:
            raise ProtocolError(f"field {self._at - 1} is not an integer: {value!r}") from None

    def decimal(self) -> Decimal | None:
        """None for an unset number."""
        value = self.str()
        if value in ("", UNSET_DOUBLE_TEXT) or value.lower() == "1.7976931348623157e+308":
            return None
        try:
            return Decimal(value)
        except InvalidOperation:
            raise ProtocolError(f"field {self._at - 1} is not a number: {value!r}") from None

    def bool(self) -> bool:
        return self.int() != 0

    def skip(self, count: int) -> None:
        for _ in range(count):
            self.str()

    def done(self) -> None:
        left = len(self._fields) - self._at
        if left:
            raise ProtocolError(
                f"message {self._fields[0]} has {left} fields more than this server version "
                f"expects: {self._fields[self._at :]}"
            )
