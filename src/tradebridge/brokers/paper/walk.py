"""The `random_walk` market mode: a seeded, tick-exact random walk of every instrument's quote.

Pure: no I/O, no clock, no global state. The caller drives it with `step(now)`; the same seed
and the same sequence of step times give the same quotes, on any run.

Model (per symbol, each on its own `random.Random(f"{seed}:{symbol}")` stream, so adding a
symbol leaves the others' paths unchanged):

- A latent log price follows a driftless Brownian motion (mean zero in log price) with the
  market's daily volatility (`MarketProfile`: ~2% for stocks, 1.2% for funds/ETFs, 1.5% for
  futures) spread over the venue's continuous-trading time of a day. The walk moves whenever
  it is stepped, so step it during trading sessions only; a single step longer than one
  session diffuses as one session (an overnight or weekend jump is one day's move, not days').
- The symbol is observed at the times of a Poisson process (`updates_per_second`, 3 by
  default). A step moves each symbol whose next observation time has come *once*, with the
  increment of the whole time since its last move, so a step costs in proportion to the
  symbols that move, never to the elapsed time: a jump of hours is one draw per symbol.
- `last` is the latent price rounded to the venue's tick ladder (`ladder_for`: HK spread
  table, US sub-dollar ticks) and kept inside `[lower, upper]`: the daily price limits from
  `pre_close` (`price_limits`; none when `price_limit_pct` is None) and at least the smallest
  positive price. The latent price is clamped to the same band, so a walk pushed against a
  limit stays there and comes off it as soon as it turns.
- Bid and ask are 1-3 spread units apart (a unit is one tick, or ~0.3 bp of the price where
  that is wider: high-priced stocks on a fine tick quote a few ticks wide), with `last` on
  or between them. Sizes are whole lots (round lots of 100 shares on US), log-normal around
  a per-market displayed value (e.g. ~1.5M CNY on a CN stock, ~60k USD on a US stock),
  redrawn at every move.
- At a limit the market is one-sided, as a locked A-share is: at limit-up `bid` is the limit
  with a deep queue and the ask side is empty (`ask=None, ask_size=0`); at limit-down (or at
  the smallest price) `ask` is the limit and the bid side is empty.

`set_reference` re-anchors a symbol (the admin set the market by hand, or a new trading day
rolled `pre_close`); the walk continues from there.
"""

import heapq
import math
import random
from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from tradebridge.brokers.paper.rules import price_band
from tradebridge.domain.errors import NotFound
from tradebridge.domain.models import Contract, Quote
from tradebridge.domain.symbols import Market, market_of
from tradebridge.domain.ticks import TickLadder, ladder_for


@dataclass(frozen=True, slots=True)
class MarketProfile:
    """How a market moves and trades; shared by the walk and the bar history."""

    daily_volatility: float
    """Standard deviation of the log price over one trading day."""
    session_seconds: float
    """Continuous trading time of a day, over which the daily volatility accrues."""
    quote_notional: float
    """Typical value displayed on each side of the quote."""
    daily_turnover: float
    """Typical value traded in a day (volume of the bars)."""
    display_lots: int = 1
    """Displayed sizes are multiples of this many lots (US quotes show round lots of 100)."""


_PROFILES: dict[Market, MarketProfile] = {
    Market.CN_STOCK: MarketProfile(0.02, 4 * 3600, 1.5e6, 1.5e9),
    Market.HK_STOCK: MarketProfile(0.02, 5.5 * 3600, 1.0e6, 1.0e9),
    Market.US_STOCK: MarketProfile(0.02, 6.5 * 3600, 6.0e4, 2.0e9, display_lots=100),
    Market.CN_FUTURES: MarketProfile(0.015, 4 * 3600, 2.0e6, 5.0e9),
}
_CN_FUND = MarketProfile(0.012, 4 * 3600, 3.0e6, 1.0e9)


def profile_for(contract: Contract) -> MarketProfile:
    """The market profile of `contract`; SH 5xxxxx and SZ 15xxxx/16xxxx are funds/ETFs."""
    market = market_of(contract.symbol)
    if market is Market.CN_STOCK:
        ticker, _, venue = contract.symbol.partition(".")
        if (venue == "SH" and ticker.startswith("5")) or (
            venue == "SZ" and ticker.startswith(("15", "16"))
        ):
            return _CN_FUND
    return _PROFILES[market]


def snap_to_ladder(ladder: TickLadder, price: Decimal, rounding: str = ROUND_HALF_UP) -> Decimal:
    """`price` rounded (half up by default, or `ROUND_FLOOR`/`ROUND_CEILING`) to the tick of
    its band. Band edges are multiples of the ticks on both sides, so the result is valid."""
    tick = ladder.tick_at(price)
    return (price / tick).to_integral_value(rounding=rounding) * tick


def min_price(ladder: TickLadder) -> Decimal:
    """The smallest positive price of `ladder`."""
    return ladder.bands[0][1]


def price_limits(
    ladder: TickLadder, pre_close: Decimal, price_limit_pct: Decimal | None
) -> tuple[Decimal, Decimal] | None:
    """`(lower, upper)` daily limit prices from `pre_close` (see `rules.price_band`, the one
    place they are computed); None without a limit."""
    band = price_band(ladder, pre_close, price_limit_pct)
    return None if band is None else (band.lower, band.upper)


class _Symbol:
    """Mutable state of one symbol's walk."""

    __slots__ = (
        "contract",
        "high_x",
        "index",
        "ladder",
        "low_x",
        "lower",
        "lowers",
        "pre_close",
        "quote",
        "quote_notional",
        "rng",
        "sigma",
        "size_unit",
        "t_last",
        "tick",
        "ticks",
        "ticks_f",
        "unit_value",
        "upper",
        "x",
    )

    def __init__(
        self,
        index: int,
        contract: Contract,
        seed: int,
        profile: MarketProfile,
        vol: float,
        start: datetime,
    ) -> None:
        self.index = index
        self.contract = contract
        self.ladder = ladder = ladder_for(contract)
        self.rng = random.Random(f"{seed}:{contract.symbol}")
        self.lowers = [float(lower) for lower, _ in ladder.bands]
        self.ticks = [tick for _, tick in ladder.bands]
        self.ticks_f = [float(tick) for tick in self.ticks]
        self.tick: Decimal | None = self.ticks[0] if len(self.ticks) == 1 else None
        """The tick when it is the same at every price (fast path)."""
        self.size_unit = contract.lot_size * profile.display_lots
        self.unit_value = float(self.size_unit * contract.multiplier)
        self.quote_notional = profile.quote_notional
        self.sigma = vol / math.sqrt(profile.session_seconds)
        self.t_last = 0.0
        self.pre_close = contract.pre_close
        self.lower = min_price(ladder)
        self.upper: Decimal | None = None
        self.low_x = self.high_x = self.x = 0.0
        self.set_limits()
        last = self.clamp(snap_to_ladder(ladder, contract.pre_close))
        self.x = min(max(math.log(float(last)), self.low_x), self.high_x)
        self.quote = self.make_quote(last, float(last), start)

    def set_limits(self) -> None:
        limits = price_limits(self.ladder, self.pre_close, self.contract.price_limit_pct)
        floor = min_price(self.ladder)
        self.lower, self.upper = limits if limits is not None else (floor, None)
        self.low_x = math.log(float(self.lower))
        self.high_x = math.log(float(self.upper)) if self.upper is not None else math.inf
        self.x = min(max(self.x, self.low_x), self.high_x)

    def clamp(self, price: Decimal) -> Decimal:
        if price < self.lower:
            return self.lower
        if self.upper is not None and price > self.upper:
            return self.upper
        return price

    def price_of(self, p: float) -> Decimal:
        """The latent price `p` on the ladder, inside the limits."""
        if self.tick is not None:
            price = Decimal(round(p / self.ticks_f[0])) * self.tick
        else:
            band = max(bisect_right(self.lowers, p) - 1, 0)
            price = Decimal(round(p / self.ticks_f[band])) * self.ticks[band]
        return self.clamp(price)

    def step_down(self, price: Decimal, n: int) -> Decimal:
        """`n` ticks below `price`, not below the lower bound."""
        if self.tick is not None:
            return max(price - n * self.tick, self.lower)
        for _ in range(n):
            below = self.ladder.step_down(price)
            if below is None or below < self.lower:
                break
            price = below
        return price

    def step_up(self, price: Decimal, n: int) -> Decimal:
        """`n` ticks above `price`, not above the upper bound."""
        if self.tick is not None:
            price += n * self.tick
        else:
            for _ in range(n):
                price = self.ladder.step_up(price)
        return min(price, self.upper) if self.upper is not None else price

    def make_quote(self, last: Decimal, p: float, now: datetime) -> Quote:
        """A quote around `last` (`p` is its float value), drawing spread and sizes."""
        rng = self.rng
        lots = self.quote_notional / (p * self.unit_value)
        if self.upper is not None and last >= self.upper:  # limit-up: buyers queue
            size = self.size_unit * (1 + int(30 * lots * math.exp(0.8 * rng.gauss() - 0.32)))
            return Quote(
                symbol=self.contract.symbol,
                last=last,
                bid=last,
                ask=None,
                bid_size=size,
                ask_size=0,
                pre_close=self.pre_close,
                time=now,
            )
        if last <= self.lower:  # limit-down (or the smallest price): sellers queue
            size = self.size_unit * (1 + int(30 * lots * math.exp(0.8 * rng.gauss() - 0.32)))
            return Quote(
                symbol=self.contract.symbol,
                last=last,
                bid=None,
                ask=last,
                bid_size=0,
                ask_size=size,
                pre_close=self.pre_close,
                time=now,
            )
        u = rng.random()
        width = 1 if u < 0.75 else 2 if u < 0.93 else 3
        band = 0 if self.tick is not None else max(bisect_right(self.lowers, p) - 1, 0)
        width *= max(1, round(p * 3e-5 / self.ticks_f[band]))
        below = int(rng.random() * (width + 1))  # where `last` sits in the spread
        bid = self.step_down(last, below)
        ask = self.step_up(bid, width)
        return Quote(
            symbol=self.contract.symbol,
            last=last,
            bid=bid,
            ask=ask,
            bid_size=self.size_unit * (1 + int(lots * math.exp(0.8 * rng.gauss() - 0.32))),
            ask_size=self.size_unit * (1 + int(lots * math.exp(0.8 * rng.gauss() - 0.32))),
            pre_close=self.pre_close,
            time=now,
        )


def _aware(value: datetime, name: str) -> datetime:
    if value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware (UTC), got {value!r}")
    return value


def _same_market(a: Quote, b: Quote) -> bool:
    return (
        a.last == b.last
        and a.bid == b.bid
        and a.ask == b.ask
        and a.bid_size == b.bid_size
        and a.ask_size == b.ask_size
        and a.pre_close == b.pre_close
    )


class RandomWalk:
    """Seeded random-walk quotes for `contracts`, starting at their `pre_close` at `start`.

    `updates_per_second` is each symbol's rate of moves; `daily_volatility` overrides the
    market profiles' (for tests and stress scenarios).
    """

    def __init__(
        self,
        contracts: Iterable[Contract],
        seed: int,
        *,
        start: datetime,
        updates_per_second: float = 3.0,
        daily_volatility: float | None = None,
    ) -> None:
        if updates_per_second <= 0:
            raise ValueError(f"updates_per_second must be positive, got {updates_per_second}")
        self._start = _aware(start, "start")
        self._now = start
        self._t = 0.0
        self._rate = updates_per_second
        self._symbols: dict[str, _Symbol] = {}
        self._by_index: list[_Symbol] = []
        self._max_gap: list[float] = []
        self._due: list[tuple[float, int]] = []
        """Heap of (next move time in seconds from `start`, symbol index)."""
        for contract in contracts:
            if contract.symbol in self._symbols:
                raise ValueError(f"duplicate contract {contract.symbol}")
            profile = profile_for(contract)
            vol = profile.daily_volatility if daily_volatility is None else daily_volatility
            state = _Symbol(len(self._by_index), contract, seed, profile, vol, start)
            self._symbols[contract.symbol] = state
            self._by_index.append(state)
            self._max_gap.append(profile.session_seconds)
            self._due.append((state.rng.expovariate(self._rate), state.index))
        heapq.heapify(self._due)

    @property
    def symbols(self) -> list[str]:
        return list(self._symbols)

    @property
    def now(self) -> datetime:
        """Time of the last step (`start` before the first)."""
        return self._now

    def step(self, now: datetime) -> list[Quote]:
        """Advance the market to `now`; the quotes that changed, at most one per symbol.

        `now` must be aware; one not after the previous step changes nothing and returns [].
        """
        t = (_aware(now, "now") - self._start).total_seconds()
        if t <= self._t:
            return []
        self._t, self._now = t, now
        due, rate = self._due, self._rate
        changed: list[Quote] = []
        while due and due[0][0] <= t:
            t_due, index = due[0]
            state = self._by_index[index]
            rng = state.rng
            elapsed = min(t - state.t_last, self._max_gap[index])
            state.t_last = t
            x = state.x + state.sigma * math.sqrt(elapsed) * rng.gauss()
            x = state.x = min(max(x, state.low_x), state.high_x)
            p = math.exp(x)
            quote = state.make_quote(state.price_of(p), p, now)
            # the next move: the process's next event, or (memoryless) one drawn from now
            t_next = t_due + rng.expovariate(rate)
            if t_next <= t:
                t_next = t + rng.expovariate(rate)
            heapq.heapreplace(due, (t_next, index))
            if not _same_market(quote, state.quote):
                state.quote = quote
                changed.append(quote)
        return changed

    def quote(self, symbol: str) -> Quote:
        return self._state(symbol).quote

    def limits(self, symbol: str) -> tuple[Decimal, Decimal] | None:
        """The symbol's daily limit prices, None without a limit."""
        state = self._state(symbol)
        return None if state.upper is None else (state.lower, state.upper)

    def set_reference(
        self, symbol: str, *, last: Decimal, pre_close: Decimal | None = None
    ) -> None:
        """Continue the walk of `symbol` from `last` (and `pre_close`, which sets the limits).

        `last` is rounded to the tick and kept inside the (new) limits; the new quote, drawn
        around it, is at once what `quote` returns, timed at the last step.
        """
        state = self._state(symbol)
        if not last.is_finite() or last <= 0:
            raise ValueError(f"last of {symbol} must be positive, got {last}")
        if pre_close is not None:
            if not pre_close.is_finite() or pre_close <= 0:
                raise ValueError(f"pre_close of {symbol} must be positive, got {pre_close}")
            state.pre_close = pre_close
            state.set_limits()
        price = state.clamp(snap_to_ladder(state.ladder, last))
        state.x = min(max(math.log(float(price)), state.low_x), state.high_x)
        state.quote = state.make_quote(price, float(price), self._now)

    def _state(self, symbol: str) -> _Symbol:
        try:
            return self._symbols[symbol]
        except KeyError:
            raise NotFound(f"no quote for {symbol}: not in the random walk") from None
