"""Nothing lost: SIGKILL the engine (or the web process) of `tradebridge serve` while a client
streams orders, and check the book afterwards.

The client retries every order unchanged after a 5xx answer or a connection error, so each
order it sent is acknowledged once in the end. Afterwards every client id must be exactly one
order, every order filled once, cash the start minus what the fills cost to the cent, and
each position what its fills bought. Kills happen at counts of acknowledged orders, never at
wall-clock times; every wait has a generous deadline.
"""

from decimal import Decimal
from pathlib import Path

from tests.conftest import Server
from tests.e2e.crash_support import (
    ORDERS,
    START_CASH,
    Book,
    Json,
    OrderStream,
    assert_cash_and_positions,
    assert_each_client_id_once,
    assert_filled_once,
    crash_server,
    kill_child,
    paged,
    serve_children,
    wait_all_terminal,
    wait_replaced,
    wait_until,
)

STREAMED = 200
ENGINE_KILLS_AT = (40, 100, 160)
"""Acknowledged-order counts at which the engine is killed."""
WEB_KILLS_AT = (60, 140)

# Market buys of a few CN stocks and ETFs (board lots of 100) and a US stock (lot 1), small
# against the displayed depth, so each one fills whole at once; 200 of them cost about
# 720,000 of the 1,000,000 CNY (one CN buy over 20,000 CNY pays more than the minimum
# commission).
MARKET_BUYS: tuple[tuple[str, int], ...] = (
    ("000001.SZ", 100),
    ("510300.SH", 200),
    ("AAPL.US", 1),
    ("000001.SZ", 200),
    ("601318.SH", 400),
    ("AAPL.US", 3),
)


def market_buys(prefix: str, count: int) -> list[Json]:
    bodies = []
    for i in range(count):
        symbol, qty = MARKET_BUYS[i % len(MARKET_BUYS)]
        client_order_id = f"{prefix}-{i:04d}"
        bodies.append(
            {"symbol": symbol, "side": "buy", "qty": qty, "type": "market"}
            | {"client_order_id": client_order_id}
        )
    return bodies


def stream_and_kill(
    server: Server, bodies: list[Json], role: str, at: tuple[int, ...]
) -> tuple[OrderStream, list[int]]:
    """Stream `bodies`, SIGKILLing serve's `role` child each time the acknowledged orders
    reach a count of `at`; wait until a new child answers. The stream and the killed pids."""
    killed: list[int] = []

    def kill() -> None:
        killed.append(kill_child(server, role))

    stream = OrderStream(server, server.login(), bodies, at_acked=dict.fromkeys(at, kill))
    stream.run()
    assert len(killed) == len(at)
    assert stream.retried_errors, "no request failed: the kills missed the stream"
    wait_replaced(server, role, set(killed))
    return stream, killed


def assert_replaced_by_supervisor(server: Server, role: str, killed: list[int]) -> None:
    assert server.process.poll() is None, "serve itself died"
    assert serve_children(server)[role] not in killed
    restarts = server.output().count(f"{role} killed by SIGKILL; restarting")
    assert restarts == len(killed), f"serve logged {restarts} restarts for {len(killed)} kills"


def settled_book(server: Server) -> Book:
    with server.client(server.login()) as client:
        wait_all_terminal(server, client)
        return Book.read(client)


def test_engine_killed_mid_stream_loses_nothing(tmp_path: Path, database_url: str) -> None:
    """The held-out scenario, on a market that moves by itself."""
    with crash_server(tmp_path, "random_walk", database_url) as server:
        bodies = market_buys("walk", STREAMED)
        stream, killed = stream_and_kill(server, bodies, "engine", ENGINE_KILLS_AT)
        assert_replaced_by_supervisor(server, "engine", killed)
        book = settled_book(server)
        with server.client(server.login()) as client:
            assert_each_client_id_once(client, stream, book)
        assert_filled_once(stream, book)
        assert_cash_and_positions(book)


# The quotes the manual-market test sets are those a freshly started paper market shows (one
# tick either side of `pre_close`, deep), so every fill price is known exactly whether or not
# a restarted engine remembers quotes set by hand.
MANUAL_QUOTES = {
    "000001.SZ": ("11.50", "11.49", "11.51"),
    "601318.SH": ("52.00", "51.99", "52.01"),
    "510300.SH": ("4.000", "3.999", "4.001"),
    "AAPL.US": ("230.00", "229.99", "230.01"),
}
DEPTH = 100_000


def ask_of(symbol: str) -> Decimal:
    return Decimal(MANUAL_QUOTES[symbol][2])


def set_quotes(server: Server, quotes: dict[str, tuple[str, str, str]]) -> None:
    with server.client(server.login()) as client:
        for symbol, (last, bid, ask) in quotes.items():
            body = {"symbol": symbol, "last": last, "bid": bid, "ask": ask}
            response = client.post(
                "/api/v1/paper/paper/quotes", json=body | {"bid_size": DEPTH, "ask_size": DEPTH}
            )
            assert response.status_code == 200, response.text


def cn_buy_fee(notional: Decimal) -> Decimal:
    """The default A-share buy fee: commission 0.025% (at least 5 CNY) plus transfer fee
    0.001%, each rounded to the cent."""
    commission = max(notional * Decimal("0.00025"), Decimal(5)).quantize(Decimal("0.01"))
    return commission + (notional * Decimal("0.00001")).quantize(Decimal("0.01"))


def test_engine_killed_mid_stream_fills_at_the_known_prices(tmp_path: Path) -> None:
    """Manual market: the test knows each fill's price and fee, so it computes the cash the
    account must end with from the acknowledged orders alone."""
    with crash_server(tmp_path, "manual") as server:
        set_quotes(server, MANUAL_QUOTES)
        bodies = market_buys("manual", STREAMED)
        stream, killed = stream_and_kill(server, bodies, "engine", ENGINE_KILLS_AT)
        assert_replaced_by_supervisor(server, "engine", killed)
        book = settled_book(server)
        with server.client(server.login()) as client:
            assert_each_client_id_once(client, stream, book)
    assert_filled_once(stream, book)
    expected = dict(START_CASH)
    for body in bodies:
        ask = ask_of(body["symbol"])
        notional = (ask * body["qty"]).quantize(Decimal("0.01"))
        if body["symbol"].endswith(".US"):
            expected["USD"] -= notional  # no commission, no fee on US buys by default
        else:
            expected["CNY"] -= notional + cn_buy_fee(notional)
    for trade in book.trades:
        assert trade["price"] == ask_of(trade["symbol"]), trade
    assert {c: b["cash"] for c, b in book.balances.items()} == expected
    assert_cash_and_positions(book)


def test_web_killed_mid_stream_loses_nothing(tmp_path: Path) -> None:
    with crash_server(tmp_path, "random_walk") as server:
        engine = serve_children(server)["engine"]
        bodies = market_buys("web", STREAMED)
        stream, killed = stream_and_kill(server, bodies, "web", WEB_KILLS_AT)
        assert_replaced_by_supervisor(server, "web", killed)
        assert serve_children(server)["engine"] == engine, "the engine restarted too"
        book = settled_book(server)
        with server.client(server.login()) as client:
            assert_each_client_id_once(client, stream, book)
        assert_filled_once(stream, book)
        assert_cash_and_positions(book)


RESTING = 40
LIMITS = ("11.40", "11.30", "11.20")
THROUGH = ("11.20", "11.19", "11.20")
"""A quote whose ask is at or below every limit: each resting buy fills at 11.20."""


def test_resting_limit_orders_survive_engine_kills_and_fill_once(tmp_path: Path) -> None:
    """Buy limits below the ask rest through a kill mid-stream and a kill while they rest:
    still `new`, their cash still frozen; moving the ask through them fills each exactly
    once, and a kill right after the fills changes nothing."""
    bodies = [
        {
            "symbol": "000001.SZ",
            "side": "buy",
            "qty": 100,
            "type": "limit",
            "limit_price": LIMITS[i % len(LIMITS)],
            "time_in_force": "gtc",
            "client_order_id": f"rest-{i:04d}",
        }
        for i in range(RESTING)
    ]
    with crash_server(tmp_path, "manual") as server:
        set_quotes(server, {"000001.SZ": MANUAL_QUOTES["000001.SZ"]})
        stream, killed = stream_and_kill(server, bodies, "engine", (RESTING // 2,))
        with server.client(server.login()) as client:
            wait_until(
                lambda: all(o["status"] != "pending_new" for o in paged(client, ORDERS)),
                "no order pending_new",
                server,
            )
            resting = Book.read(client)
        assert len(resting.orders) == RESTING
        not_resting = [
            (o["client_order_id"], o["status"], o["reject_reason"])
            for o in resting.orders
            if o["status"] != "new"
        ]
        assert not not_resting, f"{len(not_resting)} orders not resting: {not_resting}"
        cny = resting.balances["CNY"]
        assert cny["frozen"] > RESTING * 100 * Decimal("11.20"), cny
        assert cny["cash"] == START_CASH["CNY"], cny

        after_restart = kill_and_read(server, killed)
        assert unchanged(after_restart.orders) == unchanged(resting.orders)
        assert after_restart.balances == resting.balances, "frozen cash changed in a restart"
        assert after_restart.trades == []

        set_quotes(server, {"000001.SZ": THROUGH})
        filled = settled_book(server)
        assert_filled_once(stream, filled)
        after_fills = kill_and_read(server, killed)
        assert_replaced_by_supervisor(server, "engine", killed)
        with server.client(server.login()) as client:
            assert_each_client_id_once(client, stream, after_fills)
    assert unchanged(after_fills.orders) == unchanged(filled.orders)
    assert after_fills.trades == filled.trades
    assert after_fills.balances == filled.balances
    assert len(filled.trades) == RESTING
    assert {(t["price"], t["qty"]) for t in filled.trades} == {(Decimal("11.20"), 100)}
    notional = Decimal("1120.00")
    spent = RESTING * (notional + cn_buy_fee(notional))
    assert filled.balances["CNY"]["cash"] == START_CASH["CNY"] - spent
    assert_cash_and_positions(after_fills)
    assert after_fills.positions["000001.SZ"]["qty"] == RESTING * 100


def unchanged(orders: list[Json]) -> list[Json]:
    """What a restart must leave as it was (it may stamp `updated_at` while reconciling)."""
    return [{k: v for k, v in order.items() if k != "updated_at"} for order in orders]


def kill_and_read(server: Server, killed: list[int]) -> Book:
    """SIGKILL the engine while nothing is in flight; the book once a new engine answers."""
    killed.append(kill_child(server, "engine"))
    wait_replaced(server, "engine", set(killed))
    with server.client(server.login()) as client:
        return Book.read(client)
