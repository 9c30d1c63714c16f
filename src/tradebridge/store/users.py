"""Users and API keys."""

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, select

from tradebridge.store.schema import api_keys, users


@dataclass(frozen=True, slots=True)
class UserRecord:
    id: int
    username: str
    password_hash: str
    role: str


@dataclass(frozen=True, slots=True)
class ApiKeyRecord:
    id: str
    username: str
    role: str
    scopes: frozenset[str]
    account: str | None


def count_users(conn: Connection) -> int:
    return len(conn.execute(select(users.c.id).limit(1)).all())


def add_user(conn: Connection, username: str, password_hash: str, role: str) -> int:
    result = conn.execute(
        users.insert().values(
            username=username,
            password_hash=password_hash,
            role=role,
            created_at=datetime.now(UTC),
        )
    )
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def get_user(conn: Connection, username: str) -> UserRecord | None:
    row = conn.execute(
        select(users.c.id, users.c.username, users.c.password_hash, users.c.role).where(
            users.c.username == username
        )
    ).first()
    return UserRecord(*row) if row else None


def add_api_key(
    conn: Connection,
    *,
    key_id: str,
    user_id: int,
    key_hash: str,
    prefix: str,
    scopes: list[str],
    account: str | None,
) -> None:
    conn.execute(
        api_keys.insert().values(
            id=key_id,
            user_id=user_id,
            key_hash=key_hash,
            prefix=prefix,
            scopes=",".join(scopes),
            account=account,
            created_at=datetime.now(UTC),
        )
    )


def find_api_key(conn: Connection, key_hash: str) -> ApiKeyRecord | None:
    row = conn.execute(
        select(api_keys.c.id, users.c.username, users.c.role, api_keys.c.scopes, api_keys.c.account)
        .join(users, users.c.id == api_keys.c.user_id)
        .where(api_keys.c.key_hash == key_hash, api_keys.c.revoked_at.is_(None))
    ).first()
    if row is None:
        return None
    key_id, username, role, scopes, account = row
    return ApiKeyRecord(key_id, username, role, frozenset(scopes.split(",")), account)
