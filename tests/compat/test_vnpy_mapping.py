"""The vnpy dialect's tables: complete both ways, both spellings of every enum value read
back, exchange codes to our venues and back."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from pydantic import ValidationError

from tradebridge.api.compat.vnpy.mapping import (
    ENGLISH,
    EXCHANGE_VENUE,
    OFFSET_VN,
    ORDER_KIND,
    VENUE_EXCHANGE,
    VN_OFFSET,
    VnDirection,
    VnExchange,
    VnOffset,
    VnOrderType,
    VnProduct,
    VnStatus,
    read_enum,
    read_vt_symbol,
    spell,
    vn_order_type,
    vn_status,
)
from tradebridge.api.compat.vnpy.objects import vn_time
from tradebridge.api.compat.vnpy.requests import VnpyOrderBody
from tradebridge.domain.enums import Offset, OrderStatus, OrderType, Side, TimeInForce
from tradebridge.domain.errors import ValidationFailed
from tradebridge.domain.symbols import Venue

VN_ENUMS = (VnDirection, VnOrderType, VnOffset, VnStatus, VnProduct)
LOCALE = {
    "多": "Long",
    "空": "Short",
    "净": "Net",
    "限价": "Limit",
    "市价": "Market",
    "STOP": "STOP",
    "FAK": "FAK",
    "FOK": "FOK",
    "询价": "RFQ",
    "": "",
    "开": "Open",
    "平": "Close",
    "平今": "Close Today",
    "平昨": "Close Yesterday",
    "提交中": "Submitting",
    "未成交": "Not Traded",
    "部分成交": "Part Traded",
    "全部成交": "All Traded",
    "已撤销": "Cancelled",
    "拒单": "Rejected",
    "股票": "Stock",
    "期货": "Futures",
    "ETF": "ETF",
    "债券": "Bond",
}
"""vnpy's Chinese values and its English locale's, written out here independently."""


def test_both_spellings_of_every_value() -> None:
    members = [member for kind in VN_ENUMS for member in kind]
    assert {m.value: spell(m, "en") for m in members} == LOCALE
    for member in members:
        assert spell(member, "zh") == member.value
        assert read_enum(type(member), member.value) is member
        assert read_enum(type(member), LOCALE[member.value]) is member
    assert set(ENGLISH) <= {m.value for m in members}


def test_an_unknown_spelling_names_the_accepted_ones() -> None:
    with pytest.raises(ValueError, match="'多', '空', '净', 'Long', 'Short', 'Net'"):
        read_enum(VnDirection, "long")


def test_every_status_and_venue_has_a_counterpart() -> None:
    assert {vn_status(status, 0) for status in OrderStatus} == set(VnStatus)
    assert vn_status(OrderStatus.PENDING_CANCEL, 3) is VnStatus.PART_TRADED
    assert set(VENUE_EXCHANGE) == set(Venue)
    assert set(EXCHANGE_VENUE) == set(VnExchange)
    for venue, exchange in VENUE_EXCHANGE.items():
        assert EXCHANGE_VENUE[exchange] is venue
    assert {EXCHANGE_VENUE[e] for e in (VnExchange.NASDAQ, VnExchange.NYSE)} == {Venue.US}


def test_offsets_and_order_types_round_trip() -> None:
    assert set(OFFSET_VN.values()) == set(VnOffset)
    for ours, vn in OFFSET_VN.items():
        assert VN_OFFSET[vn] is ours
    for vn_type, (order_type, time_in_force) in ORDER_KIND.items():
        assert vn_order_type(order_type, time_in_force) is vn_type
    assert vn_order_type(OrderType.LIMIT, TimeInForce.GTC) is VnOrderType.LIMIT


@pytest.mark.parametrize(
    ("vt_symbol", "symbol"),
    [
        ("600519.SSE", "600519.SH"),
        ("000001.SZSE", "000001.SZ"),
        ("430047.BSE", "430047.BJ"),
        ("00700.SEHK", "00700.HK"),
        ("AAPL.SMART", "AAPL.US"),
        ("aapl.NASDAQ", "AAPL.US"),
        ("TSLA.nyse", "TSLA.US"),
        ("cu2601.SHFE", "cu2601.SHFE"),
        ("SR601.CZCE", "SR601.CZCE"),
        ("IF2512.CFFEX", "IF2512.CFFEX"),
        ("sc2601.INE", "sc2601.INE"),
        ("si2601.GFEX", "si2601.GFEX"),
        ("m2601.DCE", "m2601.DCE"),
    ],
)
def test_vt_symbols(vt_symbol: str, symbol: str) -> None:
    assert read_vt_symbol(vt_symbol) == symbol


@pytest.mark.parametrize("vt_symbol", ["600519.SH", "600519", "6005.SSE", ".SSE"])
def test_bad_vt_symbols(vt_symbol: str) -> None:
    with pytest.raises(ValidationFailed):
        read_vt_symbol(vt_symbol)


def test_times_are_shown_in_china_time() -> None:
    moment = datetime(2026, 1, 5, 1, 30, 0, 250000, tzinfo=UTC)
    assert vn_time(moment) == "2026-01-05 09:30:00.250000+08:00"


def order_body(**change: object) -> VnpyOrderBody:
    body = {
        "symbol": "cu2601",
        "exchange": "SHFE",
        "direction": "空",
        "type": "FAK",
        "volume": 3.0,
        "price": 86010.0,
        "offset": "Close Yesterday",
        "reference": "CtaStrategy",
        "unknown": "ignored, as vnpy's model ignores it",
    }
    return VnpyOrderBody.model_validate(body | change)


def test_an_order_body_becomes_our_request() -> None:
    request = order_body().to_request()
    assert (request.symbol, request.side, request.qty) == ("cu2601.SHFE", Side.SELL, 3)
    assert (request.type, request.time_in_force) == (OrderType.LIMIT, TimeInForce.IOC)
    assert request.limit_price == Decimal("86010.0")
    assert request.offset is Offset.CLOSE_YESTERDAY
    assert request.client_order_id is None


def test_stock_orders_drop_the_offset_and_market_orders_the_price() -> None:
    stock = order_body(symbol="600519", exchange="SSE", type="市价", offset="开", volume=100)
    request = stock.to_request()
    assert (request.symbol, request.offset) == ("600519.SH", None)
    assert (request.type, request.limit_price) == (OrderType.MARKET, None)


def test_prices_keep_their_written_digits() -> None:
    assert order_body(price=0.1 + 0.2).price == Decimal("0.30000000000000004")
    assert order_body(price=4.001).to_request().limit_price == Decimal("4.001")


@pytest.mark.parametrize("volume", [1.5, 0, -1, float("inf"), True, "1", None])
def test_volumes_must_be_positive_whole_numbers(volume: object) -> None:
    with pytest.raises(ValidationError) as refused:
        order_body(volume=volume)
    assert refused.value.errors()[0]["loc"] == ("volume",)
