"""The request rate limits' sliding window counter, on a clock the test sets."""

from tradebridge.api.window_counter import SWEEP_S, WindowCounter


def test_a_fresh_window_allows_the_amount_then_refuses_and_says_when() -> None:
    counter = WindowCounter(3, 1.0)
    counts = [counter.hit("k", now=10.2) for _ in range(4)]
    assert [c.allowed for c in counts] == [True, True, True, False]
    assert [c.remaining for c in counts] == [2, 1, 0, 0]
    # Three counted in window 10; the next is allowed once window 11 is far enough along
    # that 3 x (1 - into) + 1 <= 3: at 11 + 1/3.
    assert abs(counts[-1].reset_s - (0.8 + 1 / 3)) < 1e-9


def test_the_previous_window_counts_as_much_as_it_still_overlaps() -> None:
    counter = WindowCounter(10, 1.0)
    for _ in range(10):
        assert counter.hit("k", now=5.5).allowed
    # Just into the next window, 95% of the previous 10 still count: 9.5, no room for one
    # more until they are down to 9, a tenth into the window.
    early = counter.hit("k", now=6.05)
    assert (early.allowed, early.remaining) == (False, 0)
    assert abs(early.reset_s - 0.05) < 1e-9
    # Three quarters in, 10 x 0.25 = 2.5 of them count, so 7 more are allowed.
    later = [counter.hit("k", now=6.75) for _ in range(8)]
    assert [c.allowed for c in later] == [True] * 7 + [False]


def test_a_window_two_behind_is_forgotten() -> None:
    counter = WindowCounter(2, 1.0)
    assert counter.hit("k", now=1.1).allowed
    assert counter.hit("k", now=1.2).allowed
    assert not counter.hit("k", now=1.3).allowed
    assert counter.hit("k", now=3.05).remaining == 1  # windows 1 and 2 passed: a fresh count


def test_each_key_has_its_own_count() -> None:
    counter = WindowCounter(1, 1.0)
    assert counter.hit("a", now=1.0).allowed
    assert not counter.hit("a", now=1.0).allowed
    assert counter.hit("b", now=1.0).allowed


def test_counters_of_passed_windows_are_dropped_on_the_way() -> None:
    counter = WindowCounter(5, 1.0)
    for n in range(200):
        counter.hit(f"key-{n}", now=1.0)
    assert counter.hit("key-0", now=1.0 + SWEEP_S / 2).remaining == 3
    counter.hit("fresh", now=4.0)  # windows 1 and 2 are gone, a sweep is due
    assert sorted(counter._windows) == ["fresh"]
