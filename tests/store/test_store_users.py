"""Users and API keys in the database, on SQLite and PostgreSQL."""

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, delete
from sqlalchemy.exc import IntegrityError

from tradebridge.store import users
from tradebridge.store.database import create_db_engine
from tradebridge.store.migrate import upgrade
from tradebridge.store.schema import api_keys
from tradebridge.store.schema import users as users_table


@pytest.fixture
def db(database_url: str) -> Iterator[Engine]:
    engine = create_db_engine(database_url)
    upgrade(engine)
    yield engine
    engine.dispose()


def test_users_are_numbered_and_found_by_name(db: Engine) -> None:
    with db.connect() as conn:
        assert users.count_users(conn) == 0
    with db.begin() as conn:
        first = users.add_user(conn, "admin", "hash-1", "admin")
        second = users.add_user(conn, "trader", "hash-2", "trader")
    assert second > first
    with db.connect() as conn:
        assert users.count_users(conn) == 1  # "any user at all": it stops at one
        assert users.get_user(conn, "trader") == users.UserRecord(
            second, "trader", "hash-2", "trader"
        )
        assert users.get_user(conn, "Trader") is None  # names are case-sensitive


def test_a_username_is_taken_once(db: Engine) -> None:
    with db.begin() as conn:
        users.add_user(conn, "admin", "hash-1", "admin")
    with pytest.raises(IntegrityError), db.begin() as conn:
        users.add_user(conn, "admin", "hash-2", "viewer")
    with db.connect() as conn:
        assert users.get_user(conn, "admin") == users.UserRecord(1, "admin", "hash-1", "admin")


def test_api_keys_are_found_by_hash_with_their_user(db: Engine) -> None:
    with db.begin() as conn:
        owner = users.add_user(conn, "bot", "hash", "trader")
        users.add_api_key(
            conn,
            key_id="01KEY",
            user_id=owner,
            key_hash="a" * 64,
            prefix="tbk_abcd",
            scopes=["read", "trade"],
            account="paper",
        )
    with db.connect() as conn:
        assert users.find_api_key(conn, "a" * 64) == users.ApiKeyRecord(
            "01KEY", "bot", "trader", frozenset({"read", "trade"}), "paper"
        )
        assert users.find_api_key(conn, "b" * 64) is None
    with db.begin() as conn:  # keys go with their user
        conn.execute(delete(users_table).where(users_table.c.id == owner))
        assert conn.execute(api_keys.select()).all() == []
