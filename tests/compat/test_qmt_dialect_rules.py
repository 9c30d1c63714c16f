"""The QMT dialects' rules that need no server: their configuration, `place_order`'s query
parameters, prices, and xtquant's status names for every status of ours."""

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from tests.compat.qmt_support import XT_STATUS_NAMES

from tradebridge.api.compat.prices import price_of
from tradebridge.api.compat.xtquant_http.objects import order_status_name
from tradebridge.api.compat.xtquant_http.params import order_alias, order_request
from tradebridge.config import ConfigError, Settings, load_settings
from tradebridge.domain.enums import OrderStatus, OrderType, Side, TimeInForce
from tradebridge.domain.errors import ValidationFailed
from tradebridge.domain.orders import Order

# --------------------------------------------------------------------------- configuration


def settings_of(tmp_path: Path, text: str) -> Settings:
    path = tmp_path / "tradebridge.toml"
    path.write_text('[[accounts]]\nid = "paper"\n[[accounts]]\nid = "qmt1"\n' + text)
    return load_settings(path)


def test_defaults(tmp_path: Path) -> None:
    compat = settings_of(tmp_path, "").compat
    assert (compat.qmt_service.enabled, compat.qmt_service.account) == (False, "paper")
    assert compat.qmt_service.prefix == "/api/v1/trading"
    assert (compat.xtquant_http.enabled, compat.xtquant_http.prefix) == (False, "/xtquant/trade")


def test_every_key_is_read(tmp_path: Path) -> None:
    compat = settings_of(
        tmp_path,
        '[compat.qmt_service]\nenabled = true\naccount = "qmt1"\nprefix = "/trading"\n'
        '[compat.xtquant_http]\nenabled = true\naccount = "qmt1"\nprefix = "/xt/v1.0"\n',
    ).compat
    assert (compat.qmt_service.account, compat.qmt_service.prefix) == ("qmt1", "/trading")
    assert (compat.xtquant_http.account, compat.xtquant_http.prefix) == ("qmt1", "/xt/v1.0")


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('[compat.qmt_service]\nenabled = true\naccount = "nope"\n', "qmt_service.account"),
        ('[compat.xtquant_http]\nenabled = true\naccount = "nope"\n', "xtquant_http.account"),
        ('[compat.xtquant_http]\nprefix = "xtquant/trade"\n', "compat.xtquant_http.prefix"),
        ('[compat.xtquant_http]\nprefix = "/xtquant/trade/"\n', "compat.xtquant_http.prefix"),
        ('[compat.qmt_service]\nprefix = "/"\n', "compat.qmt_service.prefix"),
        ('[compat.qmt_service]\nprefix = "/a b"\n', "compat.qmt_service.prefix"),
        ("[compat.qmt_service]\nport = 7800\n", "compat.qmt_service.port"),
        (
            '[compat.qmt_service]\nenabled = true\nprefix = "/q"\n'
            '[compat.xtquant_http]\nenabled = true\nprefix = "/q"\n',
            "different prefixes",
        ),
    ],
)
def test_bad_settings_name_the_key(tmp_path: Path, text: str, problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        settings_of(tmp_path, text)


def test_a_disabled_dialect_may_name_any_account(tmp_path: Path) -> None:
    settings_of(tmp_path, '[compat.xtquant_http]\naccount = "later"\n')


# --------------------------------------------------------------------------- parameters


def test_place_order_parameters() -> None:
    request = order_request("113025.sh", None, "10", None, "300")
    assert (request.symbol, request.side, request.qty) == ("113025.SH", Side.BUY, 10)
    assert (request.type, request.limit_price, request.client_order_id) == (
        OrderType.LIMIT,
        Decimal("300"),
        None,
    )
    assert order_request("600519.SH", "Sell", None, "100", "1500.01").side is Side.SELL
    assert order_request("600519.SH", "sell", "100", "100", "1500.01").qty == 100


@pytest.mark.parametrize(
    ("args", "fields"),
    [
        ((None, None, None, None, None), ["stock_code", "volumn", "price"]),
        (("600519.SH", "buy", "100", "200", "1"), ["volumn"]),
        (("600519.SH", "long", "100", None, "1"), ["direction"]),
        (("600519.SH", "buy", "１００", None, "1"), ["volumn"]),  # digits, but not ASCII ones
        (("600519.SH", "buy", "100", None, "1e400"), ["price"]),
        (("600519.SH", "buy", "100", None, "1.123456789"), ["price"]),
        (("600519.SH", "buy", "100", None, "inf"), ["price"]),
        (("600519", "sell", "-1", None, "0"), ["stock_code", "volumn", "price"]),
    ],
)
def test_bad_place_order_parameters_are_all_named(
    args: tuple[str | None, ...], fields: list[str]
) -> None:
    with pytest.raises(ValidationFailed) as caught:
        order_request(*args)
    assert [e["field"] for e in caught.value.details["errors"]] == fields


def test_order_ids() -> None:
    assert order_alias("42", required=True) == 42
    assert order_alias(None, required=False) is None
    assert order_alias(" ", required=False) is None
    for text in (None, "", "0", "4.2", "x", "-1"):
        with pytest.raises(ValidationFailed):
            order_alias(text, required=True)


@pytest.mark.parametrize(
    ("value", "price"),
    [
        (300.0, "300.0"),
        (0.1, "0.1"),
        (4.4, "4.4"),
        (1500, "1500"),
        ("305.001", "305.001"),
        ("1.50000000000", "1.50000000000"),
    ],
)
def test_prices_as_written(value: object, price: str) -> None:
    assert str(price_of(value)) == price


@pytest.mark.parametrize("value", [True, None, [], float("nan"), float("inf"), -1.0, "1,5", 1e12])
def test_what_is_not_a_price(value: object) -> None:
    with pytest.raises(ValueError, match="price"):
        price_of(value)


# --------------------------------------------------------------------------- statuses


def _order(status: OrderStatus, filled: int) -> Order:
    now = datetime(2026, 1, 5, 2, tzinfo=UTC)
    return Order(
        id="01TEST00000000000000000000",
        client_order_id="xt-1",
        account="paper",
        symbol="113025.SH",
        side=Side.BUY,
        offset=None,
        type=OrderType.LIMIT,
        time_in_force=TimeInForce.DAY,
        qty=30,
        limit_price=Decimal("300"),
        filled_qty=filled,
        avg_fill_price=None,
        status=status,
        reject_reason=None,
        broker_order_id=None,
        created_at=now,
        updated_at=now,
    )


@pytest.mark.parametrize(
    ("status", "filled", "name"),
    [
        (OrderStatus.PENDING_NEW, 0, "待报"),
        (OrderStatus.NEW, 0, "已报"),
        (OrderStatus.PARTIALLY_FILLED, 10, "部成"),
        (OrderStatus.FILLED, 30, "已成"),
        (OrderStatus.PENDING_CANCEL, 0, "已报待撤"),
        (OrderStatus.PENDING_CANCEL, 10, "部成待撤"),
        (OrderStatus.CANCELED, 0, "已撤"),
        (OrderStatus.CANCELED, 10, "部撤"),
        (OrderStatus.EXPIRED, 0, "已撤"),
        (OrderStatus.EXPIRED, 10, "部撤"),
        (OrderStatus.REJECTED, 0, "废单"),
    ],
)
def test_status_names(status: OrderStatus, filled: int, name: str) -> None:
    assert order_status_name(_order(status, filled)) == name


def test_every_status_has_one_of_xtquants_names() -> None:
    for status in OrderStatus:
        for filled in (0, 10):
            assert order_status_name(_order(status, filled)) in XT_STATUS_NAMES
