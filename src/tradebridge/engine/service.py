"""The engine's RPC facade: one thin handler per method, routed to the account."""

import functools
import time
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.exc import DBAPIError

from tradebridge import __version__
from tradebridge.brokers.base import Simulator, VenueStatus
from tradebridge.config import RiskSettings
from tradebridge.domain.errors import EngineUnavailable, NotFound, ValidationFailed
from tradebridge.domain.models import AccountSummary, Bar, Contract, Position, Quote, Trade
from tradebridge.domain.orders import Order
from tradebridge.domain.symbols import Venue, parse_symbol
from tradebridge.engine.account import AccountRuntime
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
from tradebridge.rpc import RpcServer
from tradebridge.store.failures import database_error_reason
from tradebridge.strategies.host import StrategyHost

MAX_PAGE = 1000
MAX_LEASE_S = 600.0
"""The longest a web's quote subscriptions last without being renewed."""


class EngineService:
    def __init__(
        self, accounts: dict[str, AccountRuntime], strategies: StrategyHost | None = None
    ) -> None:
        self._accounts = accounts
        self._strategies = strategies

    def register(self, server: RpcServer) -> None:
        handlers: list[tuple[str, type[Any], Callable[[Any], Awaitable[Any]]]] = [
            (Method.STATUS, type(None), self.status),
            (Method.ACCOUNTS, type(None), self.accounts),
            (Method.SUMMARY, AccountRef, self.summary),
            (Method.POSITIONS, AccountRef, self.positions),
            (Method.PING, AccountRef, self.ping),
            (Method.GET_RISK, AccountRef, self.get_risk),
            (Method.SET_RISK, RiskUpdate, self.set_risk),
            (Method.PLACE, PlaceOrder, self.place),
            (Method.GET_ORDER, OrderRef, self.get_order),
            (Method.GET_BY_CLIENT_ID, ClientOrderRef, self.get_by_client_id),
            (Method.LIST_ORDERS, ListOrders, self.list_orders),
            (Method.CANCEL, OrderRef, self.cancel),
            (Method.CANCEL_ALL, AccountRef, self.cancel_all),
            (Method.LIST_TRADES, ListTrades, self.list_trades),
            (Method.QUOTES, QuotesRequest, self.quotes),
            (Method.WATCH_QUOTES, WatchQuotes, self.watch_quotes),
            (Method.CONTRACTS, ContractQuery, self.contracts),
            (Method.MARKET_STATUS, AccountRef, self.market_status),
            (Method.BARS, BarsRequest, self.bars),
            (Method.PAPER_SET_QUOTE, SetQuote, self.paper_set_quote),
            (Method.PAPER_CLOCK, ClockRequest, self.paper_clock),
            (Method.PAPER_RESET, AccountRef, self.paper_reset),
            (Method.STRATEGIES, type(None), self.strategies),
            (Method.STRATEGY_START, StrategyRef, self.start_strategy),
            (Method.STRATEGY_STOP, StrategyRef, self.stop_strategy),
        ]
        for name, params_type, handler in handlers:
            server.register(name, params_type, _database_failures_as_unavailable(handler))

    def _account(self, account_id: str) -> AccountRuntime:
        account = self._accounts.get(account_id)
        if account is None:
            raise NotFound(f"account {account_id!r} not found", {"account": account_id})
        return account

    def _simulator(self, account_id: str) -> Simulator:
        simulator = self._account(account_id).broker.simulator()
        if simulator is None:
            raise NotFound(
                f"account {account_id!r} is not a paper account", {"account": account_id}
            )
        return simulator

    async def status(self, _: None) -> EngineStatus:
        return EngineStatus(version=__version__, accounts=await self.accounts(None))

    async def accounts(self, _: None) -> list[AccountInfo]:
        return [account.info() for account in self._accounts.values()]

    async def summary(self, ref: AccountRef) -> AccountSummary:
        return await self._account(ref.account).summary()

    async def positions(self, ref: AccountRef) -> list[Position]:
        return await self._account(ref.account).positions()

    async def ping(self, ref: AccountRef) -> Pong:
        account = self._account(ref.account)
        start = time.perf_counter()
        ok = await account.broker.ping()
        return Pong(pong=ok, latency_ms=round((time.perf_counter() - start) * 1000, 3))

    async def get_risk(self, ref: AccountRef) -> RiskState:
        return _risk_state(self._account(ref.account).risk())

    async def set_risk(self, update: RiskUpdate) -> RiskState:
        account = self._account(update.account)
        return _risk_state(await account.set_risk(update.changes()))

    async def place(self, params: PlaceOrder) -> PlaceResult:
        return await self._account(params.account).place(params.request)

    async def get_order(self, ref: OrderRef) -> Order:
        return self._account(ref.account).get_order(ref.order_id)

    async def get_by_client_id(self, ref: ClientOrderRef) -> Order:
        return self._account(ref.account).get_order_by_client_id(ref.client_order_id)

    async def list_orders(self, query: ListOrders) -> list[Order]:
        _check_page(query.limit)
        return self._account(query.account).list_orders(query)

    async def cancel(self, ref: OrderRef) -> Order:
        return await self._account(ref.account).cancel(ref.order_id)

    async def cancel_all(self, ref: AccountRef) -> list[Order]:
        return await self._account(ref.account).cancel_all()

    async def list_trades(self, query: ListTrades) -> list[Trade]:
        _check_page(query.limit)
        return self._account(query.account).list_trades(query)

    async def quotes(self, request: QuotesRequest) -> list[Quote]:
        symbols = [parse_symbol(s) for s in request.symbols]
        return await self._account(request.account).quotes(symbols)

    async def watch_quotes(self, request: WatchQuotes) -> None:
        if not 0 < request.lease_s <= MAX_LEASE_S:
            raise ValidationFailed(
                f"lease_s must be above 0 and at most {MAX_LEASE_S:g}", {"field": "lease_s"}
            )
        symbols = [parse_symbol(s) for s in request.symbols]
        await self._account(request.account).watch_quotes(request.owner, symbols, request.lease_s)

    async def contracts(self, query: ContractQuery) -> list[Contract]:
        venue = query.venue.upper() if query.venue else None
        if venue is not None and venue not in Venue._value2member_map_:
            raise ValidationFailed(f"unknown venue {query.venue!r}", {"field": "venue"})
        return await self._account(query.account).contracts(venue, query.q or None)

    async def market_status(self, ref: AccountRef) -> list[VenueStatus]:
        return await self._account(ref.account).market_status()

    async def bars(self, request: BarsRequest) -> list[Bar]:
        if not 1 <= request.limit <= MAX_PAGE:
            raise ValidationFailed(f"limit must be between 1 and {MAX_PAGE}", {"field": "limit"})
        account = self._account(request.account)
        return await account.bars(parse_symbol(request.symbol), request.interval, request.limit)

    async def paper_clock(self, request: ClockRequest) -> ClockState:
        if (request.advance is None) == (request.to is None):
            raise ValidationFailed("give exactly one of 'advance' and 'to'", {"field": "advance"})
        simulator = self._simulator(request.account)
        now = simulator.advance_clock(advance=request.advance, to=request.to)
        await self._account(request.account).flush()
        return ClockState(account=request.account, now=now)

    async def paper_set_quote(self, request: SetQuote) -> Quote:
        simulator = self._simulator(request.account)
        account = self._account(request.account)
        quote = simulator.set_quote(
            parse_symbol(request.symbol),
            last=request.last,
            bid=request.bid,
            ask=request.ask,
            bid_size=request.bid_size,
            ask_size=request.ask_size,
            pre_close=request.pre_close,
        )
        await account.flush()
        return quote

    async def paper_reset(self, ref: AccountRef) -> None:
        """Also puts the risk settings back to the config file's: a paper account starts
        over as configured. The risk settings go first: their write is the step that can
        fail, and then nothing has changed."""
        simulator = self._simulator(ref.account)
        account = self._account(ref.account)
        await account.reset_risk()
        simulator.reset()
        await account.flush()

    async def strategies(self, _: None) -> list[StrategyInfo]:
        return [] if self._strategies is None else self._strategies.list()

    def _host(self, name: str) -> StrategyHost:
        if self._strategies is None:
            raise NotFound(f"no hosted strategy {name!r}", {"strategy": name})
        return self._strategies

    async def start_strategy(self, ref: StrategyRef) -> StrategyInfo:
        return await self._host(ref.name).start_one(ref.name)

    async def stop_strategy(self, ref: StrategyRef) -> StrategyInfo:
        return await self._host(ref.name).stop_one(ref.name)


def _database_failures_as_unavailable(
    handler: Callable[[Any], Awaitable[Any]],
) -> Callable[[Any], Awaitable[Any]]:
    """A read that meets a database it cannot reach answers 503 `engine_unavailable` naming
    the database's error, not 500: the caller may try again, nothing is wrong with the call.
    (Writes fail through the journal, which stops the engine; see `Journal`.)"""

    @functools.wraps(handler)
    async def guarded(params: Any) -> Any:
        try:
            return await handler(params)
        except DBAPIError as failed:
            reason = database_error_reason(failed)
            raise EngineUnavailable(
                f"the database cannot be read now ({reason}); try again shortly",
                {"reason": "database_unavailable", "database_error": reason},
            ) from None

    return guarded


def _risk_state(settings: RiskSettings) -> RiskState:
    return RiskState(**settings.model_dump())


def _check_page(limit: int) -> None:
    if not 1 <= limit <= MAX_PAGE:
        raise ValidationFailed(f"limit must be between 1 and {MAX_PAGE}", {"field": "limit"})
