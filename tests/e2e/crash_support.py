"""Helpers of the crash tests: a retrying order stream, the children of `tradebridge serve`,
and reading an account's whole book back over REST."""

import os
import re
import signal
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.conftest import Server, start_server, wait_healthy, write_config

ACCOUNT = "paper"
ORDERS = f"/api/v1/accounts/{ACCOUNT}/orders"
TRADES = f"/api/v1/accounts/{ACCOUNT}/trades"
CENT = Decimal("0.01")
START_CASH = {"CNY": Decimal(1_000_000), "HKD": Decimal(1_000_000), "USD": Decimal(1_000_000)}
"""The paper account's configured cash (the default of `PaperSettings.cash`)."""
RETRY_PAUSE_S = 0.05
WAIT_S = 60.0
"""Every wait of these tests is bounded by this generous deadline."""

Json = dict[str, Any]


def crash_config(directory: Path, market: str, database_url: str | None = None) -> Path:
    """`write_config`'s paper account with the given market mode (and database)."""
    path = write_config(directory, database_url=database_url)
    path.write_text(path.read_text().replace('market = "manual"', f'market = "{market}"'))
    return path


@contextmanager
def crash_server(directory: Path, market: str, database_url: str | None = None) -> Iterator[Server]:
    """A running `tradebridge serve`; its log tail is printed (shown when the test fails)."""
    server = start_server(crash_config(directory, market, database_url))
    try:
        yield server
    finally:
        server.stop()
        print(f"--- serve log (tail) ---\n{log_tail(server)}")


def log_tail(server: Server, lines: int = 80) -> str:
    return "\n".join(server.output().splitlines()[-lines:])


def serve_children(server: Server) -> dict[str, int]:
    """pid of each live child of serve by role (`engine`, `web`), read from /proc."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        state, parent = stat.rsplit(")", 1)[1].split()[:2]
        match = re.search(r"tradebridge (engine|web)\b", cmdline)
        if int(parent) == server.process.pid and match and state != "Z":
            found[match.group(1)] = int(entry)
    return found


def kill_child(server: Server, role: str) -> int:
    """SIGKILL serve's `role` child; its pid."""
    pid = serve_children(server)[role]
    os.kill(pid, signal.SIGKILL)
    return pid


def wait_until(condition: Callable[[], bool], what: str, server: Server) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up after {WAIT_S:.0f} s waiting for {what}\n{log_tail(server)}")
        time.sleep(0.05)


def wait_replaced(server: Server, role: str, killed: set[int]) -> None:
    """Wait until serve runs a `role` child that is none of `killed`, and the API answers."""

    def replaced() -> bool:
        pid = serve_children(server).get(role)
        return pid is not None and pid not in killed

    wait_until(replaced, f"serve to start a new {role} (killed: {sorted(killed)})", server)
    wait_healthy(server, timeout=WAIT_S)


@dataclass
class OrderStream:
    """Places `bodies` like careful clients: `workers` threads take the next body in turn and
    retry it unchanged (same `client_order_id`, same parameters) after a 5xx answer or a
    connection error or timeout, until a 2xx acknowledges it. Any other answer is a failure.

    `at_acked` maps counts of acknowledged orders to actions (e.g. a SIGKILL). The worker
    whose acknowledgement reaches a count runs its action at once, while the other workers
    have their requests in flight, so a kill lands in the middle of the stream however fast
    it runs."""

    server: Server
    token: str
    bodies: list[Json]
    at_acked: dict[int, Callable[[], None]] = field(default_factory=dict)
    workers: int = 4
    acks: dict[str, str] = field(default_factory=dict)
    """Order id of each acknowledged client id."""
    failures: list[str] = field(default_factory=list)
    retried_errors: Counter[str] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _next: int = 0
    _threads: list[threading.Thread] = field(default_factory=list)

    def run(self) -> None:
        """Stream every body; fails the test unless each was acknowledged."""
        self._threads = [
            threading.Thread(target=self._work, name=f"order-stream-{n}", daemon=True)
            for n in range(self.workers)
        ]
        for thread in self._threads:
            thread.start()
        for thread in self._threads:
            thread.join(WAIT_S * 3)
        assert not any(t.is_alive() for t in self._threads), (
            f"the order stream hung\n{log_tail(self.server)}"
        )
        assert not self.failures, "\n".join(self.failures)
        assert len(self.acks) == len(self.bodies)

    def _take(self) -> Json | None:
        with self._lock:
            if self.failures or self._next == len(self.bodies):
                return None
            self._next += 1
            return self.bodies[self._next - 1]

    def _work(self) -> None:
        with self.server.client(self.token) as client:
            while (body := self._take()) is not None:
                self._place(client, body)

    def _place(self, client: httpx.Client, body: Json) -> None:
        client_order_id = body["client_order_id"]
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            try:
                response = client.post(ORDERS, json=body)
            except httpx.TransportError as error:
                self._count_retry(type(error).__name__)
            else:
                if response.is_success:
                    self._acknowledged(client_order_id, response.json()["id"])
                    return
                if response.status_code < 500:
                    self._fail(f"{client_order_id}: {response.status_code} {response.text}")
                    return
                self._count_retry(str(response.status_code))
            time.sleep(RETRY_PAUSE_S)
        self._fail(f"{client_order_id}: no 2xx in {WAIT_S:.0f} s")

    def _acknowledged(self, client_order_id: str, order_id: str) -> None:
        with self._lock:
            self.acks[client_order_id] = order_id
            action = self.at_acked.get(len(self.acks))
        if action is not None:
            action()

    def _count_retry(self, what: str) -> None:
        with self._lock:
            self.retried_errors[what] += 1

    def _fail(self, message: str) -> None:
        with self._lock:
            self.failures.append(message)


def paged(client: httpx.Client, path: str, **params: str) -> list[Json]:
    """Every item of a paged list route, oldest first."""
    items: list[Json] = []
    after = "0"  # sorts before every id
    while True:
        response = client.get(path, params={**params, "limit": "1000", "after": after})
        assert response.status_code == 200, response.text
        page = response.json(parse_float=Decimal)
        items.extend(page)
        if len(page) < 1000:
            return items
        after = page[-1]["id"]


@dataclass
class Book:
    """An account's orders, trades, balances and positions as the API reports them."""

    orders: list[Json]
    trades: list[Json]
    balances: dict[str, Json]
    positions: dict[str, Json]

    @classmethod
    def read(cls, client: httpx.Client) -> "Book":
        summary = client.get(f"/api/v1/accounts/{ACCOUNT}")
        assert summary.status_code == 200, summary.text
        positions = client.get(f"/api/v1/accounts/{ACCOUNT}/positions")
        assert positions.status_code == 200, positions.text
        return cls(
            orders=paged(client, ORDERS),
            trades=paged(client, TRADES),
            balances={b["currency"]: b for b in summary.json(parse_float=Decimal)["balances"]},
            positions={p["symbol"]: p for p in positions.json(parse_float=Decimal)},
        )

    def trades_by_order(self) -> dict[str, list[Json]]:
        grouped: dict[str, list[Json]] = defaultdict(list)
        for trade in self.trades:
            grouped[trade["order_id"]].append(trade)
        return grouped


def wait_all_terminal(server: Server, client: httpx.Client) -> None:
    """Wait until the account has no open order (every order settled after the crashes)."""

    def settled() -> bool:
        try:
            response = client.get(ORDERS, params={"status": "open", "limit": "1"})
        except httpx.TransportError:
            return False
        return response.status_code == 200 and response.json() == []

    wait_until(settled, "every order to reach a terminal status", server)


def symbol_currency(symbol: str) -> str:
    return {"US": "USD", "HK": "HKD"}.get(symbol.rsplit(".", 1)[1], "CNY")


def assert_each_client_id_once(client: httpx.Client, stream: OrderStream, book: Book) -> None:
    """Every acknowledged client id is exactly one order, the acknowledged one; no other
    order exists."""
    counts = Counter(o["client_order_id"] for o in book.orders)
    duplicated = {cid: n for cid, n in counts.items() if n > 1}
    assert not duplicated, f"client ids with more than one order: {duplicated}"
    sent = {body["client_order_id"] for body in stream.bodies}
    assert set(counts) <= sent, f"orders nobody sent: {sorted(set(counts) - sent)}"
    assert len(book.orders) == len(sent), (len(book.orders), len(sent))
    by_client_id = {o["client_order_id"]: o for o in book.orders}
    for client_order_id, order_id in stream.acks.items():
        assert by_client_id[client_order_id]["id"] == order_id, client_order_id
        one = client.get(f"{ORDERS}:by_client_id/{client_order_id}")
        assert one.status_code == 200, one.text
        assert one.json()["id"] == order_id


def assert_filled_once(stream: OrderStream, book: Book) -> None:
    """Every acknowledged order filled its whole qty, and its trades add up to exactly that."""
    trade_ids = [t["id"] for t in book.trades]
    assert len(trade_ids) == len(set(trade_ids)), "a trade id appears twice"
    by_client_id = {o["client_order_id"]: o for o in book.orders}
    missing = sorted(set(stream.acks) - set(by_client_id))
    assert not missing, f"acknowledged orders missing from the book: {missing}"
    trades = book.trades_by_order()
    not_filled = {
        cid: (by_client_id[cid]["status"], by_client_id[cid]["reject_reason"])
        for cid in stream.acks
        if by_client_id[cid]["status"] != "filled"
    }
    assert not not_filled, f"{len(not_filled)} acknowledged orders did not fill: {not_filled}"
    for order in book.orders:
        assert order["filled_qty"] == order["qty"], order
        traded = sum(t["qty"] for t in trades.get(order["id"], []))
        assert traded == order["filled_qty"], (order, trades.get(order["id"]))
        for trade in trades.get(order["id"], []):
            assert (trade["client_order_id"], trade["symbol"], trade["side"]) == (
                order["client_order_id"],
                order["symbol"],
                order["side"],
            ), (trade, order)
    known = {o["id"] for o in book.orders}
    assert {t["order_id"] for t in book.trades} <= known, "a trade of an unknown order"


def cash_spent(trades: list[Json]) -> dict[str, Decimal]:
    """Per currency: what buying cost, each fill's notional rounded to the cent plus its fee
    (stocks: multiplier 1)."""
    spent: dict[str, Decimal] = defaultdict(Decimal)
    for trade in trades:
        assert trade["side"] == "buy", trade
        notional = (Decimal(trade["price"]) * trade["qty"]).quantize(CENT)
        spent[symbol_currency(trade["symbol"])] += notional + Decimal(trade["fee"])
    return spent


def assert_cash_and_positions(book: Book) -> None:
    """Cash is the start minus what the fills cost, to the cent; nothing stays frozen; each
    position is what its fills bought."""
    spent = cash_spent(book.trades)
    for currency, start in START_CASH.items():
        balance, cost = book.balances[currency], spent.get(currency, Decimal(0))
        assert balance["cash"] == start - cost, (
            f"{currency} cash {balance['cash']} != start {start} - fills and fees {cost}"
        )
        assert balance["frozen"] == 0, balance
        assert balance["available"] == balance["cash"], balance
    bought: Counter[str] = Counter()
    for trade in book.trades:
        bought[trade["symbol"]] += trade["qty"]
    held = {symbol: p["qty"] for symbol, p in book.positions.items()}
    assert held == dict(bought), f"positions {held} != fills {dict(bought)}"
