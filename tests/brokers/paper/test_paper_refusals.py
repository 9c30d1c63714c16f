"""Orders the paper broker refuses: every refusal raises before any sink call."""

from decimal import Decimal

import msgspec
import pytest

from tradebridge.domain.enums import Offset, OrderType, RejectReason
from tradebridge.domain.errors import OrderRejected, ValidationFailed

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    ("symbol", "qty", "price", "reason", "message"),
    [
        ("000002.SZ", 100, "10.00", RejectReason.UNKNOWN_SYMBOL, "not traded by the paper"),
        ("600519.SH", 150, "1500.00", RejectReason.INVALID_LOT_SIZE, "lot of 100"),
        ("00005.HK", 100, "95.00", RejectReason.INVALID_LOT_SIZE, "lot of 400"),
        ("600519.SH", 100, "1500.005", RejectReason.INVALID_TICK_SIZE, "0.01 CNY tick"),
        ("510300.SH", 100, "4.0005", RejectReason.INVALID_TICK_SIZE, "0.001 CNY tick"),
        ("00700.HK", 100, "480.1", RejectReason.INVALID_TICK_SIZE, "0.2 HKD tick"),
        ("00005.HK", 400, "10.01", RejectReason.INVALID_TICK_SIZE, "0.02 HKD tick"),
        ("AAPL.US", 1, "230.001", RejectReason.INVALID_TICK_SIZE, "0.01 USD tick"),
    ],
)
async def test_venue_refusals(
    broker, sink, make_order, symbol, qty, price, reason, message
) -> None:
    with pytest.raises(OrderRejected) as caught:
        await broker.place_order(make_order(symbol, "buy", qty, price))

    assert caught.value.reason is reason
    assert message in caught.value.message
    assert sink.calls == []
    assert await broker.query_orders() == []


@pytest.mark.parametrize(
    ("symbol", "qty", "price"),
    [
        ("510300.SH", 100, "4.001"),
        ("00700.HK", 100, "480.2"),
        ("00005.HK", 400, "9.99"),
        ("00005.HK", 400, "10.02"),
        ("AAPL.US", 1, "230.01"),
    ],
)
async def test_on_lot_and_tick_is_accepted(broker, make_order, symbol, qty, price) -> None:
    await broker.place_order(make_order(symbol, "buy", qty, price))
    assert len(await broker.query_orders()) == 1


async def test_limit_order_without_price_is_invalid(broker, sink, make_order) -> None:
    order = make_order("600519.SH", "buy", 100, type=OrderType.LIMIT)
    with pytest.raises(ValidationFailed) as caught:
        await broker.place_order(order)
    assert caught.value.details == {
        "field": "limit_price",
        "errors": [{"field": "limit_price", "message": caught.value.message}],
    }
    assert sink.calls == []


@pytest.mark.parametrize("price", ["0", "-1500.00"])
async def test_non_positive_limit_price_is_invalid(broker, sink, make_order, price) -> None:
    with pytest.raises(ValidationFailed, match="limit_price must be positive"):
        await broker.place_order(make_order("600519.SH", "buy", 100, price))
    assert sink.calls == []


async def test_non_positive_qty_is_invalid(broker, sink, make_order) -> None:
    with pytest.raises(ValidationFailed, match="qty must be positive"):
        await broker.place_order(make_order("600519.SH", "buy", 0, "1500.00"))
    assert sink.calls == []


async def test_offset_on_a_stock_is_not_supported(broker, sink, make_order) -> None:
    order = msgspec.structs.replace(
        make_order("600519.SH", "buy", 100, "1500.00"), offset=Offset.OPEN
    )
    with pytest.raises(OrderRejected) as caught:
        await broker.place_order(order)
    assert caught.value.reason is RejectReason.NOT_SUPPORTED
    assert sink.calls == []


async def test_the_same_order_cannot_be_placed_twice(broker, sink, make_order) -> None:
    order = make_order("600519.SH", "buy", 100, "1490.00")
    await broker.place_order(order)
    sink.clear()

    with pytest.raises(ValidationFailed, match="already placed"):
        await broker.place_order(order)
    assert sink.calls == []
    assert (await broker.query_account()).frozen == Decimal("149038.74")
