"""Trading fees of the paper broker: one schedule per market, rates from `PaperFees`.

A fee is a sum of components (commission, stamp duty, transfer fee, levies), each a rate of
the notional (price x qty x multiplier) with an optional minimum, on one or both sides, each
rounded half up to the cent.

Minimums apply per order, as brokers charge them, while the fee is charged on every fill: a
fill pays what the order's fee on its cumulative notional grew by (`FeeSchedule.increment`).
So an order's fills always add up to exactly the fee of one fill of the whole order, and the
fee a buy freezes for its open part (at its limit price, never below the fill price) always
covers what its fills will charge.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from tradebridge.brokers.paper.config import PaperFees
from tradebridge.domain.enums import Side
from tradebridge.domain.money import round_money

ZERO = Decimal(0)
BOTH = frozenset(Side)
SELLS = frozenset({Side.SELL})


class FeeTable(StrEnum):
    """The schedule an instrument pays: a table of `[accounts.paper.fees]`."""

    CN_STOCK = "cn_stock"
    CN_BOND = "cn_bond"
    HK_STOCK = "hk_stock"
    US_STOCK = "us_stock"
    CN_FUTURES = "cn_futures"


@dataclass(frozen=True, slots=True)
class FeeComponent:
    rate: Decimal
    sides: frozenset[Side] = BOTH
    minimum: Decimal = ZERO


class FeeSchedule:
    def __init__(self, *components: FeeComponent) -> None:
        self._by_side = {
            side: tuple(c for c in components if side in c.sides and (c.rate or c.minimum))
            for side in Side
        }

    def total(self, side: Side, notional: Decimal) -> Decimal:
        """The fee of an order on `side` that traded `notional` in all (0 for nothing)."""
        if not notional:
            return ZERO
        fee = ZERO
        for component in self._by_side[side]:
            fee += round_money(max(notional * component.rate, component.minimum))
        return fee

    def increment(self, side: Side, before: Decimal, added: Decimal) -> Decimal:
        """The fee of a fill of `added` notional on an order that had traded `before`."""
        return self.total(side, before + added) - self.total(side, before)


def fee_schedules(fees: PaperFees) -> Mapping[FeeTable, FeeSchedule]:
    """The account's schedule for each table."""
    cn, bond, hk, us = fees.cn_stock, fees.cn_bond, fees.hk_stock, fees.us_stock
    return {
        FeeTable.CN_STOCK: FeeSchedule(
            FeeComponent(cn.commission_rate, minimum=cn.min_commission),
            FeeComponent(cn.stamp_duty_rate, SELLS),
            FeeComponent(cn.transfer_fee_rate),
        ),
        FeeTable.CN_BOND: FeeSchedule(
            FeeComponent(bond.commission_rate, minimum=bond.min_commission)
        ),
        FeeTable.HK_STOCK: FeeSchedule(
            FeeComponent(hk.commission_rate, minimum=hk.min_commission),
            FeeComponent(hk.stamp_duty_rate),
            FeeComponent(hk.trading_fee_rate),
            FeeComponent(hk.sfc_levy_rate),
        ),
        FeeTable.US_STOCK: FeeSchedule(
            FeeComponent(us.commission_rate, minimum=us.min_commission),
            FeeComponent(us.regulatory_fee_rate, SELLS),
        ),
        FeeTable.CN_FUTURES: FeeSchedule(FeeComponent(fees.cn_futures.commission_rate)),
    }
