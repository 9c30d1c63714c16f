"""Order ids: ULID layout (48-bit milliseconds, 80 bits that start random), strictly
increasing within a process."""

import itertools
import time

from hypothesis import given
from hypothesis import strategies as st

from tradebridge.ids import IdGenerator, _encode

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def decode(text: str) -> int:
    value = 0
    for char in text:
        value = value * 32 + CROCKFORD.index(char)
    return value


@given(st.integers(min_value=0, max_value=2**80 - 1))
def test_a_value_encodes_to_its_base32_digits(value: int) -> None:
    text = _encode(value, 16)
    assert len(text) == 16
    assert decode(text) == value


def test_ids_are_increasing_and_carry_their_millisecond() -> None:
    generator = IdGenerator()
    before = time.time_ns() // 1_000_000
    ids = [generator.new_id() for _ in range(5000)]
    after = time.time_ns() // 1_000_000
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    assert all(len(i) == 26 and set(i) <= set(CROCKFORD) for i in ids)
    stamps = [decode(i[:10]) for i in ids]
    assert before <= stamps[0] <= stamps[-1] <= after
    # Within one millisecond the rest counts up by one.
    same = [
        (decode(a[10:]), decode(b[10:])) for a, b in itertools.pairwise(ids) if a[:10] == b[:10]
    ]
    assert same
    assert all(second == first + 1 for first, second in same)
