"""The dialect's state in one web worker: how it shows its account, the tick subscriptions,
the contracts (for names), and the feed of its WebSockets."""

import asyncio
from collections.abc import Mapping

from tradebridge.api.compat.vnpy.feed import VnpyFeed
from tradebridge.api.compat.vnpy.objects import VnpyView
from tradebridge.api.compat.vnpy.subscriptions import FILE_NAME, TickSubscriptions
from tradebridge.api.engine_client import EngineClient
from tradebridge.config import Settings
from tradebridge.domain.models import Contract


class ContractBook:
    """The account's contracts by symbol, asked of the engine once per worker: they come from
    the configuration and do not change while it runs."""

    def __init__(self, account: str) -> None:
        self._account = account
        self._contracts: dict[str, Contract] | None = None
        self._loading = asyncio.Lock()

    async def load(self, engine: EngineClient) -> Mapping[str, Contract]:
        async with self._loading:
            if self._contracts is None:
                contracts = await engine.contracts(self._account, None, None)
                self._contracts = {c.symbol: c for c in contracts}
        return self._contracts

    def name(self, symbol: str) -> str:
        """The contract's name if it is known already ("" otherwise, vnpy's default)."""
        contract = (self._contracts or {}).get(symbol)
        return contract.name if contract is not None else ""


class VnpyDialect:
    def __init__(self, settings: Settings) -> None:
        compat = settings.compat.vnpy
        account = settings.account(compat.account)
        if account is None:  # the settings check this; here for the type checker
            raise ValueError(f"compat.vnpy.account {compat.account!r} is not configured")
        self.account = account.id
        self.settle_s = 3 * settings.engine.rpc_timeout_ms / 1000
        """How long an order whose engine answer was lost is asked again (`compat.placing`)."""
        self.envelope = compat.envelope
        self.view = VnpyView(
            gateway_name=account.broker.upper(), account=account.id, language=compat.language
        )
        self.subscriptions = TickSubscriptions(settings.data_dir / FILE_NAME)
        self.contracts = ContractBook(account.id)
        self.feed = VnpyFeed(self.view, self.subscriptions, self.contracts)
