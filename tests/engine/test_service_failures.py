"""The engine's RPC handlers answer a database they cannot read with 503, not 500."""

from pathlib import Path

import pytest
from sqlalchemy import text
from tests.engine.conftest import start_harness, stop_harness

from tradebridge.domain.errors import EngineUnavailable
from tradebridge.engine.protocol import ListTrades, Method
from tradebridge.engine.service import EngineService

pytestmark = pytest.mark.anyio


class Registry:
    """Collects what `EngineService.register` hands an RPC server."""

    def __init__(self) -> None:
        self.handlers: dict[str, object] = {}

    def register(self, name: str, params_type: type, handler: object) -> None:
        self.handlers[name] = handler


async def test_a_read_the_database_cannot_answer_is_engine_unavailable(tmp_path: Path) -> None:
    harness = await start_harness(tmp_path / "reads.db")
    try:
        registry = Registry()
        EngineService({"paper": harness.account}).register(registry)  # type: ignore[arg-type]
        with harness.db.begin() as conn:
            conn.execute(text("DROP TABLE trades"))
        list_trades = registry.handlers[Method.LIST_TRADES]
        with pytest.raises(EngineUnavailable) as caught:
            await list_trades(ListTrades(account="paper"))  # type: ignore[operator]
        assert caught.value.details["reason"] == "database_unavailable"
        assert "trades" in caught.value.details["database_error"]
    finally:
        await stop_harness(harness)
