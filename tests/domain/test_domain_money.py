"""Decimal money helpers: cent rounding, ticks, average prices."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tradebridge.domain.money import (
    CENT,
    average_price,
    is_on_tick,
    price_form,
    round_money,
    round_to_tick,
    tick_places,
    to_decimal,
)

D = Decimal


@pytest.mark.parametrize(
    ("amount", "rounded"),
    [
        ("1.005", "1.01"),
        ("1.0049999", "1.00"),
        ("2.675", "2.68"),  # 2.67 with binary floats
        ("0.125", "0.13"),  # 0.12 with banker's rounding
        ("0.135", "0.14"),
        ("10", "10.00"),
        ("10.1", "10.10"),
        ("0.001", "0.00"),
        ("0.004", "0.00"),
        ("0.005", "0.01"),
        ("123456789.995", "123456790.00"),
        ("-1.005", "-1.01"),  # ties away from zero on both sides
        ("-1.004", "-1.00"),
    ],
)
def test_round_money_is_half_up_to_the_cent(amount: str, rounded: str) -> None:
    result = round_money(D(amount))
    assert str(result) == rounded
    assert result.as_tuple().exponent == CENT.as_tuple().exponent


@given(st.decimals(min_value=-(10**9), max_value=10**9, places=6))
def test_round_money_is_within_half_a_cent_and_idempotent(amount: Decimal) -> None:
    rounded = round_money(amount)
    assert abs(rounded - amount) <= D("0.005")
    assert round_money(rounded) == rounded
    assert rounded % CENT == 0


def test_to_decimal_is_exact_and_refuses_floats() -> None:
    assert to_decimal("10.03") == D("10.03")
    assert to_decimal(7) == D(7)
    value = D("1.10")
    assert to_decimal(value) is value
    with pytest.raises(TypeError):
        to_decimal(0.1)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("price", "tick", "on_tick"),
    [
        ("10.00", "0.01", True),
        ("10", "0.01", True),
        ("10.01", "0.01", True),
        ("10.005", "0.01", False),
        ("4.001", "0.001", True),
        ("4.0015", "0.001", False),
        ("10.2", "0.2", True),
        ("10.1", "0.2", False),
        ("10.20", "0.2", True),
        ("0.25", "0.005", True),
        ("0.252", "0.005", False),
        ("4995", "5", True),
        ("4998", "5", False),
        ("3520", "10", True),
        ("3525", "10", False),
        ("0", "0.01", True),
        ("0.9999", "0.0001", True),
    ],
)
def test_is_on_tick(price: str, tick: str, on_tick: bool) -> None:
    assert is_on_tick(D(price), D(tick)) is on_tick


@pytest.mark.parametrize(
    ("price", "tick", "rounded"),
    [
        ("10.005", "0.01", "10.01"),
        ("10.0049", "0.01", "10.00"),
        ("10", "0.01", "10.00"),
        ("10.01", "0.01", "10.01"),
        ("10.1", "0.2", "10.2"),
        ("10.09", "0.2", "10.0"),
        ("10.3", "0.2", "10.4"),
        ("4997.5", "5", "5000"),
        ("4997.4", "5", "4995"),
        ("0.2525", "0.005", "0.255"),
        ("0.2524", "0.005", "0.250"),
        ("4.0015", "0.001", "4.002"),
        ("3525", "10", "3530"),
    ],
)
def test_round_to_tick_is_the_nearest_multiple_half_up(price: str, tick: str, rounded: str) -> None:
    assert str(round_to_tick(D(price), D(tick))) == rounded


_TICKS = st.sampled_from(["0.0001", "0.001", "0.005", "0.01", "0.05", "0.2", "0.5", "1", "5"])


@given(price=st.decimals(min_value=0, max_value=100_000, places=5), tick=_TICKS)
def test_round_to_tick_lands_on_the_tick_within_half_a_tick(price: Decimal, tick: str) -> None:
    step = D(tick)
    rounded = round_to_tick(price, step)
    assert is_on_tick(rounded, step)
    assert abs(rounded - price) <= step / 2
    assert round_to_tick(rounded, step) == rounded
    assert rounded.as_tuple().exponent == step.as_tuple().exponent


@pytest.mark.parametrize(
    ("notional", "qty", "tick", "average"),
    [
        ("3006.00", 300, "0.01", "10.0200"),  # 100 @ 10.00 + 200 @ 10.03
        ("1000", 100, "0.01", "10.0000"),
        ("30.01", 3, "0.01", "10.0033"),
        ("30.02", 3, "0.01", "10.0067"),
        ("20.01", 2, "0.01", "10.0050"),
        ("20.0001", 2, "0.01", "10.0000"),  # 10.00005: half even
        ("20.0003", 2, "0.01", "10.0002"),  # 10.00015: half even
        ("8.003", 2, "0.001", "4.00150"),
        ("8.004", 2, "0.001", "4.00200"),
        ("20.4", 2, "0.2", "10.200"),
        ("9990", 2, "5", "4995.00"),
        ("9995", 2, "5", "4997.50"),
        ("9990", 2, "10", "4995.00"),
        ("1.9999", 2, "0.0001", "0.999950"),
        ("0", 1, "0.01", "0.0000"),
    ],
)
def test_average_price_is_always_two_decimals_finer_than_the_tick(
    notional: str, qty: int, tick: str, average: str
) -> None:
    assert str(average_price(D(notional), qty, D(tick))) == average


@pytest.mark.parametrize(
    ("notional", "qty", "tick", "average"),
    [
        ("10.1", 1, "0.2", "10.100"),  # 10.1 is between HK ticks 10.0 and 10.2
        ("9996", 2, "5", "4998.00"),  # 4998 is between ticks 4995 and 5000
        ("0.502", 2, "0.005", "0.25100"),
    ],
)
def test_average_price_off_a_non_decimal_tick_keeps_the_finer_digits(
    notional: str, qty: int, tick: str, average: str
) -> None:
    """The form follows the tick's decimals, not whether the average is a multiple of it."""
    result = average_price(D(notional), qty, D(tick))
    assert result == D(average)
    assert not is_on_tick(result, D(tick))
    assert str(result) == average


@given(price_ticks=st.integers(1, 1_000_000), qty=st.integers(1, 100_000), tick=_TICKS)
def test_average_of_a_single_price_is_that_price_on_tick(
    price_ticks: int, qty: int, tick: str
) -> None:
    price = price_ticks * D(tick)
    result = average_price(price * qty, qty, D(tick))
    assert result == price
    assert result.as_tuple().exponent == D(tick).as_tuple().exponent - 2


@given(notional_units=st.integers(1, 10**10), qty=st.integers(1, 10_000), tick=_TICKS)
def test_average_price_is_within_half_a_fine_unit_of_the_true_average(
    notional_units: int, qty: int, tick: str
) -> None:
    step = D(tick)
    notional = notional_units * step
    result = average_price(notional, qty, step)
    fine = step.scaleb(-2)
    assert abs(result - notional / qty) <= fine / 2
    assert result.as_tuple().exponent == fine.as_tuple().exponent


@pytest.mark.parametrize(
    ("tick", "places"),
    [
        ("0.01", 2),
        ("0.010", 2),
        ("0.2", 1),
        ("0.005", 3),
        ("1", 0),
        ("5", 0),
        ("10", 0),
        ("1E+1", 0),
    ],
)
def test_tick_places_are_the_decimals_of_the_tick(tick: str, places: int) -> None:
    assert tick_places(D(tick)) == places


@pytest.mark.parametrize(
    ("price", "tick", "shown"),
    [
        ("1540", "0.01", "1540.00"),
        ("1500.5", "0.01", "1500.50"),
        ("1500.520", "0.01", "1500.52"),
        ("85970", "10", "85970"),
        ("85970.00", "10", "85970"),
        ("480.8", "0.2", "480.8"),
        ("1500.505", "0.01", "1500.505"),  # off the tick's digits: kept, never rounded
    ],
)
def test_price_form_writes_the_tick_decimals_without_changing_the_value(
    price: str, tick: str, shown: str
) -> None:
    result = price_form(D(price), D(tick))
    assert str(result) == shown
    assert result == D(price)
