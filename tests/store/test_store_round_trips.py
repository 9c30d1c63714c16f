"""What the journal writes reads back exactly, in the same order, on SQLite and PostgreSQL."""

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import msgspec
import pytest
from sqlalchemy import Engine

from tradebridge.domain.enums import OrderStatus, OrderType, Side, TimeInForce
from tradebridge.domain.models import Trade
from tradebridge.domain.orders import Order
from tradebridge.engine.journal import Journal, StagedEvent
from tradebridge.store import queries
from tradebridge.store.database import create_db_engine
from tradebridge.store.migrate import upgrade

pytestmark = pytest.mark.anyio

ULID_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
DECIMALS = [
    Decimal("1500.01"),
    Decimal("1500.010"),  # the trailing zero stays
    Decimal("0.0001"),
    Decimal("1E+3"),
    Decimal("-0.00"),
    Decimal("-12345678901234.56789012345678"),  # 28 digits: a full Decimal context
    Decimal("0.000000000000000000000000001"),
]
TIMES = [
    datetime(2026, 11, 21, 1, 2, 3, 456789, UTC),
    datetime(1969, 12, 31, 23, 59, 59, 999999, UTC),  # before the epoch
    datetime(2200, 1, 1, 0, 0, 0, 1, UTC),
]


@pytest.fixture
def db(database_url: str) -> Iterator[Engine]:
    engine = create_db_engine(database_url)
    upgrade(engine)
    yield engine
    engine.dispose()


async def write(db: Engine, stage: list[object]) -> None:
    """Stage orders, trades and events through a journal that commits on its writer thread
    (as on PostgreSQL), commit, close."""
    journal = Journal(db, on_committed=lambda events: None)
    for item in stage:
        if isinstance(item, Order):
            journal.stage_new_order(item)
        elif isinstance(item, Trade):
            journal.stage_trade(item, f"broker-{item.id}")
        else:
            assert isinstance(item, StagedEvent)
            journal.stage_event(item)
    await journal.commit()
    journal.close()


def order(order_id: str, **fields: object) -> Order:
    base = Order(
        id=order_id,
        client_order_id=f"c-{order_id}",
        account="paper",
        symbol="600519.SH",
        side=Side.BUY,
        offset=None,
        type=OrderType.LIMIT,
        time_in_force=TimeInForce.DAY,
        qty=100,
        limit_price=Decimal("1500.00"),
        filled_qty=0,
        avg_fill_price=None,
        status=OrderStatus.NEW,
        reject_reason=None,
        broker_order_id=None,
        created_at=TIMES[0],
        updated_at=TIMES[0],
    )
    return msgspec.structs.replace(base, **fields)


def trade(trade_id: str, price: Decimal, fee: Decimal, time: datetime) -> Trade:
    return Trade(
        id=trade_id,
        order_id="01O",
        client_order_id="c",
        account="paper",
        symbol="600519.SH",
        side=Side.SELL,
        qty=300,
        price=price,
        fee=fee,
        time=time,
    )


async def test_orders_read_back_with_every_digit_and_microsecond(db: Engine) -> None:
    written = [
        order(
            f"01ORDER{i:02d}",
            limit_price=value,
            avg_fill_price=value,
            qty=2**40 + i,  # beyond 32 bits
            created_at=TIMES[i % len(TIMES)],
            updated_at=TIMES[(i + 1) % len(TIMES)],
        )
        for i, value in enumerate(DECIMALS)
    ]
    await write(db, list(written))
    with db.connect() as conn:
        read = [queries.get_order(conn, "paper", o.id) for o in written]
    assert read == written
    for before, after in zip(written, read, strict=True):
        assert after is not None
        assert str(after.limit_price) == str(before.limit_price)


async def test_order_updates_replace_the_stored_state(db: Engine) -> None:
    placed = order("01ORDERA")
    await write(db, [placed])
    filled = msgspec.structs.replace(
        placed,
        status=OrderStatus.FILLED,
        filled_qty=100,
        avg_fill_price=Decimal("1499.995"),
        broker_order_id="B-1",
        updated_at=TIMES[2],
    )
    journal = Journal(db, on_committed=lambda events: None)
    journal.stage_order(filled)
    await journal.commit()
    journal.close()
    with db.connect() as conn:
        assert queries.get_order(conn, "paper", placed.id) == filled
        assert queries.get_order_by_client_id(conn, "paper", placed.client_order_id) == filled
        assert queries.open_orders(conn, "paper") == []


async def test_trades_read_back_with_every_digit_and_microsecond(db: Engine) -> None:
    written = [
        trade(f"01TRADE{i:02d}", price=value, fee=DECIMALS[-1 - i], time=TIMES[i % len(TIMES)])
        for i, value in enumerate(DECIMALS)
    ]
    await write(db, list(written))
    with db.connect() as conn:
        read = queries.list_trades(
            conn, "paper", symbol=None, order_id="01O", limit=100, after=None
        )
        broker_ids = queries.broker_trade_ids(conn, "paper")
    assert read == written
    assert [str(t.price) for t in read] == [str(t.price) for t in written]
    assert broker_ids == {f"broker-{t.id}" for t in written}


async def test_event_payloads_read_back_byte_for_byte(db: Engine) -> None:
    payloads = [bytes(range(256)), b"\x00", b"\x00\xff" * 10_000, b"\\x00'\""]
    await write(
        db,
        [StagedEvent("paper", seq, "order", p) for seq, p in enumerate(payloads, start=1)],
    )
    with db.connect() as conn:
        assert queries.events_after(conn, "paper", 0, 100) == list(enumerate(payloads, start=1))
        assert queries.events_after(conn, "paper", 2, 1) == [(3, payloads[2])]
        assert queries.last_seq(conn, "paper") == len(payloads)
        assert queries.seq_range(conn, "paper") == (1, len(payloads))


async def test_ids_sort_as_python_sorts_them(db: Engine) -> None:
    """Pages follow id order. Ids are ULIDs (digits and capitals of one length), which a
    database orders as Python does under any collation, natural-language ones included."""
    chance = random.Random(7)
    ids = {"0" * 26, "Z" * 26, "0" * 25 + "Z", "Z" + "0" * 25}
    while len(ids) < 300:
        ids.add("".join(chance.choice(ULID_ALPHABET) for _ in range(26)))
    stamps = [TIMES[0] + timedelta(microseconds=n) for n in range(len(ids))]
    await write(db, [order(i, created_at=t) for i, t in zip(ids, stamps, strict=True)])
    expected = sorted(ids)

    def page(limit: int, after: str | None) -> list[str]:
        return [
            o.id
            for o in queries.list_orders(
                conn, "paper", status="all", symbol=None, limit=limit, after=after
            )
        ]

    with db.connect() as conn:
        assert page(50, None) == expected[-50:]
        walked: list[str] = []
        after = expected[0]
        while chunk := page(37, after):
            walked += chunk
            after = chunk[-1]
        assert [o.id for o in queries.open_orders(conn, "paper")] == expected
    assert walked == expected[1:]
