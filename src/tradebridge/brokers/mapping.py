"""Explicit translation tables between a broker SDK's values and tradebridge's.

Every adapter maps statuses, sides, order types, venues ... through a `Table`, both ways, so a
value the SDK sends that nobody mapped is an error naming it (`UnmappedValue`) instead of a
silent default that would book a wrong status.
"""

from collections.abc import Hashable, Mapping
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V", bound=Hashable)


class UnmappedValue(ValueError):
    """A value with no entry in its table; the message names the table and the value."""


class Table(Generic[K, V]):
    """`to_ours(sdk_value)` and `to_sdk(our_value)` over one mapping.

    `pairs` maps SDK values to ours; several SDK values may map to one of ours (the reverse
    then takes `preferred` for it, or refuses to guess).
    """

    def __init__(self, name: str, pairs: Mapping[K, V], *, preferred: Mapping[V, K] | None = None):
        self.name = name
        self._ours: dict[K, V] = dict(pairs)
        reverse: dict[V, K] = {}
        ambiguous: set[V] = set()
        for sdk_value, ours in self._ours.items():
            if ours in reverse:
                ambiguous.add(ours)
            reverse[ours] = sdk_value
        for ours in ambiguous:
            del reverse[ours]
        reverse.update(preferred or {})
        self._sdk = reverse

    def to_ours(self, sdk_value: K) -> V:
        try:
            return self._ours[sdk_value]
        except KeyError:
            raise UnmappedValue(f"{self.name}: unknown SDK value {sdk_value!r}") from None

    def to_sdk(self, ours: V) -> K:
        try:
            return self._sdk[ours]
        except KeyError:
            raise UnmappedValue(f"{self.name}: no SDK value for {ours!r}") from None

    def knows(self, sdk_value: K) -> bool:
        return sdk_value in self._ours
