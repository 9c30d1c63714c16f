"""Sortable unique identifiers (ULID layout: 48-bit milliseconds + 80 random bits).

Ids made in one process are strictly increasing, even within a millisecond, so sorting by id
is sorting by creation time.
"""

import os
import threading
import time

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32


_PAIRS = [first + second for first in _ALPHABET for second in _ALPHABET]
"""Every two-character group: ten bits are encoded at a time (ids are made on the order path)."""


def _encode(value: int, length: int) -> str:
    """`value` as `length` (even) base32 characters."""
    pairs = []
    for _ in range(length // 2):
        pairs.append(_PAIRS[value & 1023])
        value >>= 10
    pairs.reverse()
    return "".join(pairs)


class IdGenerator:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last_ms = 0
        self._last_random = 0
        self._time_text = ""
        """`_last_ms`, encoded."""

    def new_id(self) -> str:
        with self._lock:
            now_ms = time.time_ns() // 1_000_000
            if now_ms <= self._last_ms:  # same millisecond (or the clock stepped back)
                self._last_random += 1
            else:
                self._last_random = int.from_bytes(os.urandom(10), "big") >> 1
                self._last_ms = now_ms
                self._time_text = _encode(now_ms, 10)
            return self._time_text + _encode(self._last_random, 16)
