"""The simulated market: one quote per instrument, inside the day's price limits.

Each symbol has one live quote: as last set (initially around `pre_close`, then by `set`)
minus the displayed size fills have taken since. The sizes last set are remembered apart, so
a new `set` (or a new day) restores the depth fills consumed. Quotes that stand for a deep
book (those of the random-walk market, `deep=True`) show the next price level once fills
have taken a side's whole size: one tick further away, with the size last set, as a real
order book behind the touch would. A quote set by hand shows exactly what was set.

Prices never leave the daily limits computed from `pre_close` (`rules.price_band`), so no
fill, which always happens at a quoted price, can either. A side may be empty: at limit-up
nobody sells (`ask=None`, `ask_size=0`), at limit-down nobody buys; and a side may show a
price with size 0.
"""

from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal

import msgspec

from tradebridge.brokers.paper.rules import PriceBand, price_band
from tradebridge.brokers.paper.universe import Instrument
from tradebridge.domain.enums import Side
from tradebridge.domain.errors import NotFound, ValidationFailed
from tradebridge.domain.models import Quote
from tradebridge.domain.ticks import TickLadder

INITIAL_DEPTH = 100_000
"""Displayed size on each side of an initial quote: deep enough for normal orders to fill."""


class QuoteBoard:
    def __init__(
        self,
        instruments: Mapping[str, Instrument],
        clock: Callable[[], datetime],
        *,
        refill: bool = False,
    ) -> None:
        """`refill`: the opening quotes (initial, after a reset, of a new day) stand for a
        deep book, as the random walk's do."""
        self._instruments = instruments
        self._clock = clock
        self._refill = refill
        self._deep: set[str] = set()
        """Symbols whose live quote stands for a deep book (see the module docstring)."""
        self._live: dict[str, Quote] = {}
        self._sizes: dict[str, tuple[int, int]] = {}
        """`(bid_size, ask_size)` as last set."""
        self._bands: dict[str, PriceBand | None] = {}
        self.reset()

    def reset(self) -> None:
        """Every quote back to its initial one, around the contract's `pre_close`."""
        for symbol, instrument in self._instruments.items():
            self._sizes[symbol] = (INITIAL_DEPTH, INITIAL_DEPTH)
            self._open_at(symbol, instrument.contract.pre_close)

    def roll(self) -> list[Quote]:
        """A new trading day: each last price becomes the `pre_close` the limits follow, and
        the quote opens one tick either side of it with the depth last set."""
        for symbol in self._instruments:
            self._open_at(symbol, self._live[symbol].last)
        return list(self._live.values())

    def _open_at(self, symbol: str, pre_close: Decimal) -> None:
        instrument = self._instruments[symbol]
        band = price_band(instrument.ticks, pre_close, instrument.contract.price_limit_pct)
        self._bands[symbol] = band
        bid, ask = _sides(instrument.ticks, band, pre_close, None, None)
        if self._refill:
            self._deep.add(symbol)
        self._store(symbol, pre_close, bid, ask, pre_close)

    def quote(self, symbol: str) -> Quote:
        try:
            return self._live[symbol]
        except KeyError:
            raise NotFound(f"no quote for {symbol}: not traded by the paper broker") from None

    def band(self, symbol: str) -> PriceBand | None:
        """Today's price limits of `symbol`; None when it has none."""
        return self._bands[symbol]

    def set(
        self,
        symbol: str,
        *,
        last: Decimal,
        bid: Decimal | None = None,
        ask: Decimal | None = None,
        bid_size: int | None = None,
        ask_size: int | None = None,
        pre_close: Decimal | None = None,
        deep: bool = False,
    ) -> Quote:
        """Validate and store a new quote for `symbol`; see `PaperBroker.set_quote`. `deep`:
        the quote is the touch of a deeper book (see the module docstring)."""
        instrument = self._instruments.get(symbol)
        if instrument is None:
            raise NotFound(f"cannot set a quote for {symbol}: not traded by the paper broker")
        ticks = instrument.ticks
        for field, price in (("pre_close", pre_close), ("last", last), ("bid", bid), ("ask", ask)):
            if price is not None:
                _check_price(symbol, ticks, field, price)
        for field, size in (("bid_size", bid_size), ("ask_size", ask_size)):
            if size is not None and size < 0:
                raise ValidationFailed(
                    f"{field} of {symbol} must not be negative, got {size}", {"field": field}
                )
        band = self._bands[symbol]
        if pre_close is not None:
            band = price_band(ticks, pre_close, instrument.contract.price_limit_pct)
        if band is not None:
            for field, price in (("last", last), ("bid", bid), ("ask", ask)):
                if price is not None and price not in band:
                    raise ValidationFailed(
                        f"{field} {price} of {symbol} is outside today's price limits {band}",
                        {
                            "field": field,
                            "lower_limit": str(band.lower),
                            "upper_limit": str(band.upper),
                        },
                    )
        bid, ask = _sides(ticks, band, last, bid, ask)
        if bid is not None and ask is not None and bid >= ask:
            raise ValidationFailed(
                f"bid {bid} of {symbol} must be below ask {ask}", {"field": "bid"}
            )
        old_bid_size, old_ask_size = self._sizes[symbol]
        self._sizes[symbol] = (
            bid_size if bid_size is not None else old_bid_size,
            ask_size if ask_size is not None else old_ask_size,
        )
        self._bands[symbol] = band
        kept = self._live[symbol].pre_close
        assert kept is not None  # every stored quote has one
        if deep:
            self._deep.add(symbol)
        else:
            self._deep.discard(symbol)
        return self._store(symbol, last, bid, ask, pre_close if pre_close is not None else kept)

    def replay(self, symbol: str, last: Decimal, pre_close: Decimal | None = None) -> Quote:
        """`set` for a price already on the tick and inside today's limits (or those of a
        new `pre_close`), as `PaperBroker.replay_price` puts it: the sides one tick either
        way, the depth last set, a deep book; nothing checked again."""
        if pre_close is not None:
            instrument = self._instruments[symbol]
            self._bands[symbol] = price_band(
                instrument.ticks, pre_close, instrument.contract.price_limit_pct
            )
        kept = pre_close if pre_close is not None else self._live[symbol].pre_close
        assert kept is not None  # every stored quote has one
        bid, ask = _sides(self._instruments[symbol].ticks, self._bands[symbol], last, None, None)
        self._deep.add(symbol)
        return self._store(symbol, last, bid, ask, kept)

    def _store(
        self,
        symbol: str,
        last: Decimal,
        bid: Decimal | None,
        ask: Decimal | None,
        pre_close: Decimal,
    ) -> Quote:
        """Store the quote with the sizes last set; a side without a price shows size 0."""
        bid_size, ask_size = self._sizes[symbol]
        quote = Quote(
            symbol=symbol,
            last=last,
            bid=bid,
            ask=ask,
            bid_size=bid_size if bid is not None else 0,
            ask_size=ask_size if ask is not None else 0,
            pre_close=pre_close,
            time=self._clock(),
        )
        self._live[symbol] = quote
        return quote

    def consume(self, symbol: str, taker_side: Side, qty: int) -> None:
        """Take `qty` off the side a `taker_side` order trades against (a buy takes the ask)."""
        live = self._live[symbol]
        if taker_side is Side.BUY:
            live = msgspec.structs.replace(live, ask_size=live.ask_size - qty)
            if symbol in self._deep and live.ask is not None and live.ask_size <= 0:
                live = self._next_level(live, Side.SELL)
        else:
            live = msgspec.structs.replace(live, bid_size=live.bid_size - qty)
            if symbol in self._deep and live.bid is not None and live.bid_size <= 0:
                live = self._next_level(live, Side.BUY)
        self._live[symbol] = live

    def _next_level(self, live: Quote, side: Side) -> Quote:
        """`live` with its emptied `side` (SELL: the ask) one tick further away, showing the
        size last set; none where that is beyond the daily limits."""
        ticks = self._instruments[live.symbol].ticks
        band = self._bands[live.symbol]
        bid_size, ask_size = self._sizes[live.symbol]
        if side is Side.SELL:
            assert live.ask is not None
            ask: Decimal | None = ticks.step_up(live.ask)
            if band is not None and ask is not None and ask > band.upper:
                ask = None
            return msgspec.structs.replace(live, ask=ask, ask_size=ask_size if ask else 0)
        assert live.bid is not None
        bid = ticks.step_down(live.bid)
        if band is not None and bid is not None and bid < band.lower:
            bid = None
        return msgspec.structs.replace(live, bid=bid, bid_size=bid_size if bid else 0)


def _sides(
    ticks: TickLadder,
    band: PriceBand | None,
    last: Decimal,
    bid: Decimal | None,
    ask: Decimal | None,
) -> tuple[Decimal | None, Decimal | None]:
    """`bid` and `ask`, an omitted one being one tick below/above `last`, or none (nobody
    on that side) where that is beyond the limits."""
    if bid is None:
        bid = ticks.step_down(last)
        if bid is not None and band is not None and bid < band.lower:
            bid = None
    if ask is None:
        ask = ticks.step_up(last)
        if band is not None and ask > band.upper:
            ask = None
    return bid, ask


def _check_price(symbol: str, ticks: TickLadder, field: str, price: Decimal) -> None:
    if not price.is_finite() or price <= 0:
        raise ValidationFailed(
            f"{field} of {symbol} must be positive, got {price}", {"field": field}
        )
    if not ticks.is_on_tick(price):
        raise ValidationFailed(
            f"{field} {price} of {symbol} is not a multiple of its tick "
            f"{ticks.tick_at(price)} at that price",
            {"field": field},
        )
