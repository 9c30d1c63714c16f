"""RPC round trip: tradebridge.rpc next to raw pyzmq on the same loopback, in the same run.

Each server runs in its own child process, like the engine; this process plays the web side.

    .venv/bin/python bench/rpc_roundtrip.py                 # defaults: 5000 calls, asyncio
    .venv/bin/python bench/rpc_roundtrip.py --calls 20000 --uvloop

Rows:
  raw REQ/REP (sync)         floor: blocking pyzmq REQ -> REP echo, no event loop at all
  raw DEALER/ROUTER (async)  floor: zmq.asyncio DEALER -> ROUTER echo, the same sockets and
                             event-loop integration the RPC uses, without any of its logic
  rpc                        RpcClient.call -> RpcServer handler -> typed result
Latency is sequential (one call at a time): p50 and p99 of the round trip. Throughput keeps 16
calls in flight (16 concurrent callers for the RPC, a 16-deep window for the async floor).
The "added" column is the RPC p50 minus the floor p50: what the transport costs per hop.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import socket
import statistics
import time
from collections.abc import Callable, Coroutine
from multiprocessing.synchronize import Event as EventType
from typing import Any, TypeVar

import msgspec
import zmq
import zmq.asyncio

from tradebridge.rpc import RpcClient, RpcServer

CONCURRENCY = 16
T = TypeVar("T")


class Quote(msgspec.Struct):
    symbol: str
    price: float
    qty: int


def free_address() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"tcp://127.0.0.1:{s.getsockname()[1]}"


def run_loop(main: Coroutine[Any, Any, T], use_uvloop: bool) -> T:
    if use_uvloop:
        import uvloop

        return uvloop.run(main)
    return asyncio.run(main)


# -- servers (child processes) ----------------------------------------------------------------


def serve_rep(address: str, ready: EventType, use_uvloop: bool) -> None:
    ctx = zmq.Context()
    sock = ctx.socket(zmq.REP)
    sock.bind(address)
    ready.set()
    while True:
        sock.send(sock.recv())


async def _serve_router(address: str, ready: EventType) -> None:
    sock = zmq.asyncio.Context().socket(zmq.ROUTER)
    sock.bind(address)
    ready.set()
    while True:
        frames = await sock.recv_multipart()
        await sock.send_multipart(frames)


def serve_router(address: str, ready: EventType, use_uvloop: bool) -> None:
    run_loop(_serve_router(address, ready), use_uvloop)


async def _serve_rpc(address: str, ready: EventType) -> None:
    async def echo(quote: Quote) -> Quote:
        return quote

    server = RpcServer(address)
    server.register("echo", Quote, echo)
    await server.start()
    ready.set()
    await asyncio.Event().wait()


def serve_rpc(address: str, ready: EventType, use_uvloop: bool) -> None:
    run_loop(_serve_rpc(address, ready), use_uvloop)


# -- measurements ---------------------------------------------------------------------------


class Row(msgspec.Struct):
    name: str
    p50_us: float
    p99_us: float
    throughput: float | None


def percentiles(samples_ns: list[int]) -> tuple[float, float]:
    q = statistics.quantiles(samples_ns, n=100)
    return q[49] / 1000, q[98] / 1000


def bench_rep(address: str, calls: int) -> Row:
    ctx = zmq.Context()
    sock = ctx.socket(zmq.REQ)
    sock.connect(address)
    payload = msgspec.msgpack.encode(Quote("600000.SH", 10.5, 100))
    for _ in range(calls // 10):  # warm up
        sock.send(payload)
        sock.recv()
    samples = []
    for _ in range(calls):
        t0 = time.perf_counter_ns()
        sock.send(payload)
        sock.recv()
        samples.append(time.perf_counter_ns() - t0)
    sock.close(linger=0)
    ctx.term()
    return Row("raw REQ/REP (sync)", *percentiles(samples), None)


async def bench_dealer(address: str, calls: int) -> Row:
    ctx = zmq.asyncio.Context()
    sock = ctx.socket(zmq.DEALER)
    sock.connect(address)
    payload = msgspec.msgpack.encode(Quote("600000.SH", 10.5, 100))
    for _ in range(calls // 10):
        await sock.send(payload)
        await sock.recv()
    samples = []
    for _ in range(calls):
        t0 = time.perf_counter_ns()
        await sock.send(payload)
        await sock.recv()
        samples.append(time.perf_counter_ns() - t0)
    # throughput: keep CONCURRENCY messages in flight
    total = calls * 4
    started = time.perf_counter()
    for _ in range(CONCURRENCY):
        await sock.send(payload)
    for sent in range(CONCURRENCY, total + CONCURRENCY):
        await sock.recv()
        if sent < total:
            await sock.send(payload)
    throughput = total / (time.perf_counter() - started)
    sock.close(linger=0)
    ctx.term()
    return Row("raw DEALER/ROUTER (async)", *percentiles(samples), throughput)


async def bench_rpc(address: str, calls: int) -> Row:
    client = RpcClient(address, timeout_ms=10_000)
    await client.start()
    if not await client.wait_connected(5000):
        raise SystemExit("RPC server did not come up")
    quote = Quote("600000.SH", 10.5, 100)
    for _ in range(calls // 10):
        await client.call("echo", quote, Quote)
    samples = []
    for _ in range(calls):
        t0 = time.perf_counter_ns()
        await client.call("echo", quote, Quote)
        samples.append(time.perf_counter_ns() - t0)

    total = calls * 4
    per_caller = total // CONCURRENCY

    async def caller() -> None:
        for _ in range(per_caller):
            await client.call("echo", quote, Quote)

    started = time.perf_counter()
    await asyncio.gather(*(caller() for _ in range(CONCURRENCY)))
    throughput = per_caller * CONCURRENCY / (time.perf_counter() - started)
    await client.close()
    return Row("rpc", *percentiles(samples), throughput)


def with_server(
    serve: Callable[[str, EventType, bool], None], use_uvloop: bool
) -> tuple[str, mp.process.BaseProcess]:
    address = free_address()
    spawn = mp.get_context("spawn")
    ready = spawn.Event()
    proc = spawn.Process(target=serve, args=(address, ready, use_uvloop), daemon=True)
    proc.start()
    if not ready.wait(10):
        proc.kill()
        raise SystemExit(f"{serve.__name__} did not start")
    return address, proc


def stop(proc: mp.process.BaseProcess) -> None:
    proc.kill()
    proc.join(5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--calls", type=int, default=5000, help="sequential calls per row")
    parser.add_argument("--uvloop", action="store_true", help="run both sides on uvloop")
    args = parser.parse_args()

    rows: list[Row] = []
    address, proc = with_server(serve_rep, args.uvloop)
    try:
        rows.append(bench_rep(address, args.calls))
    finally:
        stop(proc)

    for serve, bench in ((serve_router, bench_dealer), (serve_rpc, bench_rpc)):
        address, proc = with_server(serve, args.uvloop)
        try:
            rows.append(run_loop(bench(address, args.calls), args.uvloop))
        finally:
            stop(proc)

    loop_name = "uvloop" if args.uvloop else "asyncio"
    print(f"\nloopback TCP, {args.calls} sequential calls, {loop_name}, {mp.cpu_count()} CPUs")
    print(f"{'':28}{'p50 us':>9}{'p99 us':>9}{'calls/s @16':>13}")
    for row in rows:
        tput = f"{row.throughput:>13,.0f}" if row.throughput else f"{'-':>13}"
        print(f"{row.name:28}{row.p50_us:>9.1f}{row.p99_us:>9.1f}{tput}")
    rpc, sync_floor, async_floor = rows[-1], rows[0], rows[1]
    for floor in (sync_floor, async_floor):
        ratio = rpc.p50_us / floor.p50_us
        added = rpc.p50_us - floor.p50_us
        print(f"rpc vs {floor.name}: p50 x{ratio:.2f} (+{added:.1f} us)", end="")
        if floor.throughput and rpc.throughput:
            print(f", throughput x{rpc.throughput / floor.throughput:.2f}", end="")
        print()


if __name__ == "__main__":
    main()
