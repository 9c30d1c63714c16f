"""The paper clock: real time plus an offset that only grows."""

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tradebridge.brokers.paper.clock import PaperClock
from tradebridge.domain.errors import ValidationFailed

START = datetime(2026, 11, 18, 1, 0, tzinfo=UTC)


class FakeReal:
    """A real-time source the test moves by hand."""

    def __init__(self, now: datetime = START) -> None:
        self.current = now

    def __call__(self) -> datetime:
        return self.current

    def tick(self, **kwargs: float) -> None:
        self.current += timedelta(**kwargs)


def test_follows_the_real_time_until_advanced() -> None:
    real = FakeReal()
    clock = PaperClock(real)
    assert clock.now() == START
    real.tick(seconds=5)
    assert clock.now() == START + timedelta(seconds=5)
    assert clock.offset == timedelta(0)


def test_advance_then_time_keeps_flowing() -> None:
    real = FakeReal()
    clock = PaperClock(real)
    target = datetime(2026, 11, 19, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    clock.advance_to(target)
    assert clock.now() == target
    assert clock.now().tzinfo is UTC
    assert clock.offset == target - START
    real.tick(minutes=3)
    assert clock.now() == target + timedelta(minutes=3)


def test_advances_accumulate() -> None:
    real = FakeReal()
    clock = PaperClock(real)
    clock.advance_to(START + timedelta(hours=1))
    real.tick(seconds=10)
    clock.advance_to(START + timedelta(days=1))
    assert clock.now() == START + timedelta(days=1)
    assert clock.offset == timedelta(days=1) - timedelta(seconds=10)


def test_advance_to_now_is_a_no_op() -> None:
    clock = PaperClock(FakeReal())
    clock.advance_to(START)
    assert clock.now() == START
    assert clock.offset == timedelta(0)


def test_refuses_going_back() -> None:
    real = FakeReal()
    clock = PaperClock(real)
    clock.advance_to(START + timedelta(hours=2))
    with pytest.raises(ValidationFailed, match="only moves forward") as caught:
        clock.advance_to(START + timedelta(hours=1))
    assert caught.value.details["field"] == "to"
    assert caught.value.code == "validation_error"
    assert clock.now() == START + timedelta(hours=2)  # unchanged


def test_refuses_naive_times() -> None:
    clock = PaperClock(FakeReal())
    with pytest.raises(ValidationFailed, match="timezone") as caught:
        clock.advance_to(datetime(2030, 1, 1, 9, 0))
    assert caught.value.details["field"] == "to"
    assert clock.offset == timedelta(0)


def test_now_is_utc_whatever_the_source_zone() -> None:
    eight = timezone(timedelta(hours=8))
    clock = PaperClock(FakeReal(START.astimezone(eight)))
    assert clock.now() == START
    assert clock.now().tzinfo is UTC


def test_never_goes_back_when_the_real_clock_steps_back() -> None:
    real = FakeReal()
    clock = PaperClock(real)
    real.tick(seconds=30)
    seen = clock.now()
    real.tick(seconds=-20)  # NTP step
    assert clock.now() == seen
    real.tick(seconds=25)
    assert clock.now() == seen + timedelta(seconds=5)


def test_restores_a_saved_offset_and_refuses_a_negative_one() -> None:
    clock = PaperClock(FakeReal(), offset=timedelta(days=2))
    assert clock.now() == START + timedelta(days=2)
    with pytest.raises(ValidationFailed, match="negative"):
        PaperClock(FakeReal(), offset=timedelta(seconds=-1))


def test_naive_real_source_is_a_programming_error() -> None:
    clock = PaperClock(lambda: datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="aware"):
        clock.now()


def test_default_source_is_the_real_utc_time() -> None:
    clock = PaperClock()
    before = datetime.now(UTC)
    now = clock.now()
    after = datetime.now(UTC)
    assert before <= now <= after
    assert now.tzinfo is UTC


STEPS = st.lists(
    st.one_of(
        st.tuples(st.just("real"), st.integers(-60, 3_600)),
        st.tuples(st.just("advance"), st.integers(-3_600, 86_400 * 10)),
    ),
    max_size=30,
)


@settings(max_examples=200, deadline=None)
@given(steps=STEPS)
def test_now_and_offset_never_decrease(steps: list[tuple[str, int]]) -> None:
    real = FakeReal()
    clock = PaperClock(real)
    last_now, last_offset = clock.now(), clock.offset
    for kind, seconds in steps:
        if kind == "real":
            real.tick(seconds=seconds)
        else:
            target = clock.now() + timedelta(seconds=seconds)
            if seconds < 0:
                with pytest.raises(ValidationFailed):
                    clock.advance_to(target)
            else:
                clock.advance_to(target)
                assert clock.now() == target
        now = clock.now()
        assert now >= last_now
        assert clock.offset >= last_offset
        last_now, last_offset = now, clock.offset
