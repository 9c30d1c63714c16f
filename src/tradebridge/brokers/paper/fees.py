"""Trading fees of the paper broker.

v0 charges nothing. The venue schedules of MARKET_RULES.md (commission with a minimum,
stamp duty, transfer and exchange fees) replace the body of `fee_for` in the next issue;
every cash movement already goes through it.
"""

from decimal import Decimal

from tradebridge.domain.enums import Side
from tradebridge.domain.models import Contract


def fee_for(contract: Contract, side: Side, qty: int, price: Decimal) -> Decimal:
    """The fee charged for one fill of `qty` at `price`."""
    return Decimal(0)


def buy_cost(contract: Contract, qty: int, price: Decimal) -> Decimal:
    """Cash a buy of `qty` at `price` takes, fee included: what a buy order freezes."""
    return price * qty + fee_for(contract, Side.BUY, qty, price)
