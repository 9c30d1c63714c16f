"""The client's event stream and its safe retries, against a real `tradebridge serve`: every
account event once and in order, resumed from `since_seq`, across a kill -9 of the engine and
of the web, and an order placed once although its first tries met a 503.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal

import pytest
from tests.client.conftest import PATIENT, admin_client, engine_down
from tests.conftest import Server
from tests.e2e.crash_support import serve_children, wait_replaced
from websockets.sync.client import connect

from tradebridge_client import (
    AccountEvent,
    AsyncClient,
    Client,
    OrderStatus,
    QuoteEvent,
    ResumeFailed,
    StatusEvent,
    Stream,
)
from tradebridge_client.stream import stream_url

SYMBOL = "600519.SH"
ASK = "1500.01"
WAIT_S = 30.0


class Collector:
    """Reads a stream on its own thread, keeping every account event it yields."""

    def __init__(self, stream: Stream) -> None:
        self.stream = stream
        self.events: list[AccountEvent] = []
        self.statuses: list[StatusEvent] = []
        self.failure: BaseException | None = None
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            for event in self.stream:
                if isinstance(event, AccountEvent):
                    self.events.append(event)
                elif isinstance(event, StatusEvent):
                    self.statuses.append(event)
        except BaseException as failed:
            self.failure = failed

    def wait_for(self, seq: int) -> None:
        deadline = time.monotonic() + WAIT_S
        while not self.events or self.events[-1].seq < seq:
            assert self.failure is None, self.failure
            assert time.monotonic() < deadline, f"no event {seq}; last {self.seqs()[-3:]}"
            time.sleep(0.02)

    def seqs(self) -> list[int]:
        return [event.seq for event in self.events]

    def close(self) -> None:
        self.stream.close()
        self._thread.join(WAIT_S)


@contextmanager
def collecting(client: Client, since_seq: int | None = None) -> Iterator[Collector]:
    collector = Collector(client.stream("paper", since_seq))
    try:
        yield collector
    finally:
        collector.close()


def _last_seq(client: Client) -> int:
    """The `seq` of the account's last event, as the server answers a new subscription."""
    client.accounts()  # logged in
    url = stream_url(client.url)
    with connect(url, open_timeout=WAIT_S) as socket:
        socket.send(json.dumps({"op": "auth", "token": client.credentials.token}))
        socket.send(json.dumps({"op": "subscribe", "account": "paper", "channels": ["orders"]}))
        while True:
            message = json.loads(socket.recv(timeout=WAIT_S))
            if message["type"] == "subscribed":
                return int(message["data"]["since_seq"])


def _buy(client: Client) -> str:
    order = client.buy("paper", SYMBOL, 100, limit_price=ASK)
    assert order.status is OrderStatus.FILLED
    return order.id


def _check_exactly_once(events: list[AccountEvent], after: int) -> None:
    seqs = [event.seq for event in events]
    assert seqs == list(range(after + 1, after + 1 + len(seqs))), seqs


def test_a_stream_yields_each_change_of_an_order(admin: Client) -> None:
    start = _last_seq(admin)
    with collecting(admin) as seen:
        time.sleep(0.3)  # subscribed
        order_id = _buy(admin)
        seen.wait_for(start + 4)
    _check_exactly_once(seen.events, start)
    kinds = [e.type for e in seen.events]
    assert kinds[:2] == ["order", "order"]  # pending_new, new (then filled, after the trade)
    orders = [e.data for e in seen.events if e.type == "order"]
    assert {o.id for o in orders} == {order_id}  # type: ignore[union-attr]
    assert orders[-1].status is OrderStatus.FILLED  # type: ignore[union-attr]
    (trade,) = [e.data for e in seen.events if e.type == "trade"]
    assert trade.price == Decimal(ASK)  # type: ignore[union-attr]
    assert seen.statuses[0].data == {"engine": "up"}


def test_since_seq_resends_what_came_after_it(admin: Client) -> None:
    start = _last_seq(admin)
    first, second = _buy(admin), _buy(admin)
    with collecting(admin, since_seq=start) as seen:
        # every event of both orders, though they were made before the stream began
        third = _buy(admin)
        deadline = time.monotonic() + WAIT_S
        while {first, second, third} - _order_ids(seen.events):
            assert time.monotonic() < deadline
            time.sleep(0.02)
        end = seen.events[-1].seq
        seen.wait_for(end)
    _check_exactly_once(seen.events, start)
    assert seen.stream.last_seq == seen.events[-1].seq


def _order_ids(events: list[AccountEvent]) -> set[str]:
    return {e.data.id for e in events if e.type == "order"}  # type: ignore[union-attr]


def test_a_since_seq_after_the_last_event_is_refused(admin: Client) -> None:
    start = _last_seq(admin)
    with (
        admin.stream("paper", since_seq=start + 1000) as stream,
        pytest.raises(ResumeFailed) as refused,
    ):
        _statuses_until_it_ends(stream)
    assert refused.value.code == "resume_invalid"


def _statuses_until_it_ends(stream: Stream) -> None:
    for event in stream:  # the status of the engine and the broker come first
        assert isinstance(event, StatusEvent)


def test_the_stream_goes_on_across_a_kill_9_of_the_engine(own_server: Server) -> None:
    with admin_client(own_server, retry=PATIENT) as client:
        client.paper_set_quote("paper", SYMBOL, "1500.00", bid_size=10**9, ask_size=10**9)
        start = _last_seq(client)
        with collecting(client, since_seq=start) as seen:
            before = [_buy(client) for _ in range(3)]
            with engine_down(own_server):
                time.sleep(1.0)  # the web has seen the engine go
            after = [_buy(client) for _ in range(3)]  # the client retries until it is back
            deadline = time.monotonic() + WAIT_S
            while set(before + after) - _order_ids(seen.events):
                assert seen.failure is None, seen.failure
                assert time.monotonic() < deadline
                time.sleep(0.02)
            time.sleep(0.5)  # any late repeat would arrive now
    _check_exactly_once(seen.events, start)
    assert {"engine": "down"} in [s.data for s in seen.statuses]
    filled = [e.data for e in seen.events if e.type == "order" and e.data.status == "filled"]  # type: ignore[union-attr]
    assert sorted(o.id for o in filled) == sorted(before + after)  # type: ignore[union-attr]


def test_the_stream_reconnects_and_resumes_after_a_kill_9_of_the_web(
    own_server: Server,
) -> None:
    with admin_client(own_server, retry=PATIENT) as client:
        client.paper_set_quote("paper", SYMBOL, "1500.00", bid_size=10**9, ask_size=10**9)
        start = _last_seq(client)
        with collecting(client, since_seq=start) as seen:
            before = _buy(client)
            while before not in _order_ids(seen.events):
                time.sleep(0.02)
            web = serve_children(own_server)["web"]
            os.kill(web, signal.SIGKILL)
            during = _buy(client)  # retried until serve has restarted the web
            wait_replaced(own_server, "web", {web})
            after = _buy(client)
            deadline = time.monotonic() + WAIT_S
            while {before, during, after} - _order_ids(seen.events):
                assert seen.failure is None, seen.failure
                assert time.monotonic() < deadline
                time.sleep(0.02)
            time.sleep(0.5)
    _check_exactly_once(seen.events, start)


def test_a_placement_retried_across_a_503_makes_one_order(own_server: Server) -> None:
    cid = "retried-across-503"
    with admin_client(own_server, retry=PATIENT) as client:
        client.paper_set_quote("paper", SYMBOL, "1500.00", bid_size=10**9, ask_size=10**9)
        placed: list[object] = []
        with engine_down(own_server):
            time.sleep(1.0)  # the web knows: placements answer 503 now
            thread = threading.Thread(
                target=lambda: placed.append(
                    client.buy("paper", SYMBOL, 100, limit_price=ASK, client_order_id=cid)
                )
            )
            thread.start()
            time.sleep(1.0)  # several tries meet the 503
            assert not placed
        thread.join(WAIT_S)
        (order,) = placed
        assert order.client_order_id == cid  # type: ignore[attr-defined]
        assert [o.id for o in client.orders("paper") if o.client_order_id == cid] == [
            order.id  # type: ignore[attr-defined]
        ]
        tries = [e.status for e in client.audit(action="place order", limit=1000)]
    assert tries.count(503) >= 2
    assert tries[-1] == 201


def test_quotes_stream_with_their_account(admin: Client) -> None:
    with admin.stream("paper", channels=(), quotes=[SYMBOL]) as stream:
        events = iter(stream)
        deadline = time.monotonic() + WAIT_S
        setter = threading.Timer(0.3, admin.paper_set_quote, ("paper", SYMBOL, "1501.00"))
        setter.start()
        try:
            while True:
                assert time.monotonic() < deadline
                event = next(events)
                if isinstance(event, QuoteEvent) and event.quote.last == Decimal("1501.00"):
                    break
        finally:
            setter.join()
    assert event.account == "paper"
    assert event.quote.symbol == SYMBOL


def test_the_async_stream_resumes_as_the_sync_one(client_server: Server, admin: Client) -> None:
    start = _last_seq(admin)
    order_id = _buy(admin)

    async def read() -> list[AccountEvent]:
        seen: list[AccountEvent] = []
        async with (
            AsyncClient(
                client_server.base_url, username="admin", password=admin.credentials.password
            ) as client,
            client.stream("paper", since_seq=start) as stream,
        ):
            async for event in stream:
                if isinstance(event, AccountEvent):
                    seen.append(event)
                    if event.type == "account" and order_id in _order_ids(seen):
                        return seen
        return seen

    events = asyncio.run(asyncio.wait_for(read(), WAIT_S))
    _check_exactly_once(events, start)
    assert order_id in _order_ids(events)
