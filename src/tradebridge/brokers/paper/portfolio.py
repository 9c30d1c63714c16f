"""Cash, stock holdings and realized P&L of one paper account, kept exact; rounded only for
output. Futures positions live in `futures`; their margin, P&L and fees pass through the cash
kept here.

Open orders reserve what they may spend: a buy freezes cash (`frozen`, so `available = cash -
frozen`; futures margin in use is frozen cash too), a sell freezes shares (`frozen_qty`).
Shares bought today of a T+1 contract are `unsettled` until the day rolls, so
`available_qty = qty - frozen_qty - unsettled`. The broker checks availability before
freezing; this module only keeps the books.
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
    _shown: tuple[Decimal, Decimal, Balance] | None = None
    """The last `shown` balance and the amounts it was made from."""

    @property
    def available(self) -> Decimal:
        return self.cash - self.frozen

    def shown(self, currency: str) -> Balance:
        """The balance rounded for output. Every account push shows every currency, most
        of them unchanged, so it is remade only when cash or frozen changed."""
        cache = self._shown
        if cache is not None and cache[0] is self.cash and cache[1] is self.frozen:
            return cache[2]
        balance = Balance(
            currency=currency,
            cash=round_money(self.cash),
            available=round_money(self.available),
            frozen=round_money(self.frozen),
        )
        self._shown = (self.cash, self.frozen, balance)
        return balance


@dataclass(slots=True)
class Holding:
    """A long stock position. `avg_cost` is the weighted average buy price including buy
    fees, so realized P&L on a sell is net of the fees of both sides."""

    symbol: str
    currency: str
    qty: int = 0
    frozen_qty: int = 0
    unsettled: int = 0
    """Bought today under T+1: held, not yet sellable."""
    avg_cost: Decimal = ZERO

    @property
    def available_qty(self) -> int:
        return self.qty - self.frozen_qty - self.unsettled


class Portfolio:
    def __init__(self, cash: Mapping[str, Decimal]) -> None:
        self._cash = {currency: CashBalance(amount) for currency, amount in cash.items()}
        self._holdings: dict[str, Holding] = {}
        self._realized: dict[str, Decimal] = {}

    def _balance(self, currency: str) -> CashBalance:
        balance = self._cash.get(currency)
        if balance is None:
            balance = self._cash[currency] = CashBalance(ZERO)
        return balance

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

    def freeze_qty(self, symbol: str, qty: int) -> None:
        self._holdings[symbol].frozen_qty += qty

    def release_qty(self, symbol: str, qty: int) -> None:
        self._holdings[symbol].frozen_qty -= qty

    def buy(
        self,
        symbol: str,
        currency: str,
        qty: int,
        amount: Decimal,
        fee: Decimal,
        *,
        release: Decimal,
        unsettled: bool,
    ) -> None:
        """Book a buy fill of `qty` shares for `amount` (price x qty, to the cent), first
        releasing `release` of the cash its order froze; the shares are `unsettled` (not
        sellable before the next day) under T+1."""
        balance = self._balance(currency)
        balance.frozen -= release
        cost = amount + fee
        balance.cash -= cost
        holding = self._holdings.setdefault(symbol, Holding(symbol, currency))
        holding.avg_cost = (holding.avg_cost * holding.qty + cost) / (holding.qty + qty)
        holding.qty += qty
        if unsettled:
            holding.unsettled += qty

    def sell(self, symbol: str, qty: int, amount: Decimal, fee: Decimal) -> None:
        """Book a sell fill of `qty` shares its order froze, for `amount` (to the cent); a
        holding sold out disappears."""
        holding = self._holdings[symbol]
        holding.qty -= qty
        holding.frozen_qty -= qty
        self._balance(holding.currency).cash += amount - fee
        realized = amount - holding.avg_cost * qty - fee
        self._realized[holding.currency] = self._realized.get(holding.currency, ZERO) + realized
        if holding.qty == 0:
            del self._holdings[symbol]

    def book_futures(
        self, currency: str, pnl: Decimal, fee: Decimal, *, frozen_change: Decimal
    ) -> None:
        """Book a futures fill: credit its P&L (non-zero on closes), debit its fee, both
        realized, so equity always equals the initial cash plus realized and unrealized P&L;
        and change the frozen cash by what the fill did to order freezes and margin."""
        balance = self._balance(currency)
        balance.cash += pnl - fee
        balance.frozen += frozen_change
        self._realized[currency] = self._realized.get(currency, ZERO) + pnl - fee

    def settle(self) -> None:
        """A new trading day: every share bought under T+1 becomes sellable."""
        for holding in self._holdings.values():
            holding.unsettled = 0

    def balances(self) -> list[Balance]:
        return [balance.shown(currency) for currency, balance in self._cash.items()]

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
        self,
        account: str,
        base_currency: str,
        last_price: Callable[[str], Decimal],
        futures_unrealized: Decimal,
    ) -> AccountSummary:
        """Totals of `base_currency` only (no conversion); `balances` lists every currency.

        `market_value` is what the stocks are worth; futures are not owned, so only their
        unrealized P&L (`futures_unrealized`, in `base_currency`) adds to `unrealized_pnl`
        and `equity` (= cash + market_value + futures unrealized P&L), and their margin is
        in `frozen`.
        """
        balance = self._cash.get(base_currency) or CashBalance(ZERO)
        shown = balance.shown(base_currency)
        market_value = unrealized = ZERO
        for h in self._holdings.values():
            if h.currency == base_currency:
                last = last_price(h.symbol)
                market_value += last * h.qty
                unrealized += (last - h.avg_cost) * h.qty
        unrealized += futures_unrealized
        return AccountSummary(
            account=account,
            currency=base_currency,
            cash=shown.cash,
            available=shown.available,
            frozen=shown.frozen,
            market_value=round_money(market_value),
            equity=round_money(balance.cash + market_value + futures_unrealized),
            realized_pnl=round_money(self._realized.get(base_currency, ZERO)),
            unrealized_pnl=round_money(unrealized),
            balances=self.balances(),
        )
