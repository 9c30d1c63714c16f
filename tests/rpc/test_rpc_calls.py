"""RPC calls end to end over real sockets: results, concurrency, errors, timeouts."""

from __future__ import annotations

import asyncio
import logging
import random

import msgspec
import pytest

from tradebridge.domain.errors import (
    EngineUnavailable,
    InternalError,
    NotFound,
    OrderRejected,
    Timeout,
    ValidationFailed,
)
from tradebridge.rpc import RpcClient, RpcServer

from .support import Echo, Echoed, Net, Order, wait_for

pytestmark = pytest.mark.anyio


class Notional(msgspec.Struct):
    symbol: str
    notional: float


async def test_round_trip_with_typed_structs(net: Net, address: str) -> None:
    await net.server(address)
    client = await net.client(address)

    assert client.connected
    assert await client.call("echo", Echo(41), Echoed) == Echoed(41, "server")
    result = await client.call("place", Order("600000.SH", 300, 10.5), Notional)
    assert result == Notional("600000.SH", 3150.0)


async def test_none_params_and_none_result(net: Net, address: str) -> None:
    await net.server(address)
    client = await net.client(address)

    assert await client.call("none", None, type(None)) is None


async def test_result_decoded_into_other_shapes(net: Net, address: str) -> None:
    await net.server(address)
    client = await net.client(address)

    result = await client.call("place", Order("AAPL", 2, 100.0), dict[str, object])
    assert result == {"symbol": "AAPL", "notional": 200.0}


async def test_result_of_the_wrong_type_is_an_internal_error(net: Net, address: str) -> None:
    await net.server(address)
    client = await net.client(address)

    with pytest.raises(InternalError, match="malformed result for 'echo'"):
        await client.call("echo", Echo(1), Order)
    assert await client.call("echo", Echo(2), Echoed) == Echoed(2, "server")


async def test_200_concurrent_calls_each_get_their_own_answer(net: Net, address: str) -> None:
    server = await net.server(address)
    client = await net.client(address)
    order_served: list[int] = []

    async def traced(params: Echo) -> Echoed:
        await asyncio.sleep(params.delay_ms / 1000)
        order_served.append(params.value)
        return Echoed(params.value * 7, "traced")

    server.register("traced", Echo, traced)
    rng = random.Random(1234)
    delays = [rng.randint(0, 60) for _ in range(200)]

    async def one(value: int) -> tuple[int, Echoed]:
        return value, await client.call("traced", Echo(value, delays[value]), Echoed)

    started = asyncio.get_running_loop().time()
    results = await asyncio.gather(*(one(value) for value in range(200)))
    elapsed = asyncio.get_running_loop().time() - started

    assert all(echoed == Echoed(value * 7, "traced") for value, echoed in results)
    # Handlers ran concurrently and answered as they finished, not in request order ...
    assert order_served != sorted(order_served)
    assert sorted(order_served) == list(range(200))
    # ... so the whole batch took about as long as the slowest one, not the sum (~6 s).
    assert elapsed < 1.5


async def test_slow_handler_does_not_block_others(net: Net, address: str) -> None:
    await net.server(address)
    client = await net.client(address)

    slow = asyncio.create_task(client.call("echo", Echo(1, delay_ms=500), Echoed))
    await asyncio.sleep(0.02)
    started = asyncio.get_running_loop().time()
    assert await client.call("echo", Echo(2), Echoed) == Echoed(2, "server")
    assert asyncio.get_running_loop().time() - started < 0.2
    assert not slow.done()
    assert await slow == Echoed(1, "server")


async def test_handler_error_keeps_code_message_and_details(net: Net, address: str) -> None:
    await net.server(address)
    client = await net.client(address)

    with pytest.raises(OrderRejected) as caught:
        await client.call("reject", Order("600000.SH", 300, 10.5), type(None))
    error = caught.value
    assert error.code == "order_rejected"
    assert error.message == "not enough cash for 300 600000.SH"
    assert error.details == {"reason": "insufficient_funds", "order_id": "ord-1", "needed": 1234.5}
    assert error.reason.value == "insufficient_funds"

    with pytest.raises(NotFound) as missing:
        await client.call("missing", None, type(None))
    assert (missing.value.message, missing.value.details) == (
        "no such order",
        {"order_id": "ord-404"},
    )


async def test_unexpected_exception_is_a_generic_internal_error(
    net: Net, address: str, caplog: pytest.LogCaptureFixture
) -> None:
    await net.server(address)
    client = await net.client(address)

    caplog.set_level(logging.ERROR, logger="tradebridge.rpc.server")
    with pytest.raises(InternalError) as caught:
        await client.call("crash", None, type(None))
    error = caught.value
    assert error.code == "internal_error"
    wire_text = f"{error.message} {error.details}"
    for leak in ("Traceback", "ZeroDivisionError", "hunter2", "boom", 'File "'):
        assert leak not in wire_text
    # The traceback is in the server's log instead.
    assert any(record.exc_info and "crash" in record.getMessage() for record in caplog.records)
    # And the server carries on.
    assert await client.call("echo", Echo(5), Echoed) == Echoed(5, "server")


async def test_unencodable_result_is_an_internal_error(net: Net, address: str) -> None:
    await net.server(address)
    client = await net.client(address)

    with pytest.raises(InternalError):
        await client.call("bad_result", None, type(None))


async def test_params_that_do_not_fit_are_a_validation_error(net: Net, address: str) -> None:
    await net.server(address)
    client = await net.client(address)

    class WrongOrder(msgspec.Struct):
        symbol: str
        qty: str
        price: float

    with pytest.raises(ValidationFailed) as caught:
        await client.call("place", WrongOrder("600000.SH", "lots", 1.0), Notional)
    assert caught.value.code == "validation_error"
    assert caught.value.message == "Expected `int`, got `str` - at `$.qty`"
    assert caught.value.details == {
        "field": "qty",
        "errors": [{"field": "qty", "message": caught.value.message}],
    }

    with pytest.raises(ValidationFailed, match="Expected `object`, got `None`"):
        await client.call("place", None, Notional)
    with pytest.raises(ValidationFailed):  # params given to a method that takes none
        await client.call("none", Echo(1), type(None))


async def test_unknown_method_is_not_found(net: Net, address: str) -> None:
    await net.server(address)
    client = await net.client(address)

    with pytest.raises(NotFound) as caught:
        await client.call("orders.nope", None, type(None))
    assert caught.value.message == "unknown RPC method 'orders.nope'"


async def test_timeout_then_the_client_keeps_working(
    net: Net, address: str, caplog: pytest.LogCaptureFixture
) -> None:
    server = await net.server(address)
    client = await net.client(address, timeout_ms=2000)
    finished = asyncio.Event()

    async def slow(params: Echo) -> Echoed:
        await asyncio.sleep(params.delay_ms / 1000)
        finished.set()
        return Echoed(params.value, "slow")

    server.register("slow", Echo, slow)

    caplog.set_level(logging.DEBUG, logger="tradebridge.rpc.client")
    started = asyncio.get_running_loop().time()
    with pytest.raises(Timeout) as caught:
        await client.call("slow", Echo(1, delay_ms=300), Echoed, timeout_ms=50)
    assert asyncio.get_running_loop().time() - started < 0.25
    assert caught.value.code == "timeout"
    assert caught.value.details == {"method": "slow", "timeout_ms": 50}

    # The very next call works, while the timed-out handler is still running.
    assert not finished.is_set()
    assert await client.call("echo", Echo(2), Echoed) == Echoed(2, "server")

    # The late answer arrives, is ignored, and changes nothing.
    await asyncio.wait_for(finished.wait(), 1)
    await wait_for(lambda: "unknown request" in caplog.text)
    assert client.connected
    results = await asyncio.gather(*(client.call("echo", Echo(v), Echoed) for v in range(20)))
    assert [r.value for r in results] == list(range(20))


async def test_constructor_timeout_applies_by_default(net: Net, address: str) -> None:
    await net.server(address)
    client = await net.client(address, timeout_ms=80)

    started = asyncio.get_running_loop().time()
    with pytest.raises(Timeout):
        await client.call("echo", Echo(1, delay_ms=400), Echoed)
    assert 0.07 < asyncio.get_running_loop().time() - started < 0.3
    # A per-call timeout overrides it.
    assert await client.call("echo", Echo(2, delay_ms=150), Echoed, timeout_ms=1000) == Echoed(
        2, "server"
    )


async def test_caller_cancelled_while_waiting_leaves_the_client_usable(
    net: Net, address: str
) -> None:
    await net.server(address)
    client = await net.client(address)

    waiting = asyncio.create_task(client.call("echo", Echo(1, delay_ms=200), Echoed))
    await asyncio.sleep(0.02)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert await client.call("echo", Echo(2), Echoed) == Echoed(2, "server")
    await asyncio.sleep(0.25)  # the answer to the cancelled call comes and is ignored
    assert await client.call("echo", Echo(3), Echoed) == Echoed(3, "server")


async def test_call_before_start_or_connection_fails_fast(address: str) -> None:
    client = RpcClient(address, heartbeat_ms=100)
    with pytest.raises(EngineUnavailable):
        await client.call("echo", Echo(1), Echoed)
    await client.start()
    try:
        assert not client.connected  # nothing listens on the address
        started = asyncio.get_running_loop().time()
        with pytest.raises(EngineUnavailable):
            await client.call("echo", Echo(1), Echoed)
        assert asyncio.get_running_loop().time() - started < 0.05
        assert not await client.wait_connected(150)
    finally:
        await client.close()


async def test_register_rejects_duplicates_and_start_twice(address: str) -> None:
    server = RpcServer(address)

    async def handler(_: None) -> None:
        return None

    server.register("m", type(None), handler)
    with pytest.raises(ValueError, match="already registered"):
        server.register("m", type(None), handler)
    await server.start()
    try:
        with pytest.raises(RuntimeError):
            await server.start()
    finally:
        await server.close()
    await server.close()  # idempotent
