"""The report of a backtest: its figures, as JSON and as an HTML page with an equity chart.

Figures (all from the equity at the end of each trading day, in the account's currency):

- `return`: final equity / initial cash - 1;
- `max_drawdown`: the largest fall from a peak, as a fraction of the peak (0.12 is 12%);
- `sharpe`: mean / standard deviation of the daily returns (the first day's from the
  initial cash) times sqrt(252), with no risk-free rate; null with fewer than two days or
  returns that never vary;
- `fees`: every fee of every fill.

The JSON is the same for the same strategy and bars (the time the replay took is apart,
under `run`).
"""

from __future__ import annotations

import html
import itertools
import math
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec

from tradebridge.strategies.backtest import BacktestOutcome, DayEquity

TRADING_DAYS_PER_YEAR = 252
CHART_WIDTH = 900
CHART_HEIGHT = 300
TABLE_ROWS = 1000
"""The HTML lists at most this many trades (the JSON has them all)."""


@dataclass(frozen=True, slots=True)
class Figures:
    final_equity: Decimal
    total_return: float
    max_drawdown: float
    sharpe: float | None
    fees: Decimal


def figures(outcome: BacktestOutcome) -> Figures:
    equity = [float(day.equity) for day in outcome.days]
    initial = float(outcome.initial_cash)
    final = outcome.days[-1].equity if outcome.days else outcome.initial_cash
    return Figures(
        final_equity=final,
        total_return=float(final) / initial - 1 if initial else 0.0,
        max_drawdown=_max_drawdown(equity),
        sharpe=_sharpe([initial, *equity]),
        fees=sum((trade.fee for trade in outcome.trades), Decimal(0)),
    )


def _max_drawdown(equity: list[float]) -> float:
    peak, worst = -math.inf, 0.0
    for value in equity:
        peak = max(peak, value)
        if peak > 0:
            worst = max(worst, (peak - value) / peak)
    return worst


def _sharpe(equity: list[float]) -> float | None:
    returns = [now / before - 1 for before, now in itertools.pairwise(equity) if before]
    if len(returns) < 2:
        return None
    mean = sum(returns) / len(returns)
    variance = sum((r - mean) ** 2 for r in returns) / (len(returns) - 1)
    if variance <= 0:
        return None
    return mean / math.sqrt(variance) * math.sqrt(TRADING_DAYS_PER_YEAR)


def report(outcome: BacktestOutcome) -> dict[str, Any]:
    """The report as JSON-ready values (money as strings, exact)."""
    result = figures(outcome)
    rejected = Counter(o.reject_reason or "" for o in outcome.orders if o.status == "rejected")
    days = outcome.days
    return {
        "strategy": outcome.strategy,
        "symbols": outcome.symbols,
        "interval": outcome.interval,
        "currency": outcome.currency,
        "from": days[0].day.isoformat() if days else None,
        "to": days[-1].day.isoformat() if days else None,
        "bars": outcome.bars,
        "initial_cash": str(outcome.initial_cash),
        "final_equity": str(result.final_equity),
        "return": round(result.total_return, 6),
        "max_drawdown": round(result.max_drawdown, 6),
        "sharpe": None if result.sharpe is None else round(result.sharpe, 4),
        "fees": str(result.fees),
        "orders": len(outcome.orders),
        "rejected": dict(sorted(rejected.items())),
        "trades": msgspec.to_builtins(outcome.trades),
        "daily_equity": [
            {"date": day.day.isoformat(), "equity": str(day.equity), "cash": str(day.cash)}
            for day in days
        ],
        "adjusted_prices": outcome.adjusted_prices,
        "run": {
            "replay_seconds": round(outcome.replay_seconds, 4),
            "bars_per_second": round(outcome.bars / outcome.replay_seconds)
            if outcome.replay_seconds
            else None,
        },
    }


def write_report(outcome: BacktestOutcome, directory: Path) -> tuple[Path, Path]:
    """`report.json` and `report.html` in `directory` (made if missing); their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    data = report(outcome)
    json_path, html_path = directory / "report.json", directory / "report.html"
    json_path.write_bytes(msgspec.json.format(msgspec.json.encode(data), indent=2) + b"\n")
    html_path.write_text(page(data, outcome.days), encoding="utf-8")
    return json_path, html_path


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.2f}%"


def page(data: dict[str, Any], days: list[DayEquity]) -> str:
    """A self-contained HTML page: the figures, the equity chart (inline SVG), the trades."""
    e = html.escape
    rows = [
        ("strategy", data["strategy"]),
        ("symbols", ", ".join(data["symbols"])),
        ("bars", f"{data['bars']:,} ({data['interval']})"),
        ("period", f"{data['from']} to {data['to']}"),
        ("initial cash", f"{data['initial_cash']} {data['currency']}"),
        ("final equity", f"{data['final_equity']} {data['currency']}"),
        ("return", _percent(data["return"])),
        ("max drawdown", _percent(data["max_drawdown"])),
        ("Sharpe", "–" if data["sharpe"] is None else f"{data['sharpe']:.2f}"),
        ("fees", f"{data['fees']} {data['currency']}"),
        ("orders", f"{data['orders']} ({sum(data['rejected'].values())} rejected)"),
        ("trades", str(len(data["trades"]))),
    ]
    summary = "\n".join(f"<tr><th>{e(k)}</th><td>{e(str(v))}</td></tr>" for k, v in rows)
    trades = "\n".join(
        "<tr>"
        + "".join(
            f"<td>{e(str(t[k]))}</td>"
            for k in ("time", "symbol", "side", "qty", "price", "fee", "order_id")
        )
        + "</tr>"
        for t in data["trades"][:TABLE_ROWS]
    )
    more = len(data["trades"]) - TABLE_ROWS
    note = f"<p>{more} more trades are in report.json.</p>" if more > 0 else ""
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Backtest of {e(data["strategy"])}</title>
<style>
body {{ font: 14px system-ui, sans-serif; margin: 2em; color: #222; }}
table {{ border-collapse: collapse; margin: 1em 0; }}
th, td {{ padding: 2px 10px; text-align: left; border-bottom: 1px solid #ddd; }}
th {{ font-weight: 600; }}
svg {{ background: #fafafa; border: 1px solid #ddd; }}
</style>
</head>
<body>
<h1>Backtest of {e(data["strategy"])}</h1>
<table>
{summary}
</table>
<h2>Equity</h2>
{equity_chart(days)}
<h2>Trades</h2>
<table>
<tr><th>time</th><th>symbol</th><th>side</th><th>qty</th><th>price</th><th>fee</th><th>order</th></tr>
{trades}
</table>
{note}
</body>
</html>
"""


def equity_chart(days: list[DayEquity]) -> str:
    """The daily equity as an SVG line, with its lowest and highest value and the dates."""
    if not days:
        return "<p>No trading day.</p>"
    values = [float(day.equity) for day in days]
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    pad = 40
    width, height = CHART_WIDTH - 2 * pad, CHART_HEIGHT - 2 * pad
    step = width / max(len(values) - 1, 1)
    points = " ".join(
        f"{pad + i * step:.1f},{pad + height - (value - low) / span * height:.1f}"
        for i, value in enumerate(values)
    )
    e = html.escape
    return f"""<svg id="equity" width="{CHART_WIDTH}" height="{CHART_HEIGHT}" \
viewBox="0 0 {CHART_WIDTH} {CHART_HEIGHT}" role="img" aria-label="daily equity">
<polyline fill="none" stroke="#1f6feb" stroke-width="1.5" points="{points}"/>
<text x="{pad}" y="{pad - 10}" font-size="12">{high:,.2f}</text>
<text x="{pad}" y="{pad + height + 20}" font-size="12">{low:,.2f}</text>
<text x="{pad}" y="{CHART_HEIGHT - 4}" font-size="12">{e(days[0].day.isoformat())}</text>
<text x="{CHART_WIDTH - pad}" y="{CHART_HEIGHT - 4}" font-size="12" \
text-anchor="end">{e(days[-1].day.isoformat())}</text>
</svg>"""
