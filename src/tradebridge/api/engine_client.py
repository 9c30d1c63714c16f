"""Typed calls to the engine over the RPC link; the only way the web reaches an engine."""

from datetime import datetime
from decimal import Decimal
from typing import Literal

from tradebridge.brokers.base import BarInterval, VenueStatus
from tradebridge.domain.models import AccountSummary, Bar, Contract, Position, Quote, Trade
from tradebridge.domain.orders import Order, OrderRequest
from tradebridge.engine.protocol import (
    AccountInfo,
    AccountRef,
    BarsRequest,
    ClientOrderRef,
    ClockRequest,
    ClockState,
    ContractQuery,
    EngineStatus,
    ListOrders,
    ListTrades,
    Method,
    OrderRef,
    OrderStatusFilter,
    PlaceOrder,
    PlaceResult,
    Pong,
    QuotesRequest,
    RiskState,
    RiskUpdate,
    SetQuote,
    StrategyInfo,
    StrategyRef,
    WatchQuotes,
)
from tradebridge.rpc import RpcClient


class EngineClient:
    def __init__(self, rpc: RpcClient) -> None:
        self.rpc = rpc

    async def status(self, timeout_ms: int | None = None) -> EngineStatus:
        return await self.rpc.call(Method.STATUS, None, EngineStatus, timeout_ms=timeout_ms)

    async def accounts(self) -> list[AccountInfo]:
        return await self.rpc.call(Method.ACCOUNTS, None, list[AccountInfo])

    async def summary(self, account: str) -> AccountSummary:
        return await self.rpc.call(Method.SUMMARY, AccountRef(account), AccountSummary)

    async def positions(self, account: str) -> list[Position]:
        return await self.rpc.call(Method.POSITIONS, AccountRef(account), list[Position])

    async def ping(self, account: str) -> Pong:
        return await self.rpc.call(Method.PING, AccountRef(account), Pong)

    async def risk(self, account: str) -> RiskState:
        return await self.rpc.call(Method.GET_RISK, AccountRef(account), RiskState)

    async def set_risk(self, update: RiskUpdate) -> RiskState:
        return await self.rpc.call(Method.SET_RISK, update, RiskState)

    async def place(self, account: str, request: OrderRequest) -> PlaceResult:
        return await self.rpc.call(Method.PLACE, PlaceOrder(account, request), PlaceResult)

    async def get_order(self, account: str, order_id: str) -> Order:
        return await self.rpc.call(Method.GET_ORDER, OrderRef(account, order_id), Order)

    async def get_by_client_id(self, account: str, client_order_id: str) -> Order:
        return await self.rpc.call(
            Method.GET_BY_CLIENT_ID, ClientOrderRef(account, client_order_id), Order
        )

    async def list_orders(
        self,
        account: str,
        *,
        status: OrderStatusFilter,
        symbol: str | None,
        limit: int,
        after: str | None,
    ) -> list[Order]:
        query = ListOrders(account=account, status=status, symbol=symbol, limit=limit, after=after)
        return await self.rpc.call(Method.LIST_ORDERS, query, list[Order])

    async def cancel(self, account: str, order_id: str) -> Order:
        return await self.rpc.call(Method.CANCEL, OrderRef(account, order_id), Order)

    async def cancel_all(self, account: str) -> list[Order]:
        return await self.rpc.call(Method.CANCEL_ALL, AccountRef(account), list[Order])

    async def list_trades(
        self,
        account: str,
        *,
        symbol: str | None,
        order_id: str | None,
        limit: int,
        after: str | None,
    ) -> list[Trade]:
        query = ListTrades(
            account=account, symbol=symbol, order_id=order_id, limit=limit, after=after
        )
        return await self.rpc.call(Method.LIST_TRADES, query, list[Trade])

    async def quotes(self, account: str, symbols: list[str]) -> list[Quote]:
        return await self.rpc.call(Method.QUOTES, QuotesRequest(account, symbols), list[Quote])

    async def watch_quotes(
        self, owner: str, account: str, symbols: list[str], lease_s: float
    ) -> None:
        request = WatchQuotes(owner=owner, account=account, symbols=symbols, lease_s=lease_s)
        await self.rpc.call(Method.WATCH_QUOTES, request, type(None))

    async def paper_set_quote(
        self,
        account: str,
        *,
        symbol: str,
        last: Decimal,
        bid: Decimal | None,
        ask: Decimal | None,
        bid_size: int | None,
        ask_size: int | None,
        pre_close: Decimal | None,
    ) -> Quote:
        request = SetQuote(
            account=account,
            symbol=symbol,
            last=last,
            bid=bid,
            ask=ask,
            bid_size=bid_size,
            ask_size=ask_size,
            pre_close=pre_close,
        )
        return await self.rpc.call(Method.PAPER_SET_QUOTE, request, Quote)

    async def contracts(self, account: str, venue: str | None, q: str | None) -> list[Contract]:
        query = ContractQuery(account=account, venue=venue, q=q)
        return await self.rpc.call(Method.CONTRACTS, query, list[Contract])

    async def market_status(self, account: str) -> list[VenueStatus]:
        return await self.rpc.call(Method.MARKET_STATUS, AccountRef(account), list[VenueStatus])

    async def bars(self, account: str, symbol: str, interval: BarInterval, limit: int) -> list[Bar]:
        request = BarsRequest(account=account, symbol=symbol, interval=interval, limit=limit)
        return await self.rpc.call(Method.BARS, request, list[Bar])

    async def paper_clock(
        self,
        account: str,
        advance: Literal["next_day", "next_session"] | None,
        to: datetime | None,
    ) -> ClockState:
        request = ClockRequest(account=account, advance=advance, to=to)
        return await self.rpc.call(Method.PAPER_CLOCK, request, ClockState)

    async def paper_reset(self, account: str) -> None:
        await self.rpc.call(Method.PAPER_RESET, AccountRef(account), type(None))

    async def strategies(self) -> list[StrategyInfo]:
        return await self.rpc.call(Method.STRATEGIES, None, list[StrategyInfo])

    async def start_strategy(self, name: str) -> StrategyInfo:
        return await self.rpc.call(Method.STRATEGY_START, StrategyRef(name), StrategyInfo)

    async def stop_strategy(self, name: str) -> StrategyInfo:
        return await self.rpc.call(Method.STRATEGY_STOP, StrategyRef(name), StrategyInfo)
