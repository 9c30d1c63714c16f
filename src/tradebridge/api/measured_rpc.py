"""The web's RPC client, timing and counting every engine call for the metrics."""

import time
from typing import TypeVar

import msgspec

from tradebridge.api.metrics import Metrics
from tradebridge.domain.errors import TradebridgeError
from tradebridge.rpc import RpcClient
from tradebridge.rpc.curve import CurveClient

R = TypeVar("R")


class MeasuredRpcClient(RpcClient):
    def __init__(
        self,
        address: str,
        metrics: Metrics,
        *,
        heartbeat_ms: int,
        timeout_ms: int,
        curve: CurveClient | None = None,
    ) -> None:
        super().__init__(address, heartbeat_ms=heartbeat_ms, timeout_ms=timeout_ms, curve=curve)
        self._metrics = metrics

    async def call(
        self,
        method: str,
        params: msgspec.Struct | None,
        result_type: type[R],
        *,
        timeout_ms: int | None = None,
    ) -> R:
        started = time.perf_counter()
        try:
            result = await super().call(method, params, result_type, timeout_ms=timeout_ms)
        except TradebridgeError as exc:
            self._metrics.rpc_call(method, time.perf_counter() - started, exc.code)
            raise
        self._metrics.rpc_call(method, time.perf_counter() - started, "ok")
        return result
