"""What the fake TWS sends, one function per message, laid out as ibapi's decoder reads them
at the negotiated server version (`sv`). Unset numbers go out as empty fields, counts as 0.

Version gates (MIN_SERVER_VER_* of the TWS API): error has `advancedOrderRejectJson` from
166; contract details drop their version field and `mdSizeMultiplier` at 164, where
`minSize`, `sizeIncrement`, `suggestedSizeIncrement` arrive (163 has the last one alone);
open and completed orders lose `faProfile` at 177, open orders gain `duration` at 158,
`postToAts` at 160, `autoCancelParent` at 162, and both the PEG BEST/MID fields at 170;
executions gain `pendingPriceRevision` at 178.
"""

from datetime import date
from decimal import Decimal

from tests.brokers.ib.fake_tws.book import Execution, FakeOrder, Quote
from tests.brokers.ib.fake_tws.catalog import Listing

Fields = list[object]

MIN_VERSION = 157
MAX_VERSION = 178


def _contract_fields(listing: Listing, *, exchange: str) -> Fields:
    """conId, symbol, secType, lastTradeDate, strike, right, multiplier, exchange, currency,
    localSymbol, tradingClass (the 11 fields most messages carry)."""
    return [
        listing.con_id, listing.symbol, "STK", "", 0, "", "", exchange, listing.currency,
        listing.local_symbol, listing.trading_class,
    ]  # fmt: skip


def error(sv: int, req_id: int, code: int, message: str) -> Fields:
    fields: Fields = [4, 2, req_id, code, message]
    if sv >= 166:
        fields.append("")
    return fields


def next_valid_id(order_id: int) -> Fields:
    return [9, 1, order_id]


def managed_accounts(accounts: list[str]) -> Fields:
    return [15, 1, ",".join(accounts)]


def current_time(epoch: int) -> Fields:
    return [49, 1, epoch]


def contract_details(sv: int, req_id: int, listing: Listing, requested_exchange: str) -> Fields:
    today = date.today().strftime("%Y%m%d")
    hours = (
        f"{today}:0400-{today}:2000" if listing.currency == "USD" else f"{today}:0930-{today}:1600"
    )
    liquid = f"{today}:0930-{today}:1600"
    exchange = requested_exchange or listing.exchange
    fields: Fields = [10]
    if sv < 164:
        fields.append(8)
    fields += [
        req_id, listing.symbol, "STK", "", 0, "", exchange, listing.currency,
        listing.local_symbol, listing.trading_class, listing.trading_class, listing.con_id,
        listing.min_tick,
    ]  # fmt: skip
    if sv < 164:
        fields.append(1)  # mdSizeMultiplier
    fields += [
        "",  # multiplier
        "ACTIVETIM,AD,ADJUST,ALERT,ALGO,ALLOC,DAY,GTC,IOC,FOK,LMT,MKT,STP,STPLMT,TRAIL",
        listing.valid_exchanges,
        1,  # priceMagnifier
        0,  # underConId
        listing.long_name,
        listing.primary,
        "",  # contractMonth
        "Technology" if listing.currency == "USD" else "Communications",
        "",
        "",
        listing.time_zone,
        hours,
        liquid,
        "",  # evRule
        "",  # evMultiplier
        1,  # secIdList
        "ISIN",
        f"XX{listing.con_id:010d}",
        1,  # aggGroup
        "",
        "",
        "26" if listing.currency == "USD" else "2",  # marketRuleIds
        "",
        "COMMON",
    ]
    if sv == 163:
        fields.append(listing.size_increment)
    if sv >= 164:
        fields += [listing.size_increment, listing.size_increment, listing.size_increment]
    return fields


def contract_details_end(req_id: int) -> Fields:
    return [52, 1, req_id]


def _order_prefix(order: FakeOrder) -> Fields:
    return [
        order.action, order.qty, order.order_type,
        order.lmt_price if order.lmt_price is not None else "", "", order.tif, "", order.account,
        "O", 0, order.order_ref,
    ]  # fmt: skip


def open_order(sv: int, order: FakeOrder, order_id: int) -> Fields:
    """`orderId` is what this client knows the order as (0 for one placed elsewhere)."""
    listing = order.listing
    fields: Fields = [5, order_id, *_contract_fields(listing, exchange=listing.exchange)]
    fields += _order_prefix(order)
    fields += [order.client_id, order.perm_id, order.outside_rth, False, 0, "", "", "", "", ""]
    if sv < 177:
        fields.append("")  # faProfile
    fields += [
        "",
        "",
        "",
        "",
        "",
        0,
        "",
        -1,
        0,
        "",
        "",
        "",
        "",
        "",
        0,
        False,
        False,
        False,
        "",
        0,
        False,
        False,
        "",
        0,
        0,
        "",
        "",
        "",
        "",
    ]  # modelCode ... deltaNeutralAuxPrice  fmt: skip
    fields += [False, "", "", "", "", "", ""]  # continuousUpdate ... comboLegsDescrip
    fields += [0, 0, 0]  # combo legs, order combo legs, smart combo routing params
    fields += ["", "", ""]  # scaleInitLevelSize, scaleSubsLevelSize, scalePriceIncrement
    fields += [""]  # hedgeType
    fields += [False, "", "", False, 0]  # optOutSmartRouting ... deltaNeutralContract absent
    fields += [""]  # algoStrategy
    fields += [False, False, order.status, "", "", "", "", "", "", "", "", ""]
    fields += ["", "", "", "", "", False, False]  # commissions, currency, warning, randomize
    fields += [0]  # conditions
    fields += ["", "", "", "", "", "", "", 0, "", "", "", "", False, False, False, False]
    if sv >= 158:
        fields.append("")  # duration
    if sv >= 160:
        fields.append("")  # postToAts
    if sv >= 162:
        fields.append(False)  # autoCancelParent
    if sv >= 170:
        fields += ["", "", "", "", ""]
    return fields


def open_order_end() -> Fields:
    return [53, 1]


def order_status(order: FakeOrder, order_id: int) -> Fields:
    return [
        3, order_id, order.status, order.filled, order.remaining, order.avg_fill_price,
        order.perm_id, 0, order.last_fill_price, order.client_id, "", "",
    ]  # fmt: skip


def completed_order(sv: int, order: FakeOrder) -> Fields:
    listing = order.listing
    fields: Fields = [101, *_contract_fields(listing, exchange=listing.exchange)]
    fields += _order_prefix(order)
    fields += [order.perm_id, order.outside_rth, False, 0, "", "", "", ""]
    if sv < 177:
        fields.append("")  # faProfile
    fields += [
        "",
        "",
        "",
        "",
        "",
        0,
        "",
        -1,
        "",
        "",
        "",
        "",
        "",
        0,
        False,
        False,
        "",
        0,
        0,
        "",
        "",
        "",
        "",
    ]  # modelCode ... deltaNeutralAuxPrice  fmt: skip
    fields += [False, "", "", "", ""]  # continuousUpdate ... comboLegsDescrip
    fields += [0, 0, 0]
    fields += ["", "", ""]
    fields += [""]  # hedgeType
    fields += ["", "", False, 0]  # clearingAccount, clearingIntent, notHeld, no dnc
    fields += [""]  # algoStrategy
    fields += [False, order.status, False, False]
    fields += [0]  # conditions
    fields += [
        "", "", "", False, False, "", order.filled, 0, False, "", False, False, 0,
        order.completed_time, order.completed_status,
    ]  # fmt: skip
    if sv >= 170:
        fields += ["", "", "", "", ""]
    return fields


def completed_orders_end() -> Fields:
    return [102]


def exec_details(sv: int, req_id: int, execution: Execution, listing: Listing) -> Fields:
    fields: Fields = [
        11, req_id, execution.order_id,
        *_contract_fields(listing, exchange=listing.primary),
        execution.exec_id, execution.time, execution.account, listing.primary, execution.side,
        execution.shares, execution.price, execution.perm_id, execution.client_id, 0,
        execution.cum_qty, execution.avg_price, execution.order_ref, "", "", "", 1,
    ]  # fmt: skip
    if sv >= 178:
        fields.append(False)
    return fields


def exec_details_end(req_id: int) -> Fields:
    return [55, 1, req_id]


def commission_report(execution: Execution) -> Fields:
    realized = execution.realized_pnl if execution.realized_pnl is not None else ""
    return [59, 1, execution.exec_id, execution.commission, execution.currency, realized, "", ""]


def position(account: str, listing: Listing, qty: Decimal, avg_cost: Decimal) -> Fields:
    return [61, 3, account, *_contract_fields(listing, exchange=listing.primary), qty, avg_cost]


def position_end() -> Fields:
    return [62, 1]


def _money(value: object) -> object:
    """Account values keep their cents, as TWS writes them (`100000.00`)."""
    return format(value, "f") if isinstance(value, Decimal) else value


def account_value(key: str, value: object, currency: str, account: str) -> Fields:
    return [6, 2, key, _money(value), currency, account]


def portfolio_value(
    listing: Listing,
    qty: Decimal,
    market_price: Decimal,
    average_cost: Decimal,
    realized: Decimal,
    account: str,
) -> Fields:
    """updatePortfolio: its contract carries the primary exchange where others have the
    exchange."""
    value = qty * market_price
    unrealized = (market_price - average_cost) * qty
    return [
        7, 8, *_contract_fields(listing, exchange=listing.primary), qty, market_price,
        value.quantize(Decimal("0.01")), average_cost, unrealized.quantize(Decimal("0.01")),
        realized, account,
    ]  # fmt: skip


def account_time(hhmm: str) -> Fields:
    return [8, 1, hhmm]


def account_download_end(account: str) -> Fields:
    return [54, 1, account]


def account_update_multi(req_id: int, account: str, key: str, value: object, cur: str) -> Fields:
    return [73, 1, req_id, account, "", key, _money(value), cur]


def account_update_multi_end(req_id: int) -> Fields:
    return [74, 1, req_id]


def account_summary(req_id: int, account: str, tag: str, value: object, currency: str) -> Fields:
    return [63, 1, req_id, account, tag, _money(value), currency]


def account_summary_end(req_id: int) -> Fields:
    return [64, 1, req_id]


TICK_BID, TICK_ASK, TICK_LAST, TICK_CLOSE = 1, 2, 4, 9
TICK_BID_SIZE, TICK_ASK_SIZE, TICK_LAST_SIZE, TICK_VOLUME = 0, 3, 5, 8
DELAYED = {1: 66, 2: 67, 4: 68, 9: 75, 0: 69, 3: 70, 5: 71, 8: 74}
"""The delayed tick type of each live one (market data type 3 and 4)."""


def ticks(req_id: int, quote: Quote, *, delayed: bool) -> list[Fields]:
    """tickPrice (with the size of the side) and tickSize messages of a quote."""

    def kind(tick: int) -> int:
        return DELAYED[tick] if delayed else tick

    messages: list[Fields] = []
    prices = (
        (TICK_BID, quote.bid, quote.bid_size),
        (TICK_ASK, quote.ask, quote.ask_size),
        (TICK_LAST, quote.last, 100),
        (TICK_CLOSE, quote.close, 0),
    )
    for tick, price, size in prices:
        if price:
            messages.append([1, 6, req_id, kind(tick), price, size, 0])
    sizes = (
        (TICK_BID_SIZE, quote.bid_size),
        (TICK_ASK_SIZE, quote.ask_size),
        (TICK_VOLUME, quote.volume),
    )
    for tick, size in sizes:
        messages.append([2, 6, req_id, kind(tick), size])
    return messages


def market_data_type(req_id: int, data_type: int) -> Fields:
    return [58, 1, req_id, data_type]


def tick_snapshot_end(req_id: int) -> Fields:
    return [57, 1, req_id]
