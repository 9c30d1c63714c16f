"""Tick ladders: the HKEX spread table, US sub-dollar ticks, fixed ticks."""

from decimal import Decimal

import pytest

from tradebridge.domain.models import Contract
from tradebridge.domain.ticks import HK_TICKS, US_TICKS, TickLadder, ladder_for


@pytest.mark.parametrize(
    ("price", "tick"),
    [
        ("0.01", "0.001"),
        ("0.249", "0.001"),
        ("0.25", "0.005"),
        ("0.495", "0.005"),
        ("0.50", "0.01"),
        ("9.99", "0.01"),
        ("10", "0.02"),
        ("19.98", "0.02"),
        ("20", "0.05"),
        ("99.95", "0.05"),
        ("100", "0.1"),
        ("199.9", "0.1"),
        ("200", "0.2"),
        ("500", "0.5"),
        ("1000", "1"),
        ("2000", "2"),
        ("4998", "2"),
        ("5000", "5"),
        ("99995", "5"),
    ],
)
def test_hk_tick_follows_the_spread_table(price: str, tick: str) -> None:
    assert HK_TICKS.tick_at(Decimal(price)) == Decimal(tick)


@pytest.mark.parametrize(
    ("price", "down", "up"),
    [
        ("10.00", "9.99", "10.02"),
        ("0.50", "0.495", "0.51"),
        ("100.0", "99.95", "100.1"),
        ("5000", "4998", "5005"),
        ("480.0", "479.8", "480.2"),
    ],
)
def test_hk_steps_at_band_edges_use_the_tick_on_each_side(price: str, down: str, up: str) -> None:
    assert HK_TICKS.step_down(Decimal(price)) == Decimal(down)
    assert HK_TICKS.step_up(Decimal(price)) == Decimal(up)


def test_hk_on_tick_checks_the_band_of_the_price() -> None:
    assert HK_TICKS.is_on_tick(Decimal("10.02"))
    assert not HK_TICKS.is_on_tick(Decimal("10.01"))
    assert HK_TICKS.is_on_tick(Decimal("9.99"))
    assert HK_TICKS.step_down(Decimal("0.001")) is None


def test_us_tick_is_a_hundredth_from_one_dollar() -> None:
    assert US_TICKS.tick_at(Decimal("0.9999")) == Decimal("0.0001")
    assert US_TICKS.tick_at(Decimal(1)) == Decimal("0.01")
    assert US_TICKS.step_down(Decimal("1.00")) == Decimal("0.9999")


def _contract(symbol: str, tick: str) -> Contract:
    return Contract(
        symbol=symbol,
        name=symbol,
        currency="CNY",
        lot_size=100,
        tick_size=Decimal(tick),
        pre_close=Decimal(10),
    )


def test_ladder_for_picks_the_venue_ladder_or_the_contract_tick() -> None:
    assert ladder_for(_contract("00700.HK", "0.2")) is HK_TICKS
    assert ladder_for(_contract("AAPL.US", "0.01")) is US_TICKS
    etf = ladder_for(_contract("510300.SH", "0.001"))
    assert etf == TickLadder.fixed(Decimal("0.001"))
    assert etf.is_on_tick(Decimal("4.001"))
    assert not ladder_for(_contract("600519.SH", "0.01")).is_on_tick(Decimal("4.001"))
