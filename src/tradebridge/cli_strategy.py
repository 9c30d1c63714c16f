"""`tradebridge strategy run|backtest|list|start|stop`: a strategy file run live through the
client, backtested on the paper broker's rules, or hosted by the server."""

from __future__ import annotations

import hashlib
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer
from rich.table import Table

from tradebridge.cli_trade import (
    AccountOption,
    JsonOption,
    KeyOption,
    ProfileOption,
    Target,
    UrlOption,
    _account,
    _fail,
    _out,
    _print_json,
    config_path,
    connected,
    target,
)

if TYPE_CHECKING:
    from tradebridge.brokers.paper.config import PaperSettings
    from tradebridge.brokers.paper.sessions import MarketHours
    from tradebridge_client.models import Bar
    from tradebridge_client.strategy import Interval, Strategy

strategy_app = typer.Typer(
    no_args_is_help=True, help="Run a strategy live, backtest it, or manage hosted ones."
)

FileArgument = Annotated[Path, typer.Argument(help="A Python file defining a Strategy subclass.")]
ClassOption = Annotated[
    str | None,
    typer.Option(
        "--class", help="The Strategy subclass, where the file has several.", show_default=False
    ),
]


def register(app: typer.Typer) -> None:
    app.add_typer(strategy_app, name="strategy")


def _load(file: Path, class_name: str | None) -> Strategy:
    from tradebridge_client.strategy import load_strategy

    try:
        return load_strategy(file, class_name)
    except ValueError as bad:
        _fail(str(bad), 2)


def default_state_file(name: str, account: str, url: str) -> Path:
    """Where a live run keeps its state unless told: the user's config dir, one file per
    strategy, account and server."""
    where = hashlib.blake2b(f"{url}|{account}".encode(), digest_size=4).hexdigest()
    return config_path().parent / "strategies" / f"{name}-{account}-{where}.json"


@strategy_app.command("run")
def run(
    file: FileArgument,
    account: AccountOption = None,
    class_name: ClassOption = None,
    state: Annotated[
        Path | None,
        typer.Option(
            "--state",
            help="The run's state file (what lets a restart go on without doubling orders); "
            "default: in the user's config dir.",
            show_default=False,
        ),
    ] = None,
    name: Annotated[
        str | None,
        typer.Option(
            "--name",
            help="Run it under this name (its client_order_ids start with it).",
            show_default=False,
        ),
    ] = None,
    url: UrlOption = None,
    api_key: KeyOption = None,
    profile: ProfileOption = None,
) -> None:
    """Run a strategy live (a paper account or a real one) until stopped (Ctrl-C, SIGTERM)."""
    from tradebridge_client.live import LiveRunner
    from tradebridge_client.strategy import strategy_name

    strategy = _load(file, class_name)
    if name is not None:
        strategy.name = name
    try:
        named = strategy_name(strategy)
    except ValueError as bad:
        _fail(str(bad), 2)
    where = target(url, api_key, profile, account)
    with connected(where) as client:
        on = _account(client, where)
        state_file = state or default_state_file(named, on, where.url)
        typer.echo(
            f"running {named} ({file}) on {on} at {where.url}; state in {state_file}", err=True
        )
        LiveRunner(strategy, client, on, state_file=state_file).run()


@strategy_app.command("backtest")
def backtest(
    file: FileArgument,
    start: Annotated[str, typer.Option("--from", help="First trading date, YYYY-MM-DD.")],
    end: Annotated[str, typer.Option("--to", help="Last trading date, YYYY-MM-DD.")],
    bars: Annotated[
        Path | None,
        typer.Option("--bars", help="A CSV file of bars (see the README).", show_default=False),
    ] = None,
    symbols: Annotated[
        str | None,
        typer.Option(
            "--symbols",
            help="Comma-separated: generate seeded bars of these (default: the strategy's), "
            "when no --bars is given.",
            show_default=False,
        ),
    ] = None,
    interval: Annotated[
        str | None, typer.Option(help="1m, 5m or 1d (default: the strategy's).", show_default=False)
    ] = None,
    cash: Annotated[Decimal, typer.Option(help="Starting cash.")] = Decimal(1_000_000),
    hours: Annotated[
        str, typer.Option(help="exchange (sessions and holidays) or always_open.")
    ] = "exchange",
    seed: Annotated[int, typer.Option(help="Seed of generated bars.")] = 42,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            help="A tradebridge config: fees and contracts of its paper account.",
            show_default=False,
        ),
    ] = None,
    account: AccountOption = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Directory of report.json and report.html.", show_default=False),
    ] = None,
    class_name: ClassOption = None,
    as_json: JsonOption = False,
) -> None:
    """Backtest a strategy on the paper broker's rules and write a report.

    Bars are replayed through the strategy under the paper broker's lots, T+1, price limits,
    fees and sessions; the report is a JSON file and an HTML page with the equity chart."""
    from tradebridge.brokers.paper.config import PaperSettings
    from tradebridge.strategies.backtest import BacktestSettings, run_backtest
    from tradebridge.strategies.bar_data import BarDataError
    from tradebridge.strategies.report import report, write_report
    from tradebridge_client.strategy import strategy_name

    strategy = _load(file, class_name)
    chosen = _interval(interval or strategy.interval)
    market_hours = _hours(hours)
    first, last = _date(start, "--from"), _date(end, "--to")
    paper = _paper_settings(config, account) if config else PaperSettings()
    try:
        loaded = _bars(bars, symbols, strategy, chosen, first, last, seed, market_hours, paper)
        outcome = run_backtest(
            strategy,
            loaded,
            BacktestSettings(interval=chosen, cash=cash, market_hours=market_hours, paper=paper),
        )
    except BarDataError as bad:
        _fail(str(bad), 2)
    directory = out or Path("backtests") / strategy_name(strategy)
    json_path, html_path = write_report(outcome, directory)
    data = report(outcome)
    if as_json:
        _print_json(data)
        return
    table = Table(show_header=False, title=f"backtest of {data['strategy']}")
    rows = [
        ("period", f"{data['from']} to {data['to']}"),
        ("bars", f"{data['bars']:,} ({data['interval']})"),
        ("final equity", f"{data['final_equity']} {data['currency']}"),
        ("return", f"{data['return'] * 100:.2f}%"),
        ("max drawdown", f"{data['max_drawdown'] * 100:.2f}%"),
        ("Sharpe", "" if data["sharpe"] is None else f"{data['sharpe']:.2f}"),
        ("fees", f"{data['fees']} {data['currency']}"),
        ("orders", f"{data['orders']} ({sum(data['rejected'].values())} rejected)"),
        ("trades", str(len(data["trades"]))),
        ("replay", f"{data['run']['bars_per_second']:,} bars/s"),
    ]
    for label, value in rows:
        table.add_row(label, value)
    _out().print(table)
    typer.echo(f"report: {json_path} and {html_path}")


def _interval(text: str) -> Interval:
    from tradebridge_client.strategy import INTERVALS

    for known in INTERVALS:
        if text == known:
            return known
    _fail(f"--interval must be one of {', '.join(INTERVALS)}, not {text!r}", 2)


def _hours(text: str) -> MarketHours:
    if text == "exchange":
        return "exchange"
    if text == "always_open":
        return "always_open"
    _fail(f"--hours must be exchange or always_open, not {text!r}", 2)


def _date(text: str, option: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        _fail(f"{option} must be a date YYYY-MM-DD, not {text!r}", 2)


def _paper_settings(config: Path, account: str | None) -> PaperSettings:
    """The `[accounts.paper]` settings of a paper account of a tradebridge config."""
    from tradebridge.config import ConfigError, PaperAccount, load_settings

    try:
        settings = load_settings(config)
    except ConfigError as bad:
        _fail(str(bad), 2)
    for candidate in settings.accounts:
        if isinstance(candidate, PaperAccount) and account in (None, candidate.id):
            return candidate.paper
    _fail(f"{config} has no paper account{' ' + account if account else ''}", 2)


def _bars(
    csv: Path | None,
    symbols: str | None,
    strategy: Strategy,
    interval: Interval,
    first: date,
    last: date,
    seed: int,
    hours: MarketHours,
    paper: PaperSettings,
) -> list[Bar]:
    """The bars of the CSV file from `first` to `last`, or generated ones."""
    from tradebridge.brokers.paper.sessions import Sessions
    from tradebridge.brokers.paper.universe import build_universe
    from tradebridge.domain.errors import ValidationFailed
    from tradebridge.domain.symbols import parse_symbol
    from tradebridge.strategies.bar_data import BarDataError, between, generate, read_csv

    if csv is not None:
        if symbols is not None:
            _fail("give --bars or --symbols, not both", 2)
        return between(read_csv(csv, interval), interval, first, last)
    wanted = symbols.split(",") if symbols else list(strategy.symbols)
    try:
        parsed = [parse_symbol(s) for s in wanted if s.strip()]
    except ValidationFailed as bad:
        _fail(bad.message, 2)
    universe = build_universe(paper.contracts)
    unknown = [s for s in parsed if s not in universe]
    if unknown:
        raise BarDataError(
            f"no bars can be generated for {', '.join(unknown)}: not in the paper broker's "
            "universe (give a CSV with --bars, or add the contract in --config)"
        )
    contracts = [universe[s].contract for s in parsed]
    return generate(contracts, interval, first, last, seed=seed, sessions=Sessions(hours))


@strategy_app.command("list")
def list_hosted(
    url: UrlOption = None,
    api_key: KeyOption = None,
    profile: ProfileOption = None,
    as_json: JsonOption = False,
) -> None:
    """The strategies the server hosts, and their state."""
    where = target(url, api_key, profile, None)
    with connected(where) as client:
        found = client.strategies()
    if as_json:
        _print_json(found)
        return
    table = Table("name", "file", "account", "state", "pid", "restarts", "started", "last exit")
    for s in found:
        table.add_row(
            s.name,
            s.file,
            s.account,
            s.state,
            str(s.pid or ""),
            str(s.restarts),
            s.started_at.isoformat(timespec="seconds") if s.started_at else "",
            s.last_exit or "",
        )
    _out().print(table)


def _hosted(action: Literal["start", "stop"], name: str, where: Target, as_json: bool) -> None:
    with connected(where) as client:
        info = client.start_strategy(name) if action == "start" else client.stop_strategy(name)
    if as_json:
        _print_json(info)
    else:
        typer.echo(f"{info.name}: {info.state}" + (f" (pid {info.pid})" if info.pid else ""))


@strategy_app.command("start")
def start_hosted(
    name: str,
    url: UrlOption = None,
    api_key: KeyOption = None,
    profile: ProfileOption = None,
    as_json: JsonOption = False,
) -> None:
    """Start a hosted strategy (admins)."""
    _hosted("start", name, target(url, api_key, profile, None), as_json)


@strategy_app.command("stop")
def stop_hosted(
    name: str,
    url: UrlOption = None,
    api_key: KeyOption = None,
    profile: ProfileOption = None,
    as_json: JsonOption = False,
) -> None:
    """Stop a hosted strategy (admins); it stays stopped until started again."""
    _hosted("stop", name, target(url, api_key, profile, None), as_json)
