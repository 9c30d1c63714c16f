"""The order state machine: `transition`, `apply_fill`, `cancel_refused`, idempotency check."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import product

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tradebridge.domain.enums import (
    TERMINAL_STATUSES,
    Offset,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
)
from tradebridge.domain.errors import IllegalTransition
from tradebridge.domain.orders import (
    ALLOWED_TRANSITIONS,
    Order,
    OrderRequest,
    apply_fill,
    cancel_refused,
    new_order,
    transition,
)

S = OrderStatus
NOW = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)
LATER = NOW + timedelta(seconds=1)
TICK = Decimal("0.01")
FILL_STATUSES = frozenset({S.PARTIALLY_FILLED, S.FILLED})

REQUEST = OrderRequest(
    symbol="600519.SH",
    side=Side.BUY,
    qty=300,
    type=OrderType.LIMIT,
    limit_price=Decimal("10.05"),
    time_in_force=TimeInForce.DAY,
    client_order_id="cid-1",
)


def make_order(
    status: OrderStatus = S.NEW,
    *,
    qty: int = 300,
    filled_qty: int = 0,
    avg_fill_price: Decimal | None = None,
) -> Order:
    order = new_order(
        msgspec.structs.replace(REQUEST, qty=qty),
        order_id="ord-1",
        client_order_id="cid-1",
        account="paper",
        now=NOW,
    )
    if filled_qty and avg_fill_price is None:
        avg_fill_price = Decimal("10.00")
    return msgspec.structs.replace(
        order, status=status, filled_qty=filled_qty, avg_fill_price=avg_fill_price
    )


def _order_in(status: OrderStatus, target: OrderStatus | None = None) -> Order:
    """An order in `status` with a filled quantity that fits it (and, from `pending_cancel`,
    the one that lets a refused cancel return to `target`)."""
    partly = status is S.PARTIALLY_FILLED or (
        status is S.PENDING_CANCEL and target is S.PARTIALLY_FILLED
    )
    if status is S.FILLED:
        return make_order(status, filled_qty=300)
    return make_order(status, filled_qty=100 if partly else 0)


# --- new_order -------------------------------------------------------------------------------


def test_new_order_starts_pending_new_and_copies_the_request() -> None:
    order = new_order(REQUEST, order_id="o-9", client_order_id="c-9", account="acc", now=NOW)
    assert order.status is S.PENDING_NEW
    assert (order.id, order.client_order_id, order.account) == ("o-9", "c-9", "acc")
    assert order.symbol == REQUEST.symbol
    assert order.side is REQUEST.side
    assert order.qty == REQUEST.qty
    assert order.type is REQUEST.type
    assert order.limit_price == REQUEST.limit_price
    assert order.time_in_force is REQUEST.time_in_force
    assert order.offset is None
    assert order.filled_qty == 0
    assert order.remaining_qty == 300
    assert order.avg_fill_price is None
    assert order.reject_reason is None
    assert order.broker_order_id is None
    assert order.created_at == order.updated_at == NOW
    assert REQUEST.same_parameters(order)


# --- the transition table --------------------------------------------------------------------

# The lifecycle pinned independently of the code (Alpaca's order model, API.md §3): an order
# is acknowledged or refused, fills, may be asked to cancel, and ends filled, canceled,
# rejected or expired. `pending_cancel -> new/partially_filled` is a refused cancel.
EXPECTED_TRANSITIONS: dict[OrderStatus, set[OrderStatus]] = {
    S.PENDING_NEW: {
        S.NEW,
        S.PARTIALLY_FILLED,
        S.FILLED,
        S.PENDING_CANCEL,
        S.CANCELED,
        S.REJECTED,
        S.EXPIRED,
    },
    S.NEW: {S.PARTIALLY_FILLED, S.FILLED, S.PENDING_CANCEL, S.CANCELED, S.EXPIRED, S.REJECTED},
    S.PARTIALLY_FILLED: {S.PARTIALLY_FILLED, S.FILLED, S.PENDING_CANCEL, S.CANCELED, S.EXPIRED},
    S.PENDING_CANCEL: {S.NEW, S.PARTIALLY_FILLED, S.FILLED, S.CANCELED, S.EXPIRED},
    S.FILLED: set(),
    S.CANCELED: set(),
    S.REJECTED: set(),
    S.EXPIRED: set(),
}

ALL_PAIRS = list(product(OrderStatus, OrderStatus))


def test_the_transition_table_is_the_documented_lifecycle() -> None:
    assert {k: set(v) for k, v in ALLOWED_TRANSITIONS.items()} == EXPECTED_TRANSITIONS


PLAIN_ALLOWED = [
    (a, b) for a, b in ALL_PAIRS if b in ALLOWED_TRANSITIONS[a] and b not in FILL_STATUSES
]
NOT_ALLOWED = [(a, b) for a, b in ALL_PAIRS if b not in ALLOWED_TRANSITIONS[a]]


def test_table_covers_every_status_and_terminal_statuses_lead_nowhere() -> None:
    assert set(ALLOWED_TRANSITIONS) == set(OrderStatus)
    for status in OrderStatus:
        assert (ALLOWED_TRANSITIONS[status] == frozenset()) == status.is_terminal
        assert status.is_open != status.is_terminal
    assert {S.FILLED, S.CANCELED, S.REJECTED, S.EXPIRED} == TERMINAL_STATUSES
    # a refused cancel goes back; nothing goes back to pending_new
    assert S.NEW in ALLOWED_TRANSITIONS[S.PENDING_CANCEL]
    assert all(S.PENDING_NEW not in targets for targets in ALLOWED_TRANSITIONS.values())


@pytest.mark.parametrize(("source", "target"), PLAIN_ALLOWED, ids=lambda s: s.value)
def test_every_allowed_non_fill_transition_succeeds(
    source: OrderStatus, target: OrderStatus
) -> None:
    order = _order_in(source, target)
    moved = transition(order, target, LATER)
    assert moved.status is target
    assert moved.updated_at == LATER
    assert moved.created_at == NOW
    assert moved.filled_qty == order.filled_qty
    assert moved.avg_fill_price == order.avg_fill_price
    assert msgspec.structs.replace(moved, status=source, updated_at=NOW) == order
    assert order.status is source  # the original is untouched


@pytest.mark.parametrize(("source", "target"), NOT_ALLOWED, ids=lambda s: s.value)
def test_every_pair_outside_the_table_is_refused(source: OrderStatus, target: OrderStatus) -> None:
    order = _order_in(source, target)
    with pytest.raises(IllegalTransition) as caught:
        transition(order, target, LATER)
    error = caught.value
    assert error.code == "illegal_transition"
    assert error.details == {"order_id": "ord-1", "from": source.value, "to": target.value}
    assert source.value in error.message
    assert target.value in error.message


@pytest.mark.parametrize(
    ("source", "target"),
    [
        (a, b)
        for a, b in ALL_PAIRS
        if b in ALLOWED_TRANSITIONS[a] and b in FILL_STATUSES and a is not S.PENDING_CANCEL
    ]
    + [(S.PENDING_CANCEL, S.FILLED)],
    ids=lambda s: s.value,
)
def test_fill_statuses_are_refused_by_transition(source: OrderStatus, target: OrderStatus) -> None:
    order = _order_in(source)
    with pytest.raises(IllegalTransition, match="apply_fill"):
        transition(order, target, LATER)


@pytest.mark.parametrize(
    ("source", "target"),
    [(a, b) for a, b in ALL_PAIRS if b in ALLOWED_TRANSITIONS[a] and b in FILL_STATUSES],
    ids=lambda s: s.value,
)
def test_allowed_fill_transitions_are_reached_through_apply_fill_or_cancel_refused(
    source: OrderStatus, target: OrderStatus
) -> None:
    order = _order_in(source, target)
    if source is S.PENDING_CANCEL and target is S.PARTIALLY_FILLED:
        moved = cancel_refused(order, LATER)
    elif target is S.FILLED:
        moved = apply_fill(order, order.remaining_qty, Decimal("10.00"), TICK, LATER)
    else:
        moved = apply_fill(order, 1, Decimal("10.00"), TICK, LATER)
    assert moved.status is target


@pytest.mark.parametrize("source", list(OrderStatus), ids=lambda s: s.value)
def test_apply_fill_only_moves_along_the_table(source: OrderStatus) -> None:
    order = _order_in(source)
    for qty in {1, order.remaining_qty} - {0}:
        if source.is_terminal:
            with pytest.raises(IllegalTransition):
                apply_fill(order, qty, Decimal("10.00"), TICK, LATER)
            continue
        moved = apply_fill(order, qty, Decimal("10.00"), TICK, LATER)
        assert moved.status in ALLOWED_TRANSITIONS[source] | {source}


# --- refused cancel ----------------------------------------------------------------------------


def test_cancel_refused_returns_an_unfilled_order_to_new() -> None:
    pending = transition(make_order(S.NEW), S.PENDING_CANCEL, NOW)
    back = cancel_refused(pending, LATER)
    assert back.status is S.NEW
    assert back.filled_qty == 0
    assert back.updated_at == LATER


def test_cancel_refused_returns_a_partly_filled_order_to_partially_filled() -> None:
    partly = apply_fill(make_order(S.NEW), 100, Decimal("10.00"), TICK, NOW)
    pending = transition(partly, S.PENDING_CANCEL, NOW)
    back = cancel_refused(pending, LATER)
    assert back.status is S.PARTIALLY_FILLED
    assert back.filled_qty == 100
    assert back.avg_fill_price == Decimal("10.00")


def test_cancel_refused_after_a_fill_during_pending_cancel_returns_to_partially_filled() -> None:
    pending = transition(make_order(S.NEW), S.PENDING_CANCEL, NOW)
    filled_meanwhile = apply_fill(pending, 50, Decimal("10.00"), TICK, NOW)
    assert filled_meanwhile.status is S.PENDING_CANCEL
    assert cancel_refused(filled_meanwhile, LATER).status is S.PARTIALLY_FILLED


@pytest.mark.parametrize(
    "status",
    [S.NEW, S.PARTIALLY_FILLED, S.FILLED, S.CANCELED, S.REJECTED, S.EXPIRED],
    ids=lambda s: s.value,
)
def test_cancel_refused_without_a_pending_cancel_is_illegal(status: OrderStatus) -> None:
    with pytest.raises(IllegalTransition):
        cancel_refused(_order_in(status), LATER)


def test_a_refused_cancel_cannot_pretend_the_order_was_filled_or_not() -> None:
    unfilled = make_order(S.PENDING_CANCEL)
    with pytest.raises(IllegalTransition, match="returns to new"):
        transition(unfilled, S.PARTIALLY_FILLED, LATER)
    partly = make_order(S.PENDING_CANCEL, filled_qty=100)
    with pytest.raises(IllegalTransition, match="returns to partially_filled"):
        transition(partly, S.NEW, LATER)


# --- reasons and broker ids ------------------------------------------------------------------


def test_transition_records_reject_reason_and_broker_order_id() -> None:
    acked = transition(make_order(S.PENDING_NEW), S.NEW, NOW, broker_order_id="B-1")
    assert acked.broker_order_id == "B-1"
    assert acked.reject_reason is None
    pending = transition(acked, S.PENDING_CANCEL, NOW)
    assert pending.broker_order_id == "B-1"  # kept when not given again
    expired = transition(pending, S.EXPIRED, LATER, reason="end_of_day")
    assert expired.reject_reason == "end_of_day"
    assert expired.broker_order_id == "B-1"

    rejected = transition(make_order(S.PENDING_NEW), S.REJECTED, NOW, reason="risk_limit")
    assert rejected.status is S.REJECTED
    assert rejected.reject_reason == "risk_limit"


# --- terminal statuses -----------------------------------------------------------------------


@pytest.mark.parametrize("status", sorted(TERMINAL_STATUSES), ids=lambda s: s.value)
def test_terminal_statuses_accept_no_transition_and_no_fill(status: OrderStatus) -> None:
    order = _order_in(status)
    for target in OrderStatus:
        with pytest.raises(IllegalTransition):
            transition(order, target, LATER)
    with pytest.raises(IllegalTransition, match=f"fill after {status.value} refused"):
        apply_fill(order, 1, Decimal("10.00"), TICK, LATER)


def test_fill_after_canceled_is_refused() -> None:
    canceled = transition(make_order(S.NEW), S.CANCELED, NOW)
    with pytest.raises(IllegalTransition) as caught:
        apply_fill(canceled, 100, Decimal("10.00"), TICK, LATER)
    assert caught.value.details == {"order_id": "ord-1", "from": "canceled", "to": "fill"}


def test_new_after_filled_is_refused() -> None:
    filled = apply_fill(make_order(S.NEW), 300, Decimal("10.00"), TICK, NOW)
    assert filled.status is S.FILLED
    with pytest.raises(IllegalTransition, match="filled -> new"):
        transition(filled, S.NEW, LATER)


# --- fills -----------------------------------------------------------------------------------


def test_partial_then_full_fill_with_an_exact_average() -> None:
    order = make_order(S.NEW, qty=300)
    first = apply_fill(order, 100, Decimal("10.00"), TICK, NOW)
    assert first.status is S.PARTIALLY_FILLED
    assert first.filled_qty == 100
    assert first.remaining_qty == 200
    assert first.avg_fill_price == Decimal("10.00")
    second = apply_fill(first, 200, Decimal("10.03"), TICK, LATER)
    assert second.status is S.FILLED
    assert second.filled_qty == 300
    assert second.remaining_qty == 0
    assert second.updated_at == LATER
    assert str(second.avg_fill_price) == "10.0200"
    assert order.filled_qty == 0  # inputs untouched
    assert first.filled_qty == 100


@pytest.mark.parametrize(
    ("fills", "average"),
    [
        ([(100, "10.00"), (200, "10.03")], "10.0200"),
        ([(1, "10.00"), (2, "10.01")], "10.0067"),
        ([(1, "10.00"), (1, "10.00"), (1, "10.01")], "10.0033"),
        ([(2, "10.00"), (2, "10.01")], "10.0050"),
        ([(1, "10.00"), (1, "10.01")], "10.0050"),
        ([(100, "9.99")], "9.9900"),
        ([(100, "9.99"), (100, "9.99"), (100, "9.99")], "9.9900"),
        ([(100, "10.00"), (100, "10.02"), (100, "10.04")], "10.0200"),
    ],
)
def test_average_fill_price_over_a_sequence_of_fills(
    fills: list[tuple[int, str]], average: str
) -> None:
    order = make_order(S.NEW, qty=sum(q for q, _ in fills))
    for qty, price in fills:
        order = apply_fill(order, qty, Decimal(price), TICK, LATER)
    assert order.status is S.FILLED
    assert str(order.avg_fill_price) == average


@pytest.mark.parametrize(
    "status", [S.PENDING_NEW, S.NEW, S.PARTIALLY_FILLED, S.PENDING_CANCEL], ids=lambda s: s.value
)
def test_over_fill_is_refused(status: OrderStatus) -> None:
    order = _order_in(status)
    with pytest.raises(IllegalTransition) as caught:
        apply_fill(order, order.remaining_qty + 1, Decimal("10.00"), TICK, LATER)
    assert caught.value.details == {
        "order_id": "ord-1",
        "qty": order.remaining_qty + 1,
        "remaining": order.remaining_qty,
    }
    # exactly the remaining quantity is fine
    assert apply_fill(order, order.remaining_qty, Decimal("10.00"), TICK, LATER).status is S.FILLED


def test_fill_beyond_the_remaining_quantity_after_a_partial_fill_is_refused() -> None:
    partly = apply_fill(make_order(S.NEW, qty=300), 250, Decimal("10.00"), TICK, NOW)
    with pytest.raises(IllegalTransition, match="fill of 51 with 50 remaining"):
        apply_fill(partly, 51, Decimal("10.00"), TICK, LATER)


@pytest.mark.parametrize("qty", [0, -1, -300])
def test_zero_or_negative_fill_is_refused(qty: int) -> None:
    with pytest.raises(IllegalTransition):
        apply_fill(make_order(S.NEW), qty, Decimal("10.00"), TICK, LATER)
    with pytest.raises(IllegalTransition):
        apply_fill(make_order(S.PARTIALLY_FILLED, filled_qty=100), qty, Decimal("10"), TICK, LATER)


def test_fill_while_pending_cancel_stays_pending_cancel_until_complete() -> None:
    pending = transition(make_order(S.NEW, qty=300), S.PENDING_CANCEL, NOW)
    once = apply_fill(pending, 100, Decimal("10.00"), TICK, NOW)
    assert once.status is S.PENDING_CANCEL
    assert once.filled_qty == 100
    twice = apply_fill(once, 100, Decimal("10.03"), TICK, NOW)
    assert twice.status is S.PENDING_CANCEL
    assert twice.filled_qty == 200
    assert twice.avg_fill_price == Decimal("10.015")
    done = apply_fill(twice, 100, Decimal("10.03"), TICK, LATER)
    assert done.status is S.FILLED
    assert done.avg_fill_price == Decimal("10.02")
    # the cancel can still complete while partly filled
    assert transition(twice, S.CANCELED, LATER).filled_qty == 200


def test_fill_before_the_ack_moves_pending_new_forward() -> None:
    pending = make_order(S.PENDING_NEW, qty=300)
    assert apply_fill(pending, 100, Decimal("10.00"), TICK, NOW).status is S.PARTIALLY_FILLED
    assert apply_fill(pending, 300, Decimal("10.00"), TICK, NOW).status is S.FILLED


# --- idempotency -----------------------------------------------------------------------------


def test_same_parameters_matches_the_order_made_from_the_request() -> None:
    order = new_order(REQUEST, order_id="x", client_order_id="cid-1", account="paper", now=NOW)
    assert REQUEST.same_parameters(order)
    # the same price written differently is the same order
    assert msgspec.structs.replace(REQUEST, limit_price=Decimal("10.050")).same_parameters(order)
    # state of the order does not matter, only what was asked
    filled = apply_fill(order, 300, Decimal("10.00"), TICK, LATER)
    assert REQUEST.same_parameters(filled)


@pytest.mark.parametrize(
    "change",
    [
        {"symbol": "000001.SZ"},
        {"side": Side.SELL},
        {"qty": 200},
        {"type": OrderType.MARKET},
        {"limit_price": Decimal("10.06")},
        {"limit_price": None},
        {"time_in_force": TimeInForce.GTC},
        {"offset": Offset.OPEN},
    ],
    ids=lambda c: next(iter(c)),
)
def test_same_parameters_is_false_when_any_parameter_differs(change: dict[str, object]) -> None:
    order = new_order(REQUEST, order_id="x", client_order_id="cid-1", account="paper", now=NOW)
    assert not msgspec.structs.replace(REQUEST, **change).same_parameters(order)


# --- property: random fill sequences ---------------------------------------------------------

_TICKS = ["0.01", "0.001", "0.05", "0.2", "1", "5"]


@st.composite
def _fill_plan(draw: st.DrawFn) -> tuple[int, Decimal, list[tuple[int, Decimal]]]:
    qty = draw(st.integers(1, 5000))
    tick = Decimal(draw(st.sampled_from(_TICKS)))
    fills: list[tuple[int, Decimal]] = []
    left = qty
    for _ in range(draw(st.integers(1, 12))):
        if left == 0:
            break
        q = draw(st.integers(1, left))
        price = draw(st.integers(1, 200_000)) * tick
        fills.append((q, price))
        left -= q
    return qty, tick, fills


@given(plan=_fill_plan(), start=st.sampled_from([S.PENDING_NEW, S.NEW]))
def test_random_fill_sequences_keep_quantities_and_average_consistent(
    plan: tuple[int, Decimal, list[tuple[int, Decimal]]], start: OrderStatus
) -> None:
    qty, tick, fills = plan
    order = make_order(start, qty=qty)
    unit = tick.scaleb(-2)  # the last digit average_price keeps
    notional = Decimal(0)
    for count, (fill_qty, price) in enumerate(fills, start=1):
        order = apply_fill(order, fill_qty, price, tick, LATER)
        notional += fill_qty * price
        assert order.filled_qty == sum(q for q, _ in fills[:count])
        assert order.remaining_qty == qty - order.filled_qty
        assert (order.status is S.FILLED) == (order.filled_qty == qty)
        if order.filled_qty < qty:
            assert order.status is S.PARTIALLY_FILLED
        avg = order.avg_fill_price
        assert avg is not None
        # each fill rounds the average once, to half a unit of its last digit
        assert abs(avg * order.filled_qty - notional) <= count * order.filled_qty * unit / 2
        assert min(p for _, p in fills[:count]) <= avg <= max(p for _, p in fills[:count])
        assert avg.as_tuple().exponent == unit.as_tuple().exponent
    total = sum(q for q, _ in fills)
    assert order.filled_qty == total
    assert (order.status is S.FILLED) == (total == qty)


@given(
    qty=st.integers(1, 10_000),
    price_ticks=st.integers(1, 100_000),
    tick=st.sampled_from(_TICKS),
    parts=st.integers(1, 10),
)
def test_fills_at_one_price_average_exactly_to_that_price(
    qty: int, price_ticks: int, tick: str, parts: int
) -> None:
    price = price_ticks * Decimal(tick)
    order = make_order(S.NEW, qty=qty)
    sizes = [qty // parts + (1 if i < qty % parts else 0) for i in range(parts)]
    for size in sizes:
        if size:
            order = apply_fill(order, size, price, Decimal(tick), LATER)
    assert order.status is S.FILLED
    assert order.avg_fill_price == price
