"""Client messages the fake TWS reads field by field (the others are short and read where
they are handled). `placeOrder` is read whole, as ibapi's EClient writes it at the negotiated
server version, so a client that sends one field too many or too few is told so (error 320)."""

from dataclasses import dataclass
from decimal import Decimal

from tests.brokers.ib.fake_tws.wire import Cursor, ProtocolError

UNSET_DOUBLE = Decimal("1.7976931348623157E308")


@dataclass(frozen=True, slots=True)
class ContractSpec:
    con_id: int
    symbol: str
    sec_type: str
    exchange: str
    primary: str
    currency: str
    local_symbol: str


def read_contract(cursor: Cursor) -> ContractSpec:
    """The 12 contract fields of requests: conId, symbol, secType, lastTradeDate, strike,
    right, multiplier, exchange, primaryExchange, currency, localSymbol, tradingClass."""
    con_id, symbol, sec_type = cursor.int(), cursor.str(), cursor.str()
    cursor.skip(4)
    exchange, primary, currency, local_symbol = (cursor.str() for _ in range(4))
    cursor.skip(1)
    return ContractSpec(con_id, symbol, sec_type, exchange, primary, currency, local_symbol)


@dataclass(frozen=True, slots=True)
class PlaceOrder:
    order_id: int
    contract: ContractSpec
    action: str
    qty: Decimal
    order_type: str
    lmt_price: Decimal | None
    tif: str
    account: str
    order_ref: str
    transmit: bool
    parent_id: int
    outside_rth: bool
    what_if: bool
    algo: str


def read_place_order(fields: list[str], sv: int) -> PlaceOrder:
    c = Cursor(fields)
    order_id = c.int()
    contract = read_contract(c)
    c.skip(2)  # secIdType, secId
    action, qty, order_type = c.str(), c.decimal(), c.str()
    lmt_price = c.decimal()
    c.skip(1)  # auxPrice
    tif = c.str()
    c.skip(1)  # ocaGroup
    account = c.str()
    c.skip(2)  # openClose, origin
    order_ref = c.str()
    transmit, parent_id = c.bool(), c.int()
    c.skip(4)  # blockOrder, sweepToFill, displaySize, triggerMethod
    outside_rth = c.bool()
    c.skip(1)  # hidden
    if contract.sec_type == "BAG":
        raise ProtocolError("combo (BAG) orders are not supported by the fake TWS")
    c.skip(7)  # "", discretionaryAmt, goodAfterTime, goodTillDate, faGroup, faMethod, faPct
    if sv < 177:
        c.skip(1)  # faProfile
    c.skip(22)  # modelCode ... volatilityType
    delta_neutral = c.str()
    c.skip(1)  # deltaNeutralAuxPrice
    if delta_neutral:
        c.skip(8)
    c.skip(6)  # continuousUpdate ... scaleSubsLevelSize
    increment = c.decimal()
    if increment is not None and 0 < increment < UNSET_DOUBLE:
        c.skip(7)
    c.skip(3)  # scaleTable, activeStartTime, activeStopTime
    if c.str():  # hedgeType
        c.skip(1)
    c.skip(4)  # optOutSmartRouting, clearingAccount, clearingIntent, notHeld
    if c.bool():  # deltaNeutralContract
        c.skip(3)
    algo = c.str()
    if algo:
        c.skip(2 * c.int())
    c.skip(1)  # algoId
    what_if = c.bool()
    c.skip(4)  # orderMiscOptions, solicited, randomizeSize, randomizePrice
    if order_type in ("PEG BENCH", "PEGBENCH"):
        c.skip(5)
    if c.int():
        raise ProtocolError("orders with conditions are not supported by the fake TWS")
    c.skip(19)  # adjustedOrderType ... usePriceMgmtAlgo
    for gate in (158, 160, 162, 166, 169):  # duration, postToAts, autoCancelParent, ...
        if sv >= gate:
            c.skip(1)
    if sv >= 170:
        if contract.exchange == "IBKRATS":
            c.skip(1)
        if order_type in ("PEG BEST", "PEGBEST"):
            c.skip(1)  # minCompeteSize
            if c.str() == "Infinite":  # competeAgainstBestOffset: up to mid
                c.skip(2)
        elif order_type in ("PEG MID", "PEGMID"):
            c.skip(2)
    c.done()
    if qty is None:
        raise ProtocolError("placeOrder without a total quantity")
    return PlaceOrder(
        order_id=order_id,
        contract=contract,
        action=action,
        qty=qty,
        order_type=order_type,
        lmt_price=lmt_price,
        tif=tif or "DAY",
        account=account,
        order_ref=order_ref,
        transmit=transmit,
        parent_id=parent_id,
        outside_rth=outside_rth,
        what_if=what_if,
        algo=algo,
    )


@dataclass(frozen=True, slots=True)
class MarketDataRequest:
    req_id: int
    contract: ContractSpec
    snapshot: bool


def read_market_data(fields: list[str]) -> MarketDataRequest:
    c = Cursor(fields, start=2)  # after the message id and version
    req_id = c.int()
    contract = read_contract(c)
    if contract.sec_type == "BAG":
        raise ProtocolError("combo market data is not supported by the fake TWS")
    if c.bool():  # deltaNeutralContract
        c.skip(3)
    c.skip(1)  # genericTickList
    snapshot = c.bool()
    c.skip(2)  # regulatorySnapshot, mktDataOptions
    c.done()
    return MarketDataRequest(req_id, contract, snapshot)


def read_contract_details(fields: list[str], sv: int) -> tuple[int, ContractSpec]:
    c = Cursor(fields, start=2)
    req_id = c.int()
    contract = read_contract(c)
    c.skip(3)  # includeExpired, secIdType, secId
    if sv >= 176:
        c.skip(1)  # issuerId
    c.done()
    return req_id, contract


@dataclass(frozen=True, slots=True)
class ExecutionFilter:
    req_id: int
    client_id: int
    account: str
    time: str
    symbol: str
    sec_type: str
    exchange: str
    side: str


def read_executions(fields: list[str]) -> ExecutionFilter:
    c = Cursor(fields, start=2)
    req_id, client_id = c.int(), c.int()
    account, time, symbol, sec_type, exchange, side = (c.str() for _ in range(6))
    c.done()
    return ExecutionFilter(req_id, client_id, account, time, symbol, sec_type, exchange, side)
