"""The simulated market: one quote per instrument, set by hand in v0.

Each symbol has the quote as last set (initially from `pre_close`, then by `set`) and the live
quote, which is that quote minus the displayed size fills have taken. A new `set` starts from
the sizes last set, so it restores the depth fills consumed.
"""

from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal

import msgspec

from tradebridge.brokers.paper.universe import Instrument
from tradebridge.domain.enums import Side
from tradebridge.domain.errors import NotFound, ValidationFailed
from tradebridge.domain.models import Quote
from tradebridge.domain.ticks import TickLadder

INITIAL_DEPTH = 100_000
"""Displayed size on each side of an initial quote: deep enough for normal orders to fill."""


class QuoteBoard:
    def __init__(self, instruments: Mapping[str, Instrument], clock: Callable[[], datetime]):
        self._instruments = instruments
        self._clock = clock
        self._set: dict[str, Quote] = {}
        self._live: dict[str, Quote] = {}
        self.reset()

    def reset(self) -> None:
        """Every quote back to its initial one, around the contract's `pre_close`."""
        now = self._clock()
        for symbol, instrument in self._instruments.items():
            pre_close = instrument.contract.pre_close
            self._set[symbol] = Quote(
                symbol=symbol,
                last=pre_close,
                bid=instrument.ticks.step_down(pre_close),
                ask=instrument.ticks.step_up(pre_close),
                bid_size=INITIAL_DEPTH,
                ask_size=INITIAL_DEPTH,
                pre_close=pre_close,
                time=now,
            )
        self._live = dict(self._set)

    def quote(self, symbol: str) -> Quote:
        try:
            return self._live[symbol]
        except KeyError:
            raise NotFound(f"no quote for {symbol}: not traded by the paper broker") from None

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
    ) -> Quote:
        """Validate and store a new quote for `symbol`; see `PaperBroker.set_quote`."""
        previous = self._set.get(symbol)
        if previous is None:
            raise NotFound(f"cannot set a quote for {symbol}: not traded by the paper broker")
        ticks = self._instruments[symbol].ticks
        _check_price(symbol, ticks, "last", last)
        for field, price in (("bid", bid), ("ask", ask), ("pre_close", pre_close)):
            if price is not None:
                _check_price(symbol, ticks, field, price)
        for field, size in (("bid_size", bid_size), ("ask_size", ask_size)):
            if size is not None and size < 0:
                raise ValidationFailed(
                    f"{field} of {symbol} must not be negative, got {size}", {"field": field}
                )
        bid = bid if bid is not None else ticks.step_down(last)
        ask = ask if ask is not None else ticks.step_up(last)
        if bid is not None and bid >= ask:
            raise ValidationFailed(
                f"bid {bid} of {symbol} must be below ask {ask}", {"field": "bid"}
            )
        quote = Quote(
            symbol=symbol,
            last=last,
            bid=bid,
            ask=ask,
            bid_size=bid_size if bid_size is not None else previous.bid_size,
            ask_size=ask_size if ask_size is not None else previous.ask_size,
            pre_close=pre_close if pre_close is not None else previous.pre_close,
            time=self._clock(),
        )
        self._set[symbol] = self._live[symbol] = quote
        return quote

    def consume(self, symbol: str, taker_side: Side, qty: int) -> None:
        """Take `qty` off the side a `taker_side` order trades against (a buy takes the ask)."""
        live = self._live[symbol]
        if taker_side is Side.BUY:
            self._live[symbol] = msgspec.structs.replace(live, ask_size=live.ask_size - qty)
        else:
            self._live[symbol] = msgspec.structs.replace(live, bid_size=live.bid_size - qty)


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
