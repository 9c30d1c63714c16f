"""The audit log: rows written by the web in batches, and the filtered, paged read of them."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgspec
from sqlalchemy import Connection, String, insert, select

from tradebridge.store.schema import audit


class AuditRecord(msgspec.Struct, frozen=True, kw_only=True):
    """One login attempt or mutating request."""

    time: datetime
    actor: str | None
    """The username of the caller (for a login: the username tried); None when unknown."""
    role: str | None
    """The role the caller's scopes amount to (viewer, trader, admin)."""
    auth: str | None
    """How the caller authenticated: `password` (a login), `token`, `api_key`; None if not."""
    key_id: str | None
    """The API key used, if any."""
    client_ip: str | None
    method: str
    path: str
    """With secrets in the query string redacted."""
    action: str
    """What was asked, e.g. `place order 600519.SH buy 100 @ 1700.00`, `login`."""
    account: str | None
    target: str | None
    """The object acted on: an order id, a key id."""
    status: int
    result: str
    """`ok`, or the error code of the answer."""
    request_id: str


class AuditEntry(AuditRecord, frozen=True, kw_only=True):
    id: int


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """Conditions on the rows read; None matches anything."""

    actor: str | None = None
    action: str | None = None
    """A prefix of `action`."""
    path: str | None = None
    """A prefix of `path`."""
    account: str | None = None
    status: int | None = None
    result: str | None = None
    since: datetime | None = None
    """Rows at or after this time."""
    until: datetime | None = None
    """Rows before this time."""


_LENGTHS = {
    column.name: column.type.length
    for column in audit.columns
    if isinstance(column.type, String) and column.type.length is not None
}


def _fitted(record: AuditRecord) -> dict[str, Any]:
    """The row of `record`, each text cut to its column's length (PostgreSQL would refuse
    the whole batch for one long path)."""
    row = msgspec.structs.asdict(record)
    for name, length in _LENGTHS.items():
        value = row[name]
        if isinstance(value, str) and len(value) > length:
            row[name] = value[: length - 1] + "…"
    return row


def insert_audit(conn: Connection, records: Sequence[AuditRecord]) -> None:
    if records:
        conn.execute(insert(audit), [_fitted(r) for r in records])


def list_audit(
    conn: Connection, where: AuditFilter, *, limit: int, after: int | None
) -> list[AuditEntry]:
    """Ascending by id. With `after`: the `limit` rows after that id; without: the latest."""
    query = select(audit)
    c = audit.c
    if where.actor is not None:
        query = query.where(c.actor == where.actor)
    if where.action is not None:
        query = query.where(c.action.startswith(where.action, autoescape=True))
    if where.path is not None:
        query = query.where(c.path.startswith(where.path, autoescape=True))
    if where.account is not None:
        query = query.where(c.account == where.account)
    if where.status is not None:
        query = query.where(c.status == where.status)
    if where.result is not None:
        query = query.where(c.result == where.result)
    if where.since is not None:
        query = query.where(c.time >= where.since)
    if where.until is not None:
        query = query.where(c.time < where.until)
    if after is not None:
        query = query.where(c.id > after).order_by(c.id).limit(limit)
    else:
        latest = query.order_by(c.id.desc()).limit(limit).subquery()
        query = select(latest).order_by(latest.c.id)
    return [AuditEntry(**row._asdict()) for row in conn.execute(query)]
