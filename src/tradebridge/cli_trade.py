"""Trading from the command line: `tradebridge buy|sell|cancel|orders|positions|balance|quote|
watch|login`, talking to a running server over HTTP through the Python client.

Where to connect: `--url` and `--api-key` (or `TRADEBRIDGE_URL`, `TRADEBRIDGE_API_KEY`), else
a profile of the user's config file (`~/.config/tradebridge/config.toml`, or under
`$XDG_CONFIG_HOME`), which `tradebridge login` writes:

```toml
[profiles.default]
url = "http://127.0.0.1:8000"
api_key = "tb_..."
account = "paper"          # the account commands use when not given --account
```

`--profile NAME` (or `TRADEBRIDGE_PROFILE`) picks another profile than `default`. Results are
tables, or JSON with `--json` (the API's own field names and values). A refused order exits
with status 1 and says why; a server that cannot be reached, with status 3.
"""

from __future__ import annotations

import getpass
import os
import sys
import threading
import time
import tomllib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, NoReturn

import msgspec
import typer
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table

from tradebridge_client import (
    AccountEvent,
    AccountSummary,
    Client,
    ConnectionFailed,
    Order,
    OrderRejected,
    Position,
    Quote,
    QuoteEvent,
    TradebridgeError,
)
from tradebridge_client.routes import OrderFilter

DEFAULT_URL = "http://127.0.0.1:8000"
PROFILE = "default"
EXIT_REFUSED = 1
EXIT_UNREACHABLE = 3

err = Console(stderr=True)

UrlOption = Annotated[
    str | None,
    typer.Option("--url", help="The server.", envvar="TRADEBRIDGE_URL", show_default=False),
]
KeyOption = Annotated[
    str | None,
    typer.Option("--api-key", help="An API key.", envvar="TRADEBRIDGE_API_KEY", show_default=False),
]
ProfileOption = Annotated[
    str | None,
    typer.Option(
        "--profile",
        help="A profile of the config file.",
        envvar="TRADEBRIDGE_PROFILE",
        show_default=False,
    ),
]
AccountOption = Annotated[
    str | None,
    typer.Option(
        "--account",
        "-a",
        help="The account (default: the profile's, or the first).",
        show_default=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def config_path() -> Path:
    """The user's config file of the trader commands."""
    return Path(typer.get_app_dir("tradebridge")) / "config.toml"


@dataclass(frozen=True, slots=True)
class Target:
    """Where a command connects, as the options and the profile say."""

    url: str
    api_key: str | None
    account: str | None


def _profile(name: str) -> dict[str, Any]:
    path = config_path()
    if not path.exists():
        return {}
    try:
        profiles = tomllib.loads(path.read_text()).get("profiles", {})
    except tomllib.TOMLDecodeError as bad:
        _fail(f"{path}: {bad}", 2)
    profile = profiles.get(name)
    if profile is None and name != PROFILE:
        _fail(f"no profile {name!r} in {path}", 2)
    return dict(profile or {})


def target(
    url: str | None, api_key: str | None, profile: str | None, account: str | None
) -> Target:
    settings = _profile(profile or PROFILE)
    key = api_key or settings.get("api_key")
    key_file = settings.get("api_key_file")
    if key is None and key_file:
        key = Path(key_file).expanduser().read_text().strip()
    return Target(
        url=url or settings.get("url") or DEFAULT_URL,
        api_key=key,
        account=account or settings.get("account"),
    )


def _fail(message: str, status: int = EXIT_REFUSED) -> NoReturn:
    err.print(f"error: {message}", markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(status)


@contextmanager
def connected(where: Target) -> Iterator[Client]:
    """A client of the server, its errors turned into a line and an exit status."""
    if where.api_key is None:
        _fail(
            f"no API key for {where.url}: give --api-key, set TRADEBRIDGE_API_KEY, "
            "or run `tradebridge login`",
            2,
        )
    try:
        with Client(where.url, api_key=where.api_key) as client:
            yield client
    except OrderRejected as refused:
        _fail(f"order rejected ({refused.reason}): {refused.message}")
    except ConnectionFailed as failed:
        _fail(
            f"cannot reach {where.url} ({failed.details.get('error', 'no answer')})",
            EXIT_UNREACHABLE,
        )
    except TradebridgeError as failed:
        _fail(str(failed))


def _account(client: Client, where: Target) -> str:
    if where.account is not None:
        return where.account
    accounts = client.accounts()
    if not accounts:
        _fail("the server has no account this key may use")
    return accounts[0].id


def _print_json(value: Any) -> None:
    typer.echo(msgspec.json.format(msgspec.json.encode(value), indent=2).decode())


def _out() -> Console:
    return Console() if sys.stdout.isatty() else Console(width=200)


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    return str(value)


def orders_table(orders: Sequence[Order], title: str | None = None) -> Table:
    table = Table(
        "id",
        "time",
        "symbol",
        "side",
        "offset",
        "qty",
        "type",
        "price",
        "filled",
        "avg",
        "status",
        "reason",
        title=title,
    )
    for o in orders:
        table.add_row(
            o.id,
            _text(o.created_at),
            o.symbol,
            o.side,
            _text(o.offset),
            str(o.qty),
            o.type,
            _text(o.limit_price),
            str(o.filled_qty),
            _text(o.avg_fill_price),
            o.status,
            _text(o.reject_reason),
        )
    return table


def positions_table(positions: Sequence[Position], title: str | None = None) -> Table:
    table = Table(
        "symbol",
        "direction",
        "qty",
        "available",
        "avg cost",
        "last",
        "value",
        "unrealized",
        "currency",
        title=title,
    )
    for p in positions:
        table.add_row(
            p.symbol,
            _text(p.direction),
            str(p.qty),
            str(p.available_qty),
            str(p.avg_cost),
            str(p.last_price),
            str(p.market_value),
            str(p.unrealized_pnl),
            p.currency,
        )
    return table


def quotes_table(quotes: Sequence[Quote], title: str | None = None) -> Table:
    table = Table(
        "symbol", "last", "bid", "ask", "bid size", "ask size", "pre close", "time", title=title
    )
    for q in quotes:
        table.add_row(
            q.symbol,
            str(q.last),
            _text(q.bid),
            _text(q.ask),
            str(q.bid_size),
            str(q.ask_size),
            _text(q.pre_close),
            _text(q.time),
        )
    return table


def balance_table(summary: AccountSummary) -> Group:
    totals = Table(
        "account",
        "currency",
        "equity",
        "cash",
        "available",
        "frozen",
        "market value",
        "realized",
        "unrealized",
    )
    totals.add_row(
        summary.account,
        summary.currency,
        str(summary.equity),
        str(summary.cash),
        str(summary.available),
        str(summary.frozen),
        str(summary.market_value),
        str(summary.realized_pnl),
        str(summary.unrealized_pnl),
    )
    each = Table("currency", "cash", "available", "frozen", title="by currency")
    for b in summary.balances:
        each.add_row(b.currency, str(b.cash), str(b.available), str(b.frozen))
    return Group(totals, each)


def _order(
    side: str,
    symbol: str,
    qty: int,
    limit: Decimal | None,
    tif: str,
    offset: str | None,
    client_order_id: str | None,
    where: Target,
    as_json: bool,
) -> None:
    with connected(where) as client:
        order = client.place_order(
            _account(client, where),
            symbol,
            side,
            qty,
            limit_price=limit,
            time_in_force=tif,
            offset=offset,
            client_order_id=client_order_id,
        )
    if as_json:
        _print_json(order)
    else:
        _out().print(orders_table([order]))


def register(app: typer.Typer) -> None:
    """Add the trader commands to the `tradebridge` command."""

    def order_command(side: str) -> Callable[..., None]:
        def command(
            symbol: Annotated[str, typer.Argument(help="e.g. 600519.SH")],
            qty: Annotated[int, typer.Argument(help="Shares, or lots of a futures contract.")],
            limit: Annotated[
                Decimal | None,
                typer.Option(
                    "--limit", help="Limit price; without it, a market order.", show_default=False
                ),
            ] = None,
            tif: Annotated[str, typer.Option("--tif", help="day, gtc, ioc or fok.")] = "day",
            offset: Annotated[
                str | None,
                typer.Option(
                    help="Futures: open, close, close_today or close_yesterday.", show_default=False
                ),
            ] = None,
            client_order_id: Annotated[
                str | None,
                typer.Option(
                    help="Your id of the order: sending it again never places a second one.",
                    show_default=False,
                ),
            ] = None,
            account: AccountOption = None,
            url: UrlOption = None,
            api_key: KeyOption = None,
            profile: ProfileOption = None,
            as_json: JsonOption = False,
        ) -> None:
            _order(
                side,
                symbol,
                qty,
                limit,
                tif,
                offset,
                client_order_id,
                target(url, api_key, profile, account),
                as_json,
            )

        command.__doc__ = f"Place a {side} order (a limit order with --limit, else a market order)."
        return command

    app.command("buy")(order_command("buy"))
    app.command("sell")(order_command("sell"))

    @app.command("cancel")
    def cancel(
        order_id: Annotated[
            str | None, typer.Argument(metavar="[ID]", help="The order to cancel.")
        ] = None,
        cancel_all: Annotated[bool, typer.Option("--all", help="Cancel every open order.")] = False,
        account: AccountOption = None,
        url: UrlOption = None,
        api_key: KeyOption = None,
        profile: ProfileOption = None,
        as_json: JsonOption = False,
    ) -> None:
        """Cancel an order by its id, or every open order with --all."""
        if (order_id is None) == (not cancel_all):
            _fail("give an order id or --all", 2)
        where = target(url, api_key, profile, account)
        with connected(where) as client:
            name = _account(client, where)
            if order_id is not None:
                canceled = [client.cancel_order(name, order_id)]
            else:
                canceled = client.cancel_all(name)
        if as_json:
            _print_json(canceled)
        else:
            _out().print(orders_table(canceled))

    @app.command("orders")
    def orders(
        status: Annotated[str, typer.Option(help="open, closed or all.")] = "all",
        symbol: Annotated[
            str | None, typer.Option(help="Only this symbol.", show_default=False)
        ] = None,
        limit: Annotated[int, typer.Option(help="At most this many, the latest.")] = 100,
        account: AccountOption = None,
        url: UrlOption = None,
        api_key: KeyOption = None,
        profile: ProfileOption = None,
        as_json: JsonOption = False,
    ) -> None:
        """List orders, oldest first."""
        filters: dict[str, OrderFilter] = {"open": "open", "closed": "closed", "all": "all"}
        if status not in filters:
            _fail(f"--status must be open, closed or all, not {status!r}", 2)
        where = target(url, api_key, profile, account)
        with connected(where) as client:
            name = _account(client, where)
            found = client.orders(name, status=filters[status], symbol=symbol, limit=limit)
        if as_json:
            _print_json(found)
        else:
            _out().print(orders_table(found))

    @app.command("positions")
    def positions(
        account: AccountOption = None,
        url: UrlOption = None,
        api_key: KeyOption = None,
        profile: ProfileOption = None,
        as_json: JsonOption = False,
    ) -> None:
        """List the account's positions."""
        where = target(url, api_key, profile, account)
        with connected(where) as client:
            found = client.positions(_account(client, where))
        if as_json:
            _print_json(found)
        else:
            _out().print(positions_table(found))

    @app.command("balance")
    def balance(
        account: AccountOption = None,
        url: UrlOption = None,
        api_key: KeyOption = None,
        profile: ProfileOption = None,
        as_json: JsonOption = False,
    ) -> None:
        """Show the account's balance: totals in its base currency, then per currency."""
        where = target(url, api_key, profile, account)
        with connected(where) as client:
            summary = client.balance(_account(client, where))
        if as_json:
            _print_json(summary)
        else:
            _out().print(balance_table(summary))

    @app.command("quote")
    def quote(
        symbols: Annotated[list[str], typer.Argument(help="One or more symbols.")],
        account: AccountOption = None,
        url: UrlOption = None,
        api_key: KeyOption = None,
        profile: ProfileOption = None,
        as_json: JsonOption = False,
    ) -> None:
        """Show quote snapshots."""
        where = target(url, api_key, profile, account)
        with connected(where) as client:
            found = client.quotes(symbols, account=_account(client, where))
        if as_json:
            _print_json(found)
        else:
            _out().print(quotes_table(found))

    @app.command("watch")
    def watch(
        symbols: Annotated[
            list[str] | None,
            typer.Argument(
                help="Quotes to show (default: those of the positions and open orders).",
                show_default=False,
            ),
        ] = None,
        seconds: Annotated[
            float | None,
            typer.Option(
                "--for",
                help="Stop after this many seconds (default: at Ctrl-C).",
                show_default=False,
            ),
        ] = None,
        account: AccountOption = None,
        url: UrlOption = None,
        api_key: KeyOption = None,
        profile: ProfileOption = None,
    ) -> None:
        """A live table of the open orders, the positions and quotes.

        It is kept current from the server's stream."""
        where = target(url, api_key, profile, account)
        with connected(where) as client:
            _watch(client, _account(client, where), symbols or [], seconds)

    @app.command("login")
    def login(
        url: Annotated[
            str, typer.Option("--url", help="The server.", envvar="TRADEBRIDGE_URL")
        ] = DEFAULT_URL,
        username: Annotated[str, typer.Option("--user", help="Your user name.", prompt=True)] = "",
        scopes: Annotated[str, typer.Option(help="Scopes of the new key.")] = "read,trade",
        account: AccountOption = None,
        profile: ProfileOption = None,
        password_stdin: Annotated[
            bool, typer.Option("--password-stdin", help="Read the password from stdin.")
        ] = False,
    ) -> None:
        """Log in, create an API key for the trader commands and save it as a profile.

        The profile (the URL, the account and the key) goes into the config file, readable
        by you only."""
        password = (
            sys.stdin.readline().rstrip("\n") if password_stdin else getpass.getpass("Password: ")
        )
        wanted = [s.strip() for s in scopes.split(",") if s.strip()]
        try:
            with Client(url, username=username, password=password) as client:
                key = client.create_key(wanted, account=account)
        except ConnectionFailed:
            _fail(f"cannot reach {url}", EXIT_UNREACHABLE)
        except TradebridgeError as failed:
            _fail(str(failed))
        path = save_profile(
            profile or PROFILE, {"url": url, "api_key": key.key, "account": account}
        )
        scope_list = ",".join(key.scopes)
        typer.echo(
            f"API key {key.id} ({scope_list}) saved as profile {profile or PROFILE} in {path}"
        )


def save_profile(name: str, values: dict[str, str | None]) -> Path:
    """Write profile `name` into the config file (mode 0600), keeping the other profiles."""
    path = config_path()
    profiles: dict[str, dict[str, str]] = {}
    if path.exists():
        profiles = tomllib.loads(path.read_text()).get("profiles", {})
    profiles[name] = {k: v for k, v in values.items() if v is not None}
    lines: list[str] = []
    for profile, settings in profiles.items():
        lines.append(f"[profiles.{_toml_key(profile)}]")
        lines += [f"{k} = {_toml_string(str(v))}" for k, v in settings.items()]
        lines.append("")
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write("\n".join(lines))
    path.chmod(0o600)
    return path


def _toml_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _toml_key(name: str) -> str:
    return name if name.replace("-", "").replace("_", "").isalnum() else _toml_string(name)


# --------------------------------------------------------------------------- watch

REFRESH_PER_SECOND = 4


def _watch(client: Client, account: str, symbols: list[str], seconds: float | None) -> None:
    orders = {o.id: o for o in client.orders(account, status="open", limit=1000)}
    held = {(p.symbol, p.direction): p for p in client.positions(account)}
    wanted = list(
        dict.fromkeys(
            [*symbols, *(p.symbol for p in held.values()), *(o.symbol for o in orders.values())]
        )
    )
    quotes = {q.symbol: q for q in client.quotes(wanted, account=account)} if wanted else {}

    def view() -> Group:
        open_orders = sorted((o for o in orders.values() if o.status.is_open), key=lambda o: o.id)
        shown = [p for p in held.values() if p.qty != 0]
        return Group(
            orders_table(open_orders, title=f"open orders of {account}"),
            positions_table(shown, title="positions"),
            quotes_table([quotes[s] for s in wanted if s in quotes], title="quotes"),
        )

    deadline = None if seconds is None else time.monotonic() + seconds
    stream = client.stream(account, quotes=wanted)
    console = _out()
    with (
        stream,
        Live(
            view(), console=console, refresh_per_second=REFRESH_PER_SECOND, transient=False
        ) as live,
    ):
        if deadline is not None:
            _close_at(stream, deadline)
        try:
            for event in stream:
                if isinstance(event, QuoteEvent):
                    quotes[event.quote.symbol] = event.quote
                elif isinstance(event, AccountEvent):
                    data = event.data
                    if isinstance(data, Order):
                        orders[data.id] = data
                    elif isinstance(data, Position):
                        held[(data.symbol, data.direction)] = data
                live.update(view())
        except KeyboardInterrupt:
            pass
        live.update(view())


def _close_at(stream: Any, deadline: float) -> None:
    timer = threading.Timer(max(deadline - time.monotonic(), 0), stream.close)
    timer.daemon = True
    timer.start()
