"""The fake account and market: cash per currency, stock holdings, orders, executions, the
quote of each listing; orders fill against the displayed quote as TWS reports them.

The account is a cash account in USD: a buy needs the cash (in USD at the day's rates) for
it and every other open buy, a sell the shares not yet sold by other open orders; TWS refuses
the rest with error 201 and its reason. A marketable order fills at the touch up to the
displayed size, which the fill consumes (two fills when the size is short of the order).
Commissions follow IBKR's fixed rates: USD 0.005 a share (min 1.00, max 1% of the value),
HKD 0.08% of the value (min 18.00); they are folded into the average cost, as IB does.
Everything is kept in a JSON file so that a killed and restarted fake TWS knows its state.
"""

import json
import os
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from tests.brokers.ib.fake_tws.catalog import BY_CON_ID, Listing

CENT = Decimal("0.01")
RATES = {"USD": Decimal(1), "HKD": Decimal("0.1282")}
"""Units of the base currency (USD) per unit of each currency."""
BASE = "USD"
OPEN_STATUSES = frozenset({"PendingSubmit", "PreSubmitted", "Submitted", "PendingCancel"})
TIME_ZONE = ZoneInfo("America/New_York")
TIME_ZONE_NAME = "US/Eastern"
"""Execution times are written in the TWS user's time zone, named the way TWS names it."""


class Rejected(Exception):
    """TWS refuses an order: the error code and message it sends."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class Quote:
    bid: Decimal
    ask: Decimal
    last: Decimal
    close: Decimal
    bid_size: int = 500
    ask_size: int = 500
    volume: int = 10_000

    def market_price(self) -> Decimal:
        return self.last or ((self.bid + self.ask) / 2 if self.bid and self.ask else self.close)


@dataclass
class FakeOrder:
    perm_id: int
    client_id: int
    order_id: int
    account: str
    con_id: int
    action: str
    qty: Decimal
    order_type: str
    lmt_price: Decimal | None
    tif: str
    order_ref: str
    outside_rth: bool = False
    status: str = "Submitted"
    filled: Decimal = Decimal(0)
    avg_fill_price: Decimal = Decimal(0)
    last_fill_price: Decimal = Decimal(0)
    completed_time: str = ""
    completed_status: str = ""

    @property
    def remaining(self) -> Decimal:
        return self.qty - self.filled

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def listing(self) -> Listing:
        return BY_CON_ID[self.con_id]


@dataclass
class Execution:
    exec_id: str
    perm_id: int
    order_id: int
    client_id: int
    con_id: int
    account: str
    side: str
    shares: Decimal
    price: Decimal
    time: str
    cum_qty: Decimal
    avg_price: Decimal
    order_ref: str
    commission: Decimal
    currency: str
    realized_pnl: Decimal | None


@dataclass
class Holding:
    qty: Decimal = Decimal(0)
    avg_cost: Decimal = Decimal(0)
    realized: Decimal = Decimal(0)


def ib_time(when: datetime) -> str:
    return f"{when.astimezone(TIME_ZONE):%Y%m%d %H:%M:%S} {TIME_ZONE_NAME}"


def commission_of(listing: Listing, qty: Decimal, price: Decimal) -> Decimal:
    value = qty * price
    if listing.currency == "HKD":
        return max(Decimal(18), value * Decimal("0.0008")).quantize(CENT, ROUND_HALF_UP)
    fee = min(max(Decimal(1), qty * Decimal("0.005")), value * Decimal("0.01"))
    return fee.quantize(CENT, ROUND_HALF_UP)


def on_tick(listing: Listing, price: Decimal) -> bool:
    tick = _tick(listing, price)
    return (price / tick) == (price / tick).to_integral_value()


HK_SPREADS = (
    ("5000", "5"), ("2000", "2"), ("1000", "1"), ("500", "0.5"), ("200", "0.2"),
    ("100", "0.1"), ("20", "0.05"), ("10", "0.02"), ("0.5", "0.01"), ("0.25", "0.005"),
    ("0", "0.001"),
)  # fmt: skip


def _tick(listing: Listing, price: Decimal) -> Decimal:
    if listing.currency == "HKD":
        return next(Decimal(tick) for low, tick in HK_SPREADS if price >= Decimal(low))
    return CENT if price >= 1 else Decimal("0.0001")


@dataclass
class Book:
    account: str
    cash: dict[str, Decimal]
    holdings: dict[int, Holding] = field(default_factory=dict)
    orders: dict[int, FakeOrder] = field(default_factory=dict)
    executions: list[Execution] = field(default_factory=list)
    quotes: dict[int, Quote] = field(default_factory=dict)
    next_perm_id: int = 1_840_000_001
    next_exec: int = 1
    next_order_ids: dict[int, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for listing in BY_CON_ID.values():
            if listing.con_id not in self.quotes:
                bid, ask, last, close = (Decimal(p) for p in listing.quote)
                self.quotes[listing.con_id] = Quote(bid, ask, last, close)

    # --------------------------------------------------------------- orders

    def next_order_id(self, client_id: int) -> int:
        return self.next_order_ids.get(client_id, 1)

    def order_of(self, client_id: int, order_id: int) -> FakeOrder | None:
        if order_id <= 0:
            return None
        return next(
            (o for o in self.orders.values() if (o.client_id, o.order_id) == (client_id, order_id)),
            None,
        )

    def place(self, order: FakeOrder) -> FakeOrder:
        """Check and accept a new order (its perm id assigned here); `Rejected` if TWS would
        refuse it."""
        self._check(order)
        order.perm_id = self.next_perm_id
        self.next_perm_id += 1
        if order.order_id > 0:
            known = self.next_order_ids.get(order.client_id, 1)
            self.next_order_ids[order.client_id] = max(known, order.order_id + 1)
        self.orders[order.perm_id] = order
        return order

    def _check(self, order: FakeOrder) -> None:
        listing = order.listing
        if order.account != self.account:
            raise Rejected(
                321, f"Error validating request.-'bN' : cause - Invalid account: {order.account}"
            )
        if order.qty <= 0:
            raise Rejected(434, "The order size cannot be zero")
        if order.order_type not in ("LMT", "MKT"):
            raise Rejected(
                387,
                f"Unsupported order type for this exchange and security type: {order.order_type}",
            )
        if order.tif not in ("DAY", "GTC", "IOC", "FOK"):
            raise Rejected(201, f"Order rejected - reason:Invalid time in force {order.tif}")
        if order.order_type == "LMT":
            if order.lmt_price is None or order.lmt_price <= 0:
                raise Rejected(201, "Order rejected - reason:The limit price must be positive")
            if not on_tick(listing, order.lmt_price):
                raise Rejected(
                    110,
                    "The price does not conform to the minimum price variation for this contract.",
                )
        if order.qty % listing.size_increment:
            raise Rejected(
                201,
                f"Order rejected - reason:The order size {order.qty} is not a multiple of the "
                f"board lot {listing.size_increment} of {listing.symbol}.",
            )
        if order.action == "BUY":
            price = (
                order.lmt_price or self.quotes[order.con_id].ask or self.quotes[order.con_id].last
            )
            needed = (self._open_buys() + order.qty * price * RATES[listing.currency]).quantize(
                CENT
            )
            available = self.available_funds()
            if needed > available:
                raise Rejected(
                    201,
                    "Order rejected - reason:YOUR ORDER IS NOT ACCEPTED. IN ORDER TO OBTAIN THE "
                    f"DESIRED POSITION YOUR EQUITY WITH LOAN VALUE [{available} USD] MUST EXCEED "
                    f"THE INITIAL MARGIN [{needed} USD]",
                )
        elif order.action == "SELL":
            held = self.holdings.get(order.con_id, Holding()).qty
            selling = sum(
                (o.remaining for o in self.orders.values()
                 if o.is_open and o.action == "SELL" and o.con_id == order.con_id),
                Decimal(0),
            )  # fmt: skip
            if order.qty > held - selling:
                raise Rejected(
                    201,
                    "Order rejected - reason:YOUR ORDER IS NOT ACCEPTED. SHORT SALES ARE NOT "
                    f"ALLOWED IN A CASH ACCOUNT: {max(held - selling, Decimal(0))} "
                    f"{listing.symbol} AVAILABLE TO SELL",
                )
        else:
            raise Rejected(201, f"Order rejected - reason:Invalid action {order.action}")

    def _open_buys(self) -> Decimal:
        total = Decimal(0)
        for o in self.orders.values():
            if o.is_open and o.action == "BUY":
                quote = self.quotes[o.con_id]
                price = o.lmt_price or quote.ask or quote.last
                total += o.remaining * price * RATES[o.listing.currency]
        return total

    def cancel(self, order: FakeOrder, why: str = "Cancelled by Trader") -> None:
        order.status = "Cancelled"
        order.completed_time = ib_time(datetime.now(UTC))
        order.completed_status = why

    # --------------------------------------------------------------- matching

    def match(self, order: FakeOrder) -> list[Execution]:
        """Fill `order` as far as the displayed quote allows; IOC/FOK leftovers are canceled."""
        if not order.is_open or order.status == "PendingCancel":
            return []
        quote = self.quotes[order.con_id]
        buying = order.action == "BUY"
        touch, shown = (quote.ask, quote.ask_size) if buying else (quote.bid, quote.bid_size)
        limit = order.lmt_price
        within = limit is not None and (touch <= limit if buying else touch >= limit)
        crosses = touch > 0 and (order.order_type == "MKT" or within)
        if not crosses or shown <= 0:
            if order.tif in ("IOC", "FOK"):
                self.cancel(order, "Cancelled: not marketable (IOC/FOK)")
            return []
        if order.tif == "FOK" and shown < order.remaining:
            self.cancel(order, "Cancelled: not enough shown to fill or kill")
            return []
        qty = min(order.remaining, Decimal(shown))
        if buying:
            quote.ask_size -= int(qty)
        else:
            quote.bid_size -= int(qty)
        execution = self._execute(order, qty, touch)
        if order.tif == "IOC" and order.remaining > 0:
            self.cancel(order, "Cancelled: rest of an IOC order")
        return [execution]

    def _execute(self, order: FakeOrder, qty: Decimal, price: Decimal) -> Execution:
        listing = order.listing
        commission = commission_of(listing, qty, price)
        holding = self.holdings.setdefault(order.con_id, Holding())
        realized: Decimal | None = None
        if order.action == "BUY":
            cost = holding.qty * holding.avg_cost + qty * price + commission
            holding.qty += qty
            holding.avg_cost = cost / holding.qty
            self.cash[listing.currency] = self.cash.get(listing.currency, Decimal(0)) - (
                qty * price + commission
            )
        else:
            realized = ((price - holding.avg_cost) * qty - commission).quantize(CENT)
            holding.realized += realized
            holding.qty -= qty
            if holding.qty == 0:
                holding.avg_cost = Decimal(0)
            self.cash[listing.currency] = self.cash.get(listing.currency, Decimal(0)) + (
                qty * price - commission
            )
        value = order.avg_fill_price * order.filled + price * qty
        order.filled += qty
        order.avg_fill_price = value / order.filled
        order.last_fill_price = price
        now = datetime.now(UTC)
        if order.remaining == 0:
            order.status = "Filled"
            order.completed_time = ib_time(now)
            order.completed_status = f"Filled Size: {order.qty}"
        execution = Execution(
            exec_id=f"{0x0000E0D5 + self.next_exec:08x}.{order.perm_id & 0xFFFFFFFF:08x}.01.01",
            perm_id=order.perm_id,
            order_id=order.order_id,
            client_id=order.client_id,
            con_id=order.con_id,
            account=order.account,
            side="BOT" if order.action == "BUY" else "SLD",
            shares=qty,
            price=price,
            time=ib_time(now),
            cum_qty=order.filled,
            avg_price=order.avg_fill_price,
            order_ref=order.order_ref,
            commission=commission,
            currency=listing.currency,
            realized_pnl=realized,
        )
        self.next_exec += 1
        self.executions.append(execution)
        return execution

    # --------------------------------------------------------------- the account

    def stock_value(self, currency: str) -> Decimal:
        return sum(
            (h.qty * self.quotes[c].market_price() for c, h in self.holdings.items()
             if BY_CON_ID[c].currency == currency),
            Decimal(0),
        )  # fmt: skip

    def unrealized(self, currency: str) -> Decimal:
        return sum(
            ((self.quotes[c].market_price() - h.avg_cost) * h.qty for c, h in self.holdings.items()
             if BY_CON_ID[c].currency == currency and h.qty),
            Decimal(0),
        )  # fmt: skip

    def realized(self, currency: str) -> Decimal:
        return sum(
            (h.realized for c, h in self.holdings.items() if BY_CON_ID[c].currency == currency),
            Decimal(0),
        )

    def cash_base(self) -> Decimal:
        return sum((amount * RATES[c] for c, amount in self.cash.items()), Decimal(0))

    def available_funds(self) -> Decimal:
        return self.cash_base().quantize(CENT)

    def account_values(self) -> list[tuple[str, Decimal | str, str]]:
        """`(key, value, currency)` as `updateAccountValue` reports them; "BASE" rows are the
        sum over currencies in the base currency."""
        currencies = sorted(RATES)
        rows: list[tuple[str, Decimal | str, str]] = [
            ("AccountCode", self.account, ""),
            ("AccountType", "INDIVIDUAL", ""),
            ("AccountReady", "true", ""),
        ]
        per_currency = {
            "CashBalance": lambda c: self.cash.get(c, Decimal(0)),
            "TotalCashBalance": lambda c: self.cash.get(c, Decimal(0)),
            "StockMarketValue": self.stock_value,
            "NetLiquidationByCurrency": lambda c: (
                self.cash.get(c, Decimal(0)) + self.stock_value(c)
            ),
            "UnrealizedPnL": self.unrealized,
            "RealizedPnL": self.realized,
        }
        for currency in currencies:
            rows.append(("Currency", currency, currency))
            rows.append(("ExchangeRate", RATES[currency], currency))
        rows.append(("Currency", BASE, "BASE"))
        rows.append(("ExchangeRate", Decimal(1), "BASE"))
        for key, value_of in per_currency.items():
            base = Decimal(0)
            for currency in currencies:
                value = value_of(currency)
                base += value * RATES[currency]
                rows.append((key, value.quantize(CENT), currency))
            rows.append((key, base.quantize(CENT), "BASE"))
        stocks = sum((self.stock_value(c) * RATES[c] for c in currencies), Decimal(0))
        liquidation = (self.cash_base() + stocks).quantize(CENT)
        available = self.available_funds()
        rows += [
            ("TotalCashValue", self.cash_base().quantize(CENT), BASE),
            ("NetLiquidation", liquidation, BASE),
            ("EquityWithLoanValue", liquidation, BASE),
            ("GrossPositionValue", stocks.quantize(CENT), BASE),
            ("AvailableFunds", available, BASE),
            ("ExcessLiquidity", available, BASE),
            ("BuyingPower", available, BASE),
            ("InitMarginReq", Decimal("0.00"), BASE),
            ("MaintMarginReq", Decimal("0.00"), BASE),
        ]
        return rows

    # --------------------------------------------------------------- persistence

    def save(self, path: Path) -> None:
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(asdict(self), default=str))
        os.replace(temporary, path)

    @classmethod
    def load(cls, path: Path) -> "Book":
        raw = json.loads(path.read_text())
        return cls(
            account=raw["account"],
            cash={c: Decimal(v) for c, v in raw["cash"].items()},
            holdings={int(c): _revive(Holding, h) for c, h in raw["holdings"].items()},
            orders={int(p): _revive(FakeOrder, o) for p, o in raw["orders"].items()},
            executions=[_revive(Execution, e) for e in raw["executions"]],
            quotes={int(c): _revive(Quote, q) for c, q in raw["quotes"].items()},
            next_perm_id=raw["next_perm_id"],
            next_exec=raw["next_exec"],
            next_order_ids={int(c): n for c, n in raw["next_order_ids"].items()},
        )


def _revive(kind: type[Any], raw: dict[str, Any]) -> Any:
    """A dataclass from its JSON form (numbers that were Decimals come back as Decimals)."""
    values: dict[str, Any] = {}
    for f in fields(kind):
        value = raw[f.name]
        annotation = str(f.type)
        if value is not None and "Decimal" in annotation:
            value = Decimal(value)
        values[f.name] = value
    return kind(**values)
