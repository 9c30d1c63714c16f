"""Users and API keys."""

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import Connection, delete, func, or_, select, update

from tradebridge.store.schema import api_keys, users

ADMIN_ROLE = "admin"


@dataclass(frozen=True, slots=True)
class UserRecord:
    id: int
    username: str
    password_hash: str
    role: str


@dataclass(frozen=True, slots=True)
class UserInfo:
    """A user as listed: nothing secret."""

    username: str
    role: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ApiKeyRecord:
    """A valid key found by its hash, with what its user may do."""

    id: str
    username: str
    role: str
    scopes: frozenset[str]
    account: str | None


@dataclass(frozen=True, slots=True)
class ApiKeyInfo:
    """A key as listed: its prefix, never the key or its hash."""

    id: str
    username: str
    prefix: str
    scopes: tuple[str, ...]
    account: str | None
    created_at: datetime
    revoked_at: datetime | None


class Removal(StrEnum):
    REMOVED = "removed"
    NO_SUCH_USER = "no_such_user"
    LAST_ADMIN = "last_admin"


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


def list_users(conn: Connection) -> list[UserInfo]:
    rows = conn.execute(
        select(users.c.username, users.c.role, users.c.created_at).order_by(users.c.id)
    )
    return [UserInfo(*row) for row in rows]


def set_password(conn: Connection, username: str, password_hash: str) -> bool:
    """False if there is no such user."""
    result = conn.execute(
        update(users).where(users.c.username == username).values(password_hash=password_hash)
    )
    return result.rowcount == 1


def remove_user(conn: Connection, username: str) -> Removal:
    """Remove a user and their API keys, unless it is the last admin.

    One statement checks and deletes, so two removals at once cannot both see another admin
    left on SQLite; its keys go with it (`ON DELETE CASCADE`).
    """
    admins = select(func.count()).select_from(users).where(users.c.role == ADMIN_ROLE)
    result = conn.execute(
        delete(users).where(
            users.c.username == username,
            or_(users.c.role != ADMIN_ROLE, admins.scalar_subquery() > 1),
        )
    )
    if result.rowcount == 1:
        return Removal.REMOVED
    return Removal.NO_SUCH_USER if get_user(conn, username) is None else Removal.LAST_ADMIN


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


_KEY_INFO = select(
    api_keys.c.id,
    users.c.username,
    api_keys.c.prefix,
    api_keys.c.scopes,
    api_keys.c.account,
    api_keys.c.created_at,
    api_keys.c.revoked_at,
).join(users, users.c.id == api_keys.c.user_id)


def _key_info(
    key_id: str,
    username: str,
    prefix: str,
    scopes: str,
    account: str | None,
    created_at: datetime,
    revoked_at: datetime | None,
) -> ApiKeyInfo:
    return ApiKeyInfo(
        key_id, username, prefix, tuple(scopes.split(",")), account, created_at, revoked_at
    )


def list_api_keys(conn: Connection, username: str | None = None) -> list[ApiKeyInfo]:
    """Every key (revoked ones too), oldest first; only `username`'s if given."""
    query = _KEY_INFO.order_by(api_keys.c.id)
    if username is not None:
        query = query.where(users.c.username == username)
    return [_key_info(*row) for row in conn.execute(query)]


def get_api_key(conn: Connection, key_id: str) -> ApiKeyInfo | None:
    row = conn.execute(_KEY_INFO.where(api_keys.c.id == key_id)).first()
    return _key_info(*row) if row else None


def find_api_keys(conn: Connection, id_or_prefix: str) -> list[ApiKeyInfo]:
    """The key with this id, else the keys whose shown prefix starts with this."""
    by_id = get_api_key(conn, id_or_prefix)
    if by_id is not None:
        return [by_id]
    matching = _KEY_INFO.where(api_keys.c.prefix.startswith(id_or_prefix, autoescape=True))
    matching = matching.order_by(api_keys.c.id)
    return [_key_info(*row) for row in conn.execute(matching)]


def revoke_api_key(conn: Connection, key_id: str) -> ApiKeyInfo | None:
    """Revoke a key (a key revoked before keeps its time); None if there is no such key."""
    conn.execute(
        update(api_keys)
        .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
        .values(revoked_at=datetime.now(UTC))
    )
    return get_api_key(conn, key_id)
