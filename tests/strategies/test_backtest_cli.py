"""`tradebridge strategy backtest`: the report files, and clear errors for bad input."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from tests.conftest import tradebridge_command

EXAMPLES = Path(__file__).parents[2] / "examples"
CSV = EXAMPLES / "data" / "600519.SH-5m.csv"


def backtest(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        tradebridge_command("strategy", "backtest", *args),
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )


def test_a_backtest_writes_its_report_as_json_and_html(tmp_path: Path) -> None:
    strategy = str(EXAMPLES / "ma_cross.py")
    result = backtest(
        tmp_path, strategy, "--from", "2024-01-02", "--to", "2024-01-31", "--bars", str(CSV)
    )
    assert result.returncode == 0, result.stderr
    assert "final equity" in result.stdout
    report = json.loads((tmp_path / "backtests" / "ma-cross" / "report.json").read_text())
    assert (report["strategy"], report["bars"], report["from"]) == ("ma-cross", 1056, "2024-01-02")
    assert report["trades"][0]["client_order_id"].startswith("ma-cross:")
    assert f"{report['final_equity']} CNY" in result.stdout
    page = (tmp_path / "backtests" / "ma-cross" / "report.html").read_text()
    assert '<svg id="equity"' in page
    assert page.count("<tr><td>") == len(report["trades"])
    again = backtest(
        tmp_path,
        strategy,
        "--from",
        "2024-01-02",
        "--to",
        "2024-01-31",
        "--bars",
        str(CSV),
        "--json",
        "--out",
        "second",
    )
    data = json.loads(again.stdout)
    data.pop("run"), report.pop("run")
    assert data == report  # the same bars, the same report


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--from", "2024-13-01", "--to", "2024-01-31"], "--from must be a date YYYY-MM-DD"),
        (
            ["--from", "2024-01-02", "--to", "2024-01-31", "--interval", "2h"],
            "--interval must be one of",
        ),
        (
            ["--from", "2024-01-02", "--to", "2024-01-31", "--symbols", "000858.SZ"],
            "no bars can be generated for 000858.SZ",
        ),
        (["--from", "2024-02-02", "--to", "2024-01-31"], "before --from"),
        (["--from", "2025-01-02", "--to", "2025-01-31", "--bars", str(CSV)], "no bars to replay"),
    ],
)
def test_bad_input_is_refused_with_a_reason(tmp_path: Path, args: list[str], message: str) -> None:
    result = backtest(tmp_path, str(EXAMPLES / "ma_cross.py"), *args)
    assert result.returncode == 2
    assert message in result.stderr
    assert not (tmp_path / "backtests").exists()


def test_a_bad_csv_names_its_line(tmp_path: Path) -> None:
    bars = tmp_path / "bars.csv"
    bars.write_text(
        "symbol,time,open,high,low,close\n"
        "600519.SH,2024-01-02 09:30,1,2,1,1\n"
        "600519.SH,2024-01-02 09:35,1,x,1,1\n"
    )
    result = backtest(
        tmp_path,
        str(EXAMPLES / "ma_cross.py"),
        "--from",
        "2024-01-02",
        "--to",
        "2024-01-02",
        "--bars",
        str(bars),
    )
    assert result.returncode == 2
    assert f"{bars} line 3: a price is not a number" in result.stderr


def test_a_file_without_a_strategy_is_refused(tmp_path: Path) -> None:
    empty = tmp_path / "nothing.py"
    empty.write_text("x = 1\n")
    result = backtest(tmp_path, str(empty), "--from", "2024-01-02", "--to", "2024-01-02")
    assert result.returncode == 2
    assert "defines no subclass of tradebridge_client.strategy.Strategy" in result.stderr
