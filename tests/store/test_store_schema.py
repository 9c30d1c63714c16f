"""Schema migrations and exact round trips of stored values."""

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import inspect, select

from tradebridge.domain.enums import Side
from tradebridge.domain.models import Trade
from tradebridge.engine.journal import Journal
from tradebridge.store.database import create_db_engine
from tradebridge.store.migrate import current_revision, upgrade
from tradebridge.store.queries import list_trades
from tradebridge.store.schema import metadata, trades
from tradebridge.store.types import DecimalText, EpochMicros


def test_upgrade_creates_every_table_and_is_idempotent(tmp_path: Path) -> None:
    db = create_db_engine(f"sqlite:///{tmp_path / 'nested' / 'x.db'}")
    upgrade(db)
    upgrade(db)
    assert current_revision(db) == "0002"
    assert set(inspect(db).get_table_names()) >= set(metadata.tables)
    db.dispose()


def test_sqlite_runs_in_wal_mode(tmp_path: Path) -> None:
    db = create_db_engine(f"sqlite:///{tmp_path / 'x.db'}", sqlite_synchronous="full")
    with db.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
    db.dispose()


@given(
    st.decimals(
        allow_nan=False,
        allow_infinity=False,
        places=8,
        min_value=Decimal("-1e12"),
        max_value=Decimal("1e12"),
    )
)
def test_decimals_keep_every_digit(value: Decimal) -> None:
    column = DecimalText()
    assert column.process_result_value(column.process_bind_param(value, None), None) == value  # type: ignore[arg-type]


@given(
    st.datetimes(
        min_value=datetime(1971, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
    )
)
def test_times_keep_every_microsecond(value: datetime) -> None:
    column = EpochMicros()
    stored = column.process_bind_param(value, None)  # type: ignore[arg-type]
    assert column.process_result_value(stored, None) == value  # type: ignore[arg-type]


@pytest.mark.anyio
async def test_journal_rows_read_back_as_written(tmp_path: Path) -> None:
    db = create_db_engine(f"sqlite:///{tmp_path / 'x.db'}")
    upgrade(db)
    journal = Journal(db, on_committed=lambda events: None)
    trade = Trade(
        id="01T",
        order_id="01O",
        client_order_id="c",
        account="paper",
        symbol="600519.SH",
        side=Side.SELL,
        qty=300,
        price=Decimal("1500.01"),
        fee=Decimal("12.34"),
        time=datetime(2026, 11, 21, 1, 2, 3, 456789, UTC),
    )
    journal.stage_trade(trade, "broker-1")
    await journal.commit()
    journal.close()
    with db.connect() as conn:
        row = conn.execute(select(trades)).one()
        assert list_trades(conn, "paper", symbol=None, order_id=None, limit=10, after=None) == [
            trade
        ]
    assert row.broker_trade_id == "broker-1"
    db.dispose()
