"""What the QMT dialects keep of orders: integer aliases and unsettled placements.

Both run in a caller's transaction; a concurrent writer (another web worker) can make an
insert fail with `IntegrityError`, after which the caller runs the whole step again.
"""

from collections.abc import Collection, Iterable, Mapping
from datetime import datetime

from sqlalchemy import Connection, delete, func, insert, select

from tradebridge.store.schema import order_aliases, unsettled_placements


def aliases_of(conn: Connection, account: str, order_ids: Collection[str]) -> dict[str, int]:
    """The aliases `order_ids` have already (orders without one are left out)."""
    if not order_ids:
        return {}
    rows = conn.execute(
        select(order_aliases.c.order_id, order_aliases.c.alias).where(
            order_aliases.c.account == account, order_aliases.c.order_id.in_(set(order_ids))
        )
    )
    return {order_id: alias for order_id, alias in rows}


def give_aliases(conn: Connection, account: str, order_ids: Iterable[str]) -> dict[str, int]:
    """The alias of each of `order_ids`; those without one get the next integers of the
    account (1 for its first), in the order given."""
    wanted = list(dict.fromkeys(order_ids))
    known = aliases_of(conn, account, wanted)
    missing = [order_id for order_id in wanted if order_id not in known]
    if not missing:
        return known
    top = conn.scalar(
        select(func.coalesce(func.max(order_aliases.c.alias), 0)).where(
            order_aliases.c.account == account
        )
    )
    given = {order_id: int(top or 0) + n for n, order_id in enumerate(missing, start=1)}
    conn.execute(
        insert(order_aliases),
        [{"account": account, "alias": a, "order_id": o} for o, a in given.items()],
    )
    return known | given


def order_of_alias(conn: Connection, account: str, alias: int) -> str | None:
    return conn.scalar(
        select(order_aliases.c.order_id).where(
            order_aliases.c.account == account, order_aliases.c.alias == alias
        )
    )


def remember_placement(
    conn: Connection,
    account: str,
    request_key: str,
    client_order_id: str,
    now: datetime,
    stale_before: datetime,
) -> None:
    """Keep (or renew) the client order id of an unsettled placement; placements made
    before `stale_before`, too old to be taken for a retry now, are dropped meanwhile."""
    conn.execute(
        delete(unsettled_placements).where(
            (unsettled_placements.c.created_at < stale_before)
            | (
                (unsettled_placements.c.account == account)
                & (unsettled_placements.c.request_key == request_key)
            )
        )
    )
    conn.execute(
        insert(unsettled_placements).values(
            account=account,
            request_key=request_key,
            client_order_id=client_order_id,
            created_at=now,
        )
    )


def unsettled_placement(
    conn: Connection, account: str, request_key: str, since: datetime
) -> str | None:
    """The client order id of the unsettled placement `request_key` made at or after
    `since`, if there is one."""
    return conn.scalar(
        select(unsettled_placements.c.client_order_id).where(
            unsettled_placements.c.account == account,
            unsettled_placements.c.request_key == request_key,
            unsettled_placements.c.created_at >= since,
        )
    )


def forget_placement(conn: Connection, account: str, request_key: str) -> None:
    conn.execute(
        delete(unsettled_placements).where(
            unsettled_placements.c.account == account,
            unsettled_placements.c.request_key == request_key,
        )
    )


def forget_shown(conn: Connection, account: str, shown: Mapping[str, str]) -> None:
    """Forget the unsettled placements of orders a caller has now been shown: `shown` maps
    each shown order's client order id to the request key the caller would have placed it
    under, so another caller's placement of the same order stays (that caller was not
    told). Reads first, so that a listing with nothing to forget (the common case) does not
    write."""
    if not shown:
        return
    rows = conn.execute(
        select(unsettled_placements.c.client_order_id, unsettled_placements.c.request_key).where(
            unsettled_placements.c.account == account,
            unsettled_placements.c.client_order_id.in_(set(shown)),
        )
    )
    told = [key for client_order_id, key in rows if shown[client_order_id] == key]
    if told:
        conn.execute(
            delete(unsettled_placements).where(
                unsettled_placements.c.account == account,
                unsettled_placements.c.request_key.in_(told),
            )
        )
