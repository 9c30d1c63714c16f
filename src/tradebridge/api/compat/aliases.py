"""Integer order ids for the QMT dialects: each order's alias on its account (API.md §5).

xtquant and document 001's service name orders by integers, ours by ULIDs. An order gets
the next integer of its account (1, 2, 3...) the first time either dialect shows it, whoever
placed it (a dialect, /api/v1, the broker's own terminal), and keeps it: the aliases are in
the database (`order_aliases`), so they survive restarts and are the same in every web
worker and in both dialects.
"""

import asyncio
from collections.abc import Callable, Iterable
from typing import TypeVar

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import IntegrityError

from tradebridge.store import dialect_orders

T = TypeVar("T")

ATTEMPTS = 5
"""Tries of a step that another web worker's concurrent insert made fail."""


async def transact(db: Engine, step: Callable[[Connection], T]) -> T:
    """Run `step` in one transaction on a worker thread (the loop goes on meanwhile), again
    when a concurrent writer made it fail (it gave the same alias first)."""
    attempt = 1
    while True:
        try:
            return await asyncio.to_thread(_in_transaction, db, step)
        except IntegrityError:
            if attempt == ATTEMPTS:
                raise
            attempt += 1


def _in_transaction(db: Engine, step: Callable[[Connection], T]) -> T:
    with db.begin() as conn:
        return step(conn)


async def aliases(db: Engine, account: str, order_ids: Iterable[str]) -> dict[str, int]:
    """The alias of each order, given now to those that have none yet."""
    wanted = list(order_ids)
    if not wanted:
        return {}
    return await transact(db, lambda conn: dialect_orders.give_aliases(conn, account, wanted))


async def alias_of(db: Engine, account: str, order_id: str) -> int:
    return (await aliases(db, account, [order_id]))[order_id]


async def order_id_of(db: Engine, account: str, alias: int) -> str | None:
    """The order an alias names on `account`; None for an alias never given."""
    return await transact(db, lambda conn: dialect_orders.order_of_alias(conn, account, alias))
