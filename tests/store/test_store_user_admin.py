"""Listing, changing and removing users and keys, on SQLite and PostgreSQL."""

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from tradebridge.store import users
from tradebridge.store.database import create_db_engine
from tradebridge.store.migrate import upgrade


@pytest.fixture
def db(database_url: str) -> Iterator[Engine]:
    engine = create_db_engine(database_url)
    upgrade(engine)
    yield engine
    engine.dispose()


def add_key(db: Engine, user_id: int, key_id: str, prefix: str, digest: str) -> None:
    with db.begin() as conn:
        users.add_api_key(
            conn,
            key_id=key_id,
            user_id=user_id,
            key_hash=digest,
            prefix=prefix,
            scopes=["read", "trade"],
            account=None,
        )


def test_users_are_listed_in_order_and_passwords_change(db: Engine) -> None:
    with db.begin() as conn:
        users.add_user(conn, "admin", "hash-1", "admin")
        users.add_user(conn, "ana", "hash-2", "viewer")
    with db.begin() as conn:
        assert users.set_password(conn, "ana", "hash-3")
        assert not users.set_password(conn, "nobody", "hash-4")
    with db.connect() as conn:
        listed = users.list_users(conn)
        assert [(u.username, u.role) for u in listed] == [("admin", "admin"), ("ana", "viewer")]
        assert listed[0].created_at <= listed[1].created_at
        assert listed[0].created_at.tzinfo is not None
        record = users.get_user(conn, "ana")
    assert record is not None
    assert record.password_hash == "hash-3"


def test_removing_users_keeps_an_admin_and_takes_their_keys(db: Engine) -> None:
    with db.begin() as conn:
        first = users.add_user(conn, "admin", "h", "admin")
        second = users.add_user(conn, "root", "h", "admin")
        users.add_user(conn, "ana", "h", "trader")
    add_key(db, second, "01KEYROOT", "tbk_root0000", "r" * 64)
    add_key(db, first, "01KEYADMIN", "tbk_admin000", "a" * 64)
    with db.begin() as conn:
        assert users.remove_user(conn, "nobody") is users.Removal.NO_SUCH_USER
        assert users.remove_user(conn, "ana") is users.Removal.REMOVED
        assert users.remove_user(conn, "root") is users.Removal.REMOVED
        assert users.remove_user(conn, "admin") is users.Removal.LAST_ADMIN
    with db.connect() as conn:
        assert [u.username for u in users.list_users(conn)] == ["admin"]
        assert [k.id for k in users.list_api_keys(conn)] == ["01KEYADMIN"]
        assert users.find_api_key(conn, "r" * 64) is None


def test_keys_are_listed_found_by_prefix_and_revoked_once(db: Engine) -> None:
    with db.begin() as conn:
        ana = users.add_user(conn, "ana", "h", "trader")
        bob = users.add_user(conn, "bob", "h", "trader")
    add_key(db, ana, "01KEYA", "tbk_aaaa1111", "a" * 64)
    add_key(db, ana, "01KEYB", "tbk_aaaa2222", "b" * 64)
    add_key(db, bob, "01KEYC", "tbkXaaaa3333", "c" * 64)
    with db.connect() as conn:
        assert [k.id for k in users.list_api_keys(conn)] == ["01KEYA", "01KEYB", "01KEYC"]
        assert [k.id for k in users.list_api_keys(conn, "bob")] == ["01KEYC"]
        assert [k.id for k in users.find_api_keys(conn, "tbk_aaaa")] == ["01KEYA", "01KEYB"]
        assert [k.id for k in users.find_api_keys(conn, "tbk_")] == ["01KEYA", "01KEYB"]
        assert [k.id for k in users.find_api_keys(conn, "01KEYC")] == ["01KEYC"]
        assert users.find_api_keys(conn, "tbk_%") == []
        listed = users.get_api_key(conn, "01KEYA")
    assert listed is not None
    assert (listed.username, listed.scopes, listed.revoked_at) == ("ana", ("read", "trade"), None)
    with db.begin() as conn:
        revoked = users.revoke_api_key(conn, "01KEYA")
    with db.begin() as conn:
        again = users.revoke_api_key(conn, "01KEYA")
        assert users.revoke_api_key(conn, "01NOKEY") is None
    assert revoked is not None
    assert again is not None
    assert revoked.revoked_at is not None
    assert again.revoked_at == revoked.revoked_at
    with db.connect() as conn:
        assert users.find_api_key(conn, "a" * 64) is None
        assert users.find_api_key(conn, "b" * 64) is not None
