"""The simulated time of a paper account.

A paper account runs on the real time shifted forward by an offset. The offset starts at zero
(or at a value restored from storage) and only ever grows: `advance_to` moves the account into
the future (`POST /paper/{id}/clock`), never back, so order and fill times stay in order.
Between advances the time keeps flowing at the real pace.
"""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from tradebridge.domain.errors import ValidationFailed

__all__ = ["PaperClock"]


def _real_now() -> datetime:
    return datetime.now(UTC)


class PaperClock:
    """The simulated time of one paper account: the real time shifted by an offset that only grows.

    `real` returns the real time as an aware datetime (default `datetime.now(UTC)`); tests pass a
    fake. `offset` restores a previously persisted shift (zero or positive).

    `now()` never goes backwards, even if the real clock is stepped back (NTP): it then stands
    still until the real time catches up.
    """

    __slots__ = ("_last", "_offset", "_real")

    def __init__(
        self,
        real: Callable[[], datetime] | None = None,
        *,
        offset: timedelta = timedelta(0),
    ) -> None:
        if offset < timedelta(0):
            raise ValidationFailed(
                f"the paper clock offset cannot be negative (got {offset})",
                {"field": "offset", "value": str(offset)},
            )
        self._real: Callable[[], datetime] = real if real is not None else _real_now
        self._offset = offset
        self._last: datetime | None = None

    @property
    def offset(self) -> timedelta:
        """How far the simulated time is ahead of the real time (persist it to survive restarts)."""
        return self._offset

    def now(self) -> datetime:
        """The simulated time, aware, in UTC."""
        real = self._real()
        if real.tzinfo is None or real.utcoffset() is None:
            raise ValueError("the real-time source of a PaperClock must return aware datetimes")
        current = (real + self._offset).astimezone(UTC)
        if self._last is not None and current < self._last:
            return self._last
        self._last = current
        return current

    def advance_to(self, when: datetime) -> None:
        """Move the simulated time forward to `when` (aware; equal to now() is a no-op).

        Raises `ValidationFailed` (field `to`) if `when` is naive or before the current time.
        """
        if when.tzinfo is None or when.utcoffset() is None:
            raise ValidationFailed(
                f"paper clock target {when.isoformat()!r} has no timezone offset; "
                "give an ISO-8601 time with an offset, e.g. 2026-01-05T09:30:00+08:00",
                {"field": "to", "value": when.isoformat()},
            )
        now = self.now()
        if when < now:
            raise ValidationFailed(
                f"the paper clock only moves forward: {when.isoformat()} is before the "
                f"current paper time {now.isoformat()}",
                {"field": "to", "value": when.isoformat(), "now": now.isoformat()},
            )
        self._offset += when - now
        self._last = when.astimezone(UTC)
