"""Queries over the order journal: reads, and the pruning of old events."""

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Literal

import msgspec
from sqlalchemy import Connection, Select, delete, func, insert, select

from tradebridge.brokers.base import JournalFill
from tradebridge.domain.enums import TERMINAL_STATUSES, Offset, Side
from tradebridge.domain.models import Trade
from tradebridge.domain.orders import Order
from tradebridge.store.records import order_from_row, trade_from_row
from tradebridge.store.schema import account_risk, broker_state, events, orders, trades

_TERMINAL = [s.value for s in TERMINAL_STATUSES]


def get_order(conn: Connection, account: str, order_id: str) -> Order | None:
    row = conn.execute(
        select(orders).where(orders.c.account == account, orders.c.id == order_id)
    ).first()
    return order_from_row(row) if row else None


def get_order_by_client_id(conn: Connection, account: str, client_order_id: str) -> Order | None:
    row = conn.execute(
        select(orders).where(
            orders.c.account == account, orders.c.client_order_id == client_order_id
        )
    ).first()
    return order_from_row(row) if row else None


def _page(query: Select[Any], id_column: Any, limit: int, after: str | None) -> Select[Any]:
    """Ascending by id. With `after`: the `limit` rows after that id; without: the latest."""
    if after is not None:
        return query.where(id_column > after).order_by(id_column).limit(limit)
    latest = query.order_by(id_column.desc()).limit(limit).subquery()
    return select(latest).order_by(latest.c.id)


def list_orders(
    conn: Connection,
    account: str,
    *,
    status: Literal["open", "closed", "all"],
    symbol: str | None,
    limit: int,
    after: str | None,
) -> list[Order]:
    query = select(orders).where(orders.c.account == account)
    if status == "open":
        query = query.where(orders.c.status.not_in(_TERMINAL))
    elif status == "closed":
        query = query.where(orders.c.status.in_(_TERMINAL))
    if symbol is not None:
        query = query.where(orders.c.symbol == symbol)
    return [order_from_row(r) for r in conn.execute(_page(query, orders.c.id, limit, after))]


def open_orders(conn: Connection, account: str) -> list[Order]:
    query = select(orders).where(orders.c.account == account, orders.c.status.not_in(_TERMINAL))
    return [order_from_row(r) for r in conn.execute(query.order_by(orders.c.id))]


def client_order_ids(conn: Connection, account: str) -> dict[str, str]:
    """Order ids by client order id (orders placed outside tradebridge have none)."""
    rows = conn.execute(
        select(orders.c.client_order_id, orders.c.id).where(
            orders.c.account == account, orders.c.client_order_id.is_not(None)
        )
    )
    return {cid: oid for cid, oid in rows}


def list_trades(
    conn: Connection,
    account: str,
    *,
    symbol: str | None,
    order_id: str | None,
    limit: int,
    after: str | None,
) -> list[Trade]:
    query = select(trades).where(trades.c.account == account)
    if symbol is not None:
        query = query.where(trades.c.symbol == symbol)
    if order_id is not None:
        query = query.where(trades.c.order_id == order_id)
    return [trade_from_row(r) for r in conn.execute(_page(query, trades.c.id, limit, after))]


def broker_trade_ids(conn: Connection, account: str) -> set[str]:
    rows = conn.execute(select(trades.c.broker_trade_id).where(trades.c.account == account))
    return {r[0] for r in rows}


def trades_without_fee(conn: Connection, account: str) -> dict[str, Trade]:
    """Trades whose fee the broker has not reported yet, by broker trade id."""
    query = select(trades).where(trades.c.account == account, trades.c.fee.is_(None))
    return {row._mapping["broker_trade_id"]: trade_from_row(row) for row in conn.execute(query)}


def journal_fills(conn: Connection, account: str) -> list[JournalFill]:
    """Every fill of `account` in the order the engine booked it (trade ids are sortable)."""
    query = (
        select(
            trades.c.broker_trade_id,
            trades.c.order_id,
            trades.c.client_order_id,
            trades.c.symbol,
            trades.c.side,
            orders.c.offset,
            trades.c.qty,
            trades.c.price,
            trades.c.fee,
            trades.c.time,
        )
        .join(orders, orders.c.id == trades.c.order_id)
        .where(trades.c.account == account)
        .order_by(trades.c.id)
    )
    return [
        JournalFill(
            broker_trade_id=m["broker_trade_id"],
            order_id=m["order_id"],
            client_order_id=m["client_order_id"],
            symbol=m["symbol"],
            side=Side(m["side"]),
            offset=Offset(m["offset"]) if m["offset"] else None,
            qty=m["qty"],
            price=m["price"],
            fee=m["fee"],
            time=m["time"],
        )
        for m in (row._mapping for row in conn.execute(query))
    ]


def broker_state_of(conn: Connection, account: str) -> dict[str, str]:
    rows = conn.execute(
        select(broker_state.c.key, broker_state.c.value).where(broker_state.c.account == account)
    )
    return {key: value for key, value in rows}


def last_seq(conn: Connection, account: str) -> int:
    value = conn.execute(select(func.max(events.c.seq)).where(events.c.account == account)).scalar()
    return int(value or 0)


def events_after(
    conn: Connection, account: str, since_seq: int, limit: int
) -> Sequence[tuple[int, bytes]]:
    rows = conn.execute(
        select(events.c.seq, events.c.payload)
        .where(events.c.account == account, events.c.seq > since_seq)
        .order_by(events.c.seq)
        .limit(limit)
    )
    return [(int(seq), bytes(payload)) for seq, payload in rows]


def seq_range(conn: Connection, account: str) -> tuple[int, int] | None:
    """The first and the last stored `seq` of an account; None when it has no events."""
    first, last = conn.execute(
        select(func.min(events.c.seq), func.max(events.c.seq)).where(events.c.account == account)
    ).one()
    return None if last is None else (int(first), int(last))


def last_seq_before(conn: Connection, account: str, before: datetime) -> int | None:
    """The highest `seq` of an account stored before `before`; None when there is none.

    A binary search over `seq` with index lookups (never a scan), relying on `created_at`
    growing with `seq`, which the journal guarantees by writing batches in order.
    """
    bounds = seq_range(conn, account)
    if bounds is None:
        return None

    def created_at(seq: int) -> datetime:
        """`created_at` of the first event at or after `seq` (there may be holes)."""
        value: datetime = conn.execute(
            select(events.c.created_at)
            .where(events.c.account == account, events.c.seq >= seq)
            .order_by(events.c.seq)
            .limit(1)
        ).scalar_one()
        return value

    low, high = bounds
    if created_at(low) >= before:
        return None
    while low < high:  # invariant: created_at(low) < before
        middle = (low + high + 1) // 2
        if created_at(middle) < before:
            low = middle
        else:
            high = middle - 1
    return low


def prune_events(conn: Connection, account: str, before: datetime, limit: int) -> int:
    """Delete up to `limit` of an account's oldest events stored before `before`, never its
    last one (the engine numbers on from it after a restart). Returns how many went."""
    bounds = seq_range(conn, account)
    upto = last_seq_before(conn, account, before)
    if bounds is None or upto is None:
        return 0
    first, last = bounds
    upto = min(upto, last - 1, first + limit - 1)
    if upto < first:
        return 0
    result = conn.execute(delete(events).where(events.c.account == account, events.c.seq <= upto))
    return int(result.rowcount)


def risk_overrides(conn: Connection, account: str) -> dict[str, Any]:
    """The risk settings stored for `account`, by name, as JSON values (Decimals as text)."""
    rows = conn.execute(
        select(account_risk.c.key, account_risk.c.value).where(account_risk.c.account == account)
    )
    return {key: msgspec.json.decode(value) for key, value in rows}


def store_risk_overrides(
    conn: Connection, account: str, changes: Mapping[str, Any], now: datetime
) -> None:
    """Store the risk settings in `changes`, replacing any stored before for those names."""
    if not changes:
        return
    conn.execute(
        delete(account_risk).where(
            account_risk.c.account == account, account_risk.c.key.in_(list(changes))
        )
    )
    conn.execute(
        insert(account_risk),
        [
            {
                "account": account,
                "key": key,
                "value": msgspec.json.encode(value).decode(),
                "updated_at": now,
            }
            for key, value in changes.items()
        ],
    )


def clear_risk_overrides(conn: Connection, account: str) -> None:
    """Forget every risk setting stored for `account`: the config file's apply again."""
    conn.execute(delete(account_risk).where(account_risk.c.account == account))
