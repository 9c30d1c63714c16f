"""The REST routes of /api/v1 (API.md §3), one function each: the request it makes and the
type of its answer. `Client` and `AsyncClient` turn each into a method of the same name,
signature and documentation."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal
from urllib.parse import quote

from tradebridge_client._exchange import Call, Safety
from tradebridge_client.errors import OrderRejected
from tradebridge_client.models import (
    AccountInfo,
    AccountSummary,
    ApiKey,
    AuditEntry,
    Bar,
    ClockState,
    Contract,
    Health,
    NewApiKey,
    Offset,
    Order,
    OrderStatus,
    OrderType,
    PaperReset,
    Pong,
    Position,
    Quote,
    RiskState,
    Side,
    StrategyInfo,
    TimeInForce,
    Token,
    Trade,
    TradingState,
    VenueStatus,
)

PriceLike = Decimal | int | str | float
"""A price: best a `Decimal` or a string; an int or float is taken as written (`1500.1`)."""
Interval = Literal["1m", "5m", "1d"]
OrderFilter = Literal["open", "closed", "all"]


def new_client_order_id() -> str:
    """A fresh client_order_id: `tbc-` and 32 hex digits (random, unique for all purposes)."""
    return f"tbc-{uuid.uuid4().hex}"


def _segment(value: str) -> str:
    return quote(value, safe="")


def _price(value: PriceLike) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))


def _query(**values: Any) -> dict[str, str | int]:
    """Query parameters, leaving out those not given."""
    return {
        name: value if isinstance(value, int | str) else str(value)
        for name, value in values.items()
        if value is not None
    }


# --------------------------------------------------------------------------- service


def health() -> Call[Health]:
    """Whether the server, its database, engines and brokers are up (no credentials)."""
    return Call("GET", "/health", Health, authenticated=False)


def login(username: str, password: str) -> Call[Token]:
    """A login token for `username` (the client logs in by itself when given a password)."""
    return Call(
        "POST",
        "/auth/token",
        Token,
        json={"username": username, "password": password},
        authenticated=False,
    )


def keys(*, user: str | None = None) -> Call[list[ApiKey]]:
    """Your API keys (admins: everyone's, or `user`'s), revoked ones too."""
    return Call("GET", "/keys", list[ApiKey], params=_query(user=user))


def create_key(
    scopes: list[str], *, account: str | None = None, user: str | None = None
) -> Call[NewApiKey]:
    """A new API key with `scopes` (read, trade, admin), optionally bound to `account` and,
    for admins, owned by `user`. The key is in the answer only. Needs a login (or a key with
    the admin scope)."""
    body: dict[str, Any] = {"scopes": scopes}
    if account is not None:
        body["account"] = account
    if user is not None:
        body["user"] = user
    return Call("POST", "/keys", NewApiKey, json=body, safety=Safety.UNSAFE)


def revoke_key(key_id: str) -> Call[ApiKey]:
    """Revoke an API key (yours; admins: anyone's)."""
    return Call("DELETE", f"/keys/{_segment(key_id)}", ApiKey)


# --------------------------------------------------------------------------- accounts


def accounts() -> Call[list[AccountInfo]]:
    """The accounts you may read, with their broker, connection and trading state."""
    return Call("GET", "/accounts", list[AccountInfo])


def balance(account: str) -> Call[AccountSummary]:
    """The balance summary of `account`: totals in its base currency and per currency."""
    return Call("GET", f"/accounts/{_segment(account)}", AccountSummary)


def positions(account: str) -> Call[list[Position]]:
    return Call("GET", f"/accounts/{_segment(account)}/positions", list[Position])


def ping(account: str) -> Call[Pong]:
    """A round trip to the account's broker."""
    return Call("GET", f"/accounts/{_segment(account)}/ping", Pong)


def risk(account: str) -> Call[RiskState]:
    """The account's risk limits and trading state."""
    return Call("GET", f"/accounts/{_segment(account)}/risk", RiskState)


def set_risk(
    account: str,
    *,
    trading_state: TradingState | str | None = None,
    **limits: int | PriceLike | None,
) -> Call[RiskState]:
    """Change risk limits (`max_order_qty=1000`, `price_band_pct=5`; None removes a limit)
    or the trading state (admins). Only what is given changes."""
    body: dict[str, Any] = {
        name: (value if value is None or isinstance(value, int) else _price(value))
        for name, value in limits.items()
    }
    if trading_state is not None:
        body["trading_state"] = str(trading_state)
    return Call("PUT", f"/accounts/{_segment(account)}/risk", RiskState, json=body)


# --------------------------------------------------------------------------- orders


def _refuse_rejected(order: Order) -> Order:
    """A retried placement is answered with the order the first try made; if that was
    rejected, say so as the first try's answer did."""
    if order.status is OrderStatus.REJECTED:
        raise OrderRejected(
            f"order {order.id} ({order.client_order_id}) was rejected: {order.reject_reason}",
            {"reason": order.reject_reason or "", "order_id": order.id},
            status=422,
        )
    return order


def place_order(
    account: str,
    symbol: str,
    side: Side | str,
    qty: int,
    *,
    type: OrderType | str | None = None,
    limit_price: PriceLike | None = None,
    time_in_force: TimeInForce | str = TimeInForce.DAY,
    client_order_id: str | None = None,
    offset: Offset | str | None = None,
) -> Call[Order]:
    """Place an order; it is a limit order when `limit_price` is given, else a market order.

    `client_order_id` (1-64 of `A-Za-z0-9_.:-`) is the order's idempotency key; one is made
    up when not given. Every retry sends the same one, so however the connection fails the
    order is placed at most once. The answer is the order (possibly already filled); a
    refusal raises `OrderRejected` with its `reason`.
    """
    order_type = OrderType(type) if type is not None else None
    if order_type is None:
        order_type = OrderType.LIMIT if limit_price is not None else OrderType.MARKET
    body: dict[str, Any] = {
        "symbol": symbol,
        "side": str(side),
        "qty": qty,
        "type": order_type.value,
        "time_in_force": str(time_in_force),
        "client_order_id": client_order_id or new_client_order_id(),
    }
    if limit_price is not None:
        body["limit_price"] = _price(limit_price)
    if offset is not None:
        body["offset"] = str(offset)
    return Call(
        "POST",
        f"/accounts/{_segment(account)}/orders",
        Order,
        json=body,
        safety=Safety.PLACEMENT,
        check=_refuse_rejected,
    )


def orders(
    account: str,
    *,
    status: OrderFilter = "all",
    symbol: str | None = None,
    limit: int = 100,
    after: str | None = None,
) -> Call[list[Order]]:
    """Orders, ascending by id: the latest `limit`, or the `limit` placed after the order id
    `after` (to page through all)."""
    return Call(
        "GET",
        f"/accounts/{_segment(account)}/orders",
        list[Order],
        params=_query(status=status, symbol=symbol, limit=limit, after=after),
    )


def order(account: str, order_id: str) -> Call[Order]:
    return Call("GET", f"/accounts/{_segment(account)}/orders/{_segment(order_id)}", Order)


def order_by_client_id(account: str, client_order_id: str) -> Call[Order]:
    """The order placed with `client_order_id` (`NotFound` if none was)."""
    path = f"/accounts/{_segment(account)}/orders:by_client_id/{_segment(client_order_id)}"
    return Call("GET", path, Order)


def cancel_order(account: str, order_id: str) -> Call[Order]:
    """Cancel an order; the answer is it, `pending_cancel` or `canceled`. An order that has
    ended raises `NotCancelable` (unless a retry finds it canceled by the first try)."""
    path = f"/accounts/{_segment(account)}/orders/{_segment(order_id)}"
    return Call("DELETE", path, Order, if_not_cancelable=order(account, order_id))


def cancel_all(account: str) -> Call[list[Order]]:
    """Cancel every open order of the account; the answer lists them."""
    return Call("DELETE", f"/accounts/{_segment(account)}/orders", list[Order])


def trades(
    account: str,
    *,
    symbol: str | None = None,
    order_id: str | None = None,
    limit: int = 100,
    after: str | None = None,
) -> Call[list[Trade]]:
    """Fills, ascending by id; `limit` and `after` page as for orders."""
    return Call(
        "GET",
        f"/accounts/{_segment(account)}/trades",
        list[Trade],
        params=_query(symbol=symbol, order_id=order_id, limit=limit, after=after),
    )


# --------------------------------------------------------------------------- market


def contracts(
    *, account: str | None = None, venue: str | None = None, q: str | None = None
) -> Call[list[Contract]]:
    """Tradable instruments of the account's broker (default: the first account), by venue
    or by a part of the symbol or name."""
    return Call(
        "GET", "/market/contracts", list[Contract], params=_query(account=account, venue=venue, q=q)
    )


def quotes(symbols: list[str], *, account: str | None = None) -> Call[list[Quote]]:
    """Quote snapshots of up to 200 symbols."""
    return Call(
        "GET",
        "/market/quotes",
        list[Quote],
        params=_query(symbols=",".join(symbols), account=account),
    )


def market_status(*, account: str | None = None) -> Call[list[VenueStatus]]:
    """What each venue is doing now (open, auction, closed, ...)."""
    return Call("GET", "/market/status", list[VenueStatus], params=_query(account=account))


def bars(
    symbol: str, *, interval: Interval = "1m", limit: int = 200, account: str | None = None
) -> Call[list[Bar]]:
    """Recent bars of `symbol`, oldest first; the last one may still be forming."""
    return Call(
        "GET",
        "/market/bars",
        list[Bar],
        params=_query(symbol=symbol, interval=interval, limit=limit, account=account),
    )


# --------------------------------------------------------------------------- paper broker


def paper_set_quote(
    account: str,
    symbol: str,
    last: PriceLike,
    *,
    bid: PriceLike | None = None,
    ask: PriceLike | None = None,
    bid_size: int | None = None,
    ask_size: int | None = None,
    pre_close: PriceLike | None = None,
) -> Call[Quote]:
    """Set the simulated market of `symbol` on a paper account (admins); resting orders that
    now cross fill at once."""
    body: dict[str, Any] = {"symbol": symbol, "last": _price(last)}
    for name, price in (("bid", bid), ("ask", ask), ("pre_close", pre_close)):
        if price is not None:
            body[name] = _price(price)
    for name, size in (("bid_size", bid_size), ("ask_size", ask_size)):
        if size is not None:
            body[name] = size
    path = f"/paper/{_segment(account)}/quotes"
    return Call("POST", path, Quote, json=body, safety=Safety.UNSAFE)


def paper_clock(
    account: str,
    *,
    advance: Literal["next_day", "next_session"] | None = None,
    to: datetime | None = None,
) -> Call[ClockState]:
    """Move a paper account's clock forward: `advance="next_day"` (T+1 settles, day orders
    expire), `"next_session"`, or `to` an aware time (admins)."""
    body: dict[str, Any] = {}
    if advance is not None:
        body["advance"] = advance
    if to is not None:
        body["to"] = to.isoformat()
    path = f"/paper/{_segment(account)}/clock"
    return Call("POST", path, ClockState, json=body, safety=Safety.UNSAFE)


def paper_reset(account: str) -> Call[PaperReset]:
    """A paper account back to its configured cash, with nothing held or open (admins)."""
    return Call("POST", f"/paper/{_segment(account)}/reset", PaperReset)


# --------------------------------------------------------------------------- admin


def audit(
    *,
    actor: str | None = None,
    action: str | None = None,
    path: str | None = None,
    account: str | None = None,
    status: int | None = None,
    result: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 100,
    after: int | None = None,
) -> Call[list[AuditEntry]]:
    """The audit log (admins): logins and every mutating request, ascending by id."""
    return Call(
        "GET",
        "/audit",
        list[AuditEntry],
        params=_query(
            actor=actor,
            action=action,
            path=path,
            account=account,
            status=status,
            result=result,
            since=since.isoformat() if since else None,
            until=until.isoformat() if until else None,
            limit=limit,
            after=after,
        ),
    )


def strategies() -> Call[list[StrategyInfo]]:
    """The strategies the server hosts (`[[strategies]]`) and the state of each."""
    return Call("GET", "/strategies", list[StrategyInfo])


def start_strategy(name: str) -> Call[StrategyInfo]:
    """Start a hosted strategy (admins); starting a running one changes nothing."""
    return Call("POST", f"/strategies/{_segment(name)}/start", StrategyInfo)


def stop_strategy(name: str) -> Call[StrategyInfo]:
    """Stop a hosted strategy (admins); it stays stopped until started again."""
    return Call("POST", f"/strategies/{_segment(name)}/stop", StrategyInfo)
