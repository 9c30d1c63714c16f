"""The `template` adapter: the shape every real adapter follows.

- The SDK is imported in `load_client()` only, when an account of this broker starts.
- Every blocking SDK call runs on the adapter's own `SdkExecutor` with a timeout; an
  unanswered call raises `Timeout`, which for `place_order` means "outcome unknown": the engine
  then looks the order up (`find_order`) by its reference, it never sends it again.
- SDK callbacks arrive on SDK threads and go through `LoopSink` (`reports.py`).
- The connection is the `Reconnector`'s: it connects, reports the state and reconnects with
  backoff after the SDK says it lost the link; every (re)connect is followed by the engine's
  reconciliation (`query_orders`, `query_trades`).
"""

import asyncio
import contextlib
import importlib
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Protocol

from tradebridge.brokers._template.config import TemplateSettings
from tradebridge.brokers._template.mapping import (
    MARKET_STATUS,
    ORDER_TYPE,
    SIDE,
    STATUS,
    to_broker_symbol,
    to_our_symbol,
)
from tradebridge.brokers._template.reports import SdkCallbacks, fill, order_details
from tradebridge.brokers.base import (
    Broker,
    BrokerOrder,
    BrokerSink,
    Capabilities,
    Fill,
    OrderUpdate,
    VenueStatus,
)
from tradebridge.brokers.reconnect import Reconnector
from tradebridge.brokers.threads import LoopSink, SdkExecutor
from tradebridge.domain.enums import OrderStatus, OrderType, RejectReason
from tradebridge.domain.errors import BrokerUnavailable, NotCancelable, OrderRejected, Timeout
from tradebridge.domain.models import AccountSummary, Balance, Contract, Position, Quote
from tradebridge.domain.orders import Order
from tradebridge.domain.symbols import Market

FIRST_CONNECT_S = 5.0


class TemplateClient(Protocol):
    """The SDK surface the adapter uses (a real adapter uses the SDK's own classes). Calls
    block; `place` returns the broker's order number or raises `ValueError` with the
    broker's reason when it refuses the order."""

    def connect(self, host: str, port: int, account_no: str, callbacks: SdkCallbacks) -> None: ...
    def disconnect(self) -> None: ...
    def place(
        self, *, symbol: str, side: str, type: str, qty: int, price: float, remark: str
    ) -> str: ...
    def cancel(self, order_no: str) -> None: ...
    def orders(self) -> list[dict[str, Any]]: ...
    def trades(self) -> list[dict[str, Any]]: ...
    def positions(self) -> list[dict[str, Any]]: ...
    def asset(self) -> dict[str, Any]: ...
    def instrument(self, symbol: str) -> dict[str, Any] | None: ...
    def ticks(self, symbols: list[str]) -> list[dict[str, Any]]: ...
    def market(self) -> dict[str, str]: ...


def load_client() -> TemplateClient:
    """The SDK's client, imported here and nowhere else (`import` of some SDKs is slow or
    talks to the network)."""
    sdk: Any = importlib.import_module("template_sdk")
    client: TemplateClient = sdk.Client()
    return client


class TemplateBroker(Broker):
    name = "template"
    capabilities = Capabilities(markets=frozenset({Market.CN_STOCK}), quote_streaming=False)

    def __init__(
        self,
        account_id: str,
        settings: TemplateSettings,
        sink: BrokerSink,
        client: TemplateClient | None = None,
    ) -> None:
        super().__init__(account_id, sink)
        self._settings = settings
        self._client = client or load_client()
        self._calls = SdkExecutor(f"template-{account_id}", timeout_s=settings.request_timeout_s)
        self._reconnector = Reconnector(
            f"template {settings.host}:{settings.port}",
            sink,
            self._connect_once,
            disconnect=self._disconnect,
        )

    async def connect(self) -> None:
        await self._reconnector.start(FIRST_CONNECT_S)

    async def _connect_once(self) -> str:
        loop_sink = LoopSink(self.sink, asyncio.get_running_loop())
        callbacks = SdkCallbacks(loop_sink, self._reconnector.lost)
        settings = self._settings
        await self._calls.run(
            self._client.connect, settings.host, settings.port, settings.account_no, callbacks
        )
        return f"connected to {settings.host}:{settings.port} as {settings.account_no}"

    async def _disconnect(self) -> None:
        await self._calls.run(self._client.disconnect)

    async def close(self) -> None:
        await self._reconnector.stop()
        try:
            with contextlib.suppress(Timeout):  # behind a hung call: the process exit ends it
                await self._disconnect()
        finally:
            self._calls.close()

    async def ping(self) -> bool:
        return self._reconnector.connected

    def _require_connected(self) -> None:
        if not self._reconnector.connected:
            raise BrokerUnavailable(f"account {self.account_id}: not connected to the broker")

    async def place_order(self, order: Order) -> None:
        self._require_connected()
        price = order.limit_price if order.type is OrderType.LIMIT else Decimal(0)
        try:
            order_no = await self._calls.run(
                lambda: self._client.place(
                    symbol=to_broker_symbol(order.symbol),
                    side=SIDE.to_sdk(order.side),
                    type=ORDER_TYPE.to_sdk(order.type),
                    qty=order.qty,
                    price=float(price or 0),
                    remark=order.id,  # our reference: how a lost answer is found again
                )
            )
        except ValueError as refused:
            raise OrderRejected(RejectReason.BROKER_REFUSED, str(refused)) from None
        self.sink.on_order_update(
            OrderUpdate(status=OrderStatus.NEW, order_id=order.id, broker_order_id=order_no)
        )

    async def cancel_order(self, order: Order) -> None:
        self._require_connected()
        if order.broker_order_id is None:
            raise NotCancelable(f"order {order.id} has no broker order number yet")
        await self._calls.run(self._client.cancel, order.broker_order_id)

    async def query_orders(self) -> list[BrokerOrder]:
        return [
            BrokerOrder(
                order_id=record.get("remark") or None,
                broker_order_id=str(record["order_no"]),
                status=STATUS.to_ours(record["status"]),
                filled_qty=int(record["traded_qty"]),
                reason=record.get("message") or None,
                details=None if record.get("remark") else order_details(record),
            )
            for record in await self._calls.run(self._client.orders)
        ]

    async def query_trades(self) -> list[Fill]:
        return [fill(record) for record in await self._calls.run(self._client.trades)]

    async def query_positions(self) -> list[Position]:
        return [
            Position(
                symbol=to_our_symbol(row["symbol"]),
                qty=int(row["qty"]),
                available_qty=int(row["available"]),
                avg_cost=Decimal(str(row["avg_cost"])),
                last_price=Decimal(str(row["last"])),
                market_value=Decimal(str(row["market_value"])),
                unrealized_pnl=Decimal(str(row["pnl"])),
                currency="CNY",
            )
            for row in await self._calls.run(self._client.positions)
        ]

    async def query_account(self) -> AccountSummary:
        asset = await self._calls.run(self._client.asset)
        cash, available = Decimal(str(asset["cash"])), Decimal(str(asset["available"]))
        frozen, value = Decimal(str(asset["frozen"])), Decimal(str(asset["market_value"]))
        return AccountSummary(
            account=self.account_id,
            currency="CNY",
            cash=cash,
            available=available,
            frozen=frozen,
            market_value=value,
            equity=cash + value,
            realized_pnl=Decimal(0),
            unrealized_pnl=Decimal(0),
            balances=[Balance(currency="CNY", cash=cash, available=available, frozen=frozen)],
        )

    async def contract(self, symbol: str) -> Contract | None:
        row = await self._calls.run(self._client.instrument, to_broker_symbol(symbol))
        if row is None:
            return None
        return Contract(
            symbol=symbol,
            name=row["name"],
            currency="CNY",
            lot_size=int(row["lot"]),
            tick_size=Decimal(str(row["tick"])),
            pre_close=Decimal(str(row["pre_close"])),
        )

    async def quotes(self, symbols: list[str]) -> list[Quote]:
        ticks = await self._calls.run(self._client.ticks, [to_broker_symbol(s) for s in symbols])
        return [
            Quote(
                symbol=to_our_symbol(tick["symbol"]),
                last=Decimal(str(tick["last"])),
                bid=Decimal(str(tick["bid"])) if tick.get("bid") else None,
                ask=Decimal(str(tick["ask"])) if tick.get("ask") else None,
                bid_size=int(tick.get("bid_size", 0)),
                ask_size=int(tick.get("ask_size", 0)),
                pre_close=Decimal(str(tick["pre_close"])),
                time=datetime.fromtimestamp(tick["time"], UTC),
            )
            for tick in ticks
        ]

    async def market_status(self) -> list[VenueStatus]:
        return [
            VenueStatus(venue=venue, status=MARKET_STATUS.to_ours(state), broker_status=state)
            for venue, state in (await self._calls.run(self._client.market)).items()
        ]
