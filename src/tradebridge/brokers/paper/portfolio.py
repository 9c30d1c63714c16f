"""Cash, holdings and realized P&L of one paper account, kept exact; rounded only for output.

Open orders reserve what they may spend: a buy freezes cash (`frozen`, so `available = cash -
frozen`), a sell freezes shares (`frozen_qty`, so `available_qty = qty - frozen_qty`). The
broker checks availability before freezing; this module only keeps the books.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from tradebridge.domain.models import AccountSummary, Balance, Position
from tradebridge.domain.money import round_money

ZERO = Decimal(0)


@dataclass(slots=True)
class CashBalance:
    cash: Decimal
    frozen: Decimal = ZERO

    @property
    def available(self) -> Decimal:
        return self.cash - self.frozen


@dataclass(slots=True)
class Holding:
    """A long position. `avg_cost` is the weighted average buy price including buy fees, so
    realized P&L on a sell is net of the fees of both sides."""

    symbol: str
    currency: str
    qty: int = 0
    frozen_qty: int = 0
    avg_cost: Decimal = ZERO

    @property
    def available_qty(self) -> int:
        return self.qty - self.frozen_qty


class Portfolio:
    def __init__(self, cash: Mapping[str, Decimal]) -> None:
        self._cash = {currency: CashBalance(amount) for currency, amount in cash.items()}
        self._holdings: dict[str, Holding] = {}
        self._realized: dict[str, Decimal] = {}

    def _balance(self, currency: str) -> CashBalance:
        return self._cash.setdefault(currency, CashBalance(ZERO))

    def available_cash(self, currency: str) -> Decimal:
        balance = self._cash.get(currency)
        return balance.available if balance is not None else ZERO

    def freeze_cash(self, currency: str, amount: Decimal) -> None:
        self._balance(currency).frozen += amount

    def release_cash(self, currency: str, amount: Decimal) -> None:
        self._balance(currency).frozen -= amount

    def holding(self, symbol: str) -> Holding | None:
        return self._holdings.get(symbol)

    def holdings(self) -> list[Holding]:
        return list(self._holdings.values())

    def available_qty(self, symbol: str) -> int:
        holding = self._holdings.get(symbol)
        return holding.available_qty if holding is not None else 0

    def freeze_qty(self, symbol: str, qty: int) -> None:
        self._holdings[symbol].frozen_qty += qty

    def release_qty(self, symbol: str, qty: int) -> None:
        self._holdings[symbol].frozen_qty -= qty

    def buy(
        self,
        symbol: str,
        currency: str,
        qty: int,
        price: Decimal,
        fee: Decimal,
        *,
        release: Decimal,
    ) -> None:
        """Book a buy fill, first releasing `release` of the cash its order froze."""
        balance = self._balance(currency)
        balance.frozen -= release
        cost = price * qty + fee
        balance.cash -= cost
        holding = self._holdings.setdefault(symbol, Holding(symbol, currency))
        holding.avg_cost = (holding.avg_cost * holding.qty + cost) / (holding.qty + qty)
        holding.qty += qty

    def sell(self, symbol: str, qty: int, price: Decimal, fee: Decimal) -> None:
        """Book a sell fill of shares its order froze; a holding sold out disappears."""
        holding = self._holdings[symbol]
        holding.qty -= qty
        holding.frozen_qty -= qty
        self._balance(holding.currency).cash += price * qty - fee
        realized = (price - holding.avg_cost) * qty - fee
        self._realized[holding.currency] = self._realized.get(holding.currency, ZERO) + realized
        if holding.qty == 0:
            del self._holdings[symbol]

    def balances(self) -> list[Balance]:
        return [
            Balance(
                currency=currency,
                cash=round_money(balance.cash),
                available=round_money(balance.available),
                frozen=round_money(balance.frozen),
            )
            for currency, balance in self._cash.items()
        ]

    def position(
        self, symbol: str, currency: str, last: Decimal, cost_quantum: Decimal
    ) -> Position:
        """The position in `symbol` valued at `last`; qty 0 when there is none (any more).

        `avg_cost` is shown to `cost_quantum` (finer than the tick), money to the cent.
        """
        holding = self._holdings.get(symbol) or Holding(symbol, currency)
        return Position(
            symbol=symbol,
            qty=holding.qty,
            available_qty=holding.available_qty,
            avg_cost=holding.avg_cost.quantize(cost_quantum, rounding=ROUND_HALF_UP),
            last_price=last,
            market_value=round_money(last * holding.qty),
            unrealized_pnl=round_money((last - holding.avg_cost) * holding.qty),
            currency=currency,
        )

    def summary(
        self, account: str, base_currency: str, last_price: Callable[[str], Decimal]
    ) -> AccountSummary:
        """Totals of `base_currency` only (no conversion); `balances` lists every currency."""
        balance = self._cash.get(base_currency) or CashBalance(ZERO)
        held = [h for h in self._holdings.values() if h.currency == base_currency]
        market_value = sum((last_price(h.symbol) * h.qty for h in held), ZERO)
        unrealized = sum(((last_price(h.symbol) - h.avg_cost) * h.qty for h in held), ZERO)
        return AccountSummary(
            account=account,
            currency=base_currency,
            cash=round_money(balance.cash),
            available=round_money(balance.available),
            frozen=round_money(balance.frozen),
            market_value=round_money(market_value),
            equity=round_money(balance.cash + market_value),
            realized_pnl=round_money(self._realized.get(base_currency, ZERO)),
            unrealized_pnl=round_money(unrealized),
            balances=self.balances(),
        )
