"""The tick subscriptions of the vnpy dialect, shared by the web workers through a file."""

from pathlib import Path

from tradebridge.api.compat.vnpy.subscriptions import TickSubscriptions


def test_workers_see_each_others_subscriptions(tmp_path: Path) -> None:
    path = tmp_path / "data" / "vnpy_ticks"
    first, second = TickSubscriptions(path), TickSubscriptions(path)
    assert first.current() == frozenset()
    assert first.add("cu2601.SHFE")
    assert not first.add("cu2601.SHFE")
    assert second.add("600519.SH")
    assert first.current() == {"cu2601.SHFE", "600519.SH"}
    assert not second.add("cu2601.SHFE")
    assert path.read_text().splitlines() == ["cu2601.SHFE", "600519.SH"]


def test_lines_that_are_no_symbols_are_skipped(tmp_path: Path) -> None:
    path = tmp_path / "vnpy_ticks"
    path.write_text("cu2601.SHFE\n6005\n\nAAPL.us\n")
    assert TickSubscriptions(path).current() == {"cu2601.SHFE", "AAPL.US"}


def test_a_deleted_file_starts_over(tmp_path: Path) -> None:
    path = tmp_path / "vnpy_ticks"
    subscriptions = TickSubscriptions(path)
    subscriptions.add("cu2601.SHFE")
    path.unlink()
    assert subscriptions.current() == frozenset()
