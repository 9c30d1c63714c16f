"""WebSocket stream speed: order → WS order event latency, and quote fan-out to many clients.

Starts `tradebridge serve` and the stream floor (below) on loopback, runs the same clients
against both in the same run, and prints each number beside its ratio to the floor.
See bench/README.md.

Parts
    orders  Orders are POSTed at a fixed rate (open loop, 8 keep-alive connections) while one
            WebSocket client subscribed to `orders` waits for each order's first event; the
            latency is from writing the POST to reading that event.
    quotes  A random-walk market (the paper broker's `random_walk` mode over enough symbols to
            move ~1,000 quotes/s in total); N clients each subscribe to K random symbols. The
            age of a quote is its arrival time minus its `time` (when the engine moved it).
            CPU is the busy time of the server's processes (and of the bench's clients) over
            the measured window, in % of one core.

The floor
    The least any gateway of this shape does, on the same stack (uvicorn, uvloop, httptools,
    websockets): a FastAPI app whose POST makes one ZeroMQ DEALER→ROUTER round trip to another
    process, which answers and publishes the order on a PUB socket; the app reads the SUB
    socket and sends each event (or quote, for the symbols each WebSocket asked for in its
    URL) to its WebSocket clients, awaiting each send in turn. For quotes the other process
    publishes the same number of symbols at the rate tradebridge's walk reached.

Run as `python bench/stream.py` (the floor's processes are this script too, with a first
argument `floor-echo` or `floor-web`); `--help` lists the knobs. Results of the last run are
also written to `bench/results/stream.json`. Targets (issue 4, this 2-core machine): order →
event p50 ≤ 2 ms, p99 ≤ 10 ms at 500 orders/s; quote age p99 ≤ 50 ms with every client
keeping up. For scale, vnpy WebTrader here: send → WS order ack p50 9 ms, p99 113 ms at 600
orders/s.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import msgspec
from fastapi import FastAPI, Request, WebSocket
from starlette.responses import Response

from loopback import cpu_seconds, descendants, free_port, login, request, serve, wait_for

HERE = Path(__file__).resolve().parent
BUILT_IN_SYMBOLS = 23
"""Instruments of the paper broker's built-in universe (the walk moves them too)."""
TICK_S = 0.1
"""The paper broker moves its market in ticks of this length; the floor does the same."""
WALK_RATE_PER_SYMBOL = 2.5
"""Quotes per second one symbol of the walk produces, measured (3 nominal, some held)."""
_decode = msgspec.json.Decoder().decode


# --------------------------------------------------------------------------- processes


def tradebridge_symbols(count: int) -> list[str]:
    return [f"603{i:03d}.SH" for i in range(count)]


def start_tradebridge(workdir: Path, extra_symbols: int) -> tuple[subprocess.Popen[bytes], int]:
    rows = "".join(
        f'[[accounts.paper.contracts]]\nsymbol = "{s}"\npre_close = "{10 + i % 90}.00"\n'
        for i, s in enumerate(tradebridge_symbols(extra_symbols))
    )
    market = 'market = "random_walk"' if extra_symbols else ""
    return serve(workdir, f"cash = {{ CNY = 1000000000000 }}\n{market}\n{rows}")


def stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def start_floor(quote_rate: float, symbols: list[str]) -> tuple[list[subprocess.Popen[bytes]], int]:
    rpc, pub, port = f"tcp://127.0.0.1:{free_port()}", f"tcp://127.0.0.1:{free_port()}", free_port()
    script = str(Path(__file__).resolve())
    echo = subprocess.Popen(
        [sys.executable, script, "floor-echo", rpc, pub, str(quote_rate), ",".join(symbols)]
    )
    web = subprocess.Popen([sys.executable, script, "floor-web", rpc, pub, str(port)])
    wait_for(port, "/")
    time.sleep(0.5)
    return [echo, web], port


# --------------------------------------------------------------------------- clients


class Http:
    """A keep-alive HTTP/1.1 connection that posts JSON; small and fast enough to drive
    hundreds of requests a second without being what is measured."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int) -> Http:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    async def post(self, path: str, body: bytes, headers: str) -> tuple[int, bytes]:
        self.writer.write(
            f"POST {path} HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
            f"{headers}Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        return status, await self.reader.readexactly(length)

    def close(self) -> None:
        self.writer.close()


async def ws_connect(url: str) -> Any:
    import websockets

    return await websockets.connect(url, max_queue=None, ping_interval=None, max_size=None)


async def order_latency(
    port: int, path: str, ws_url: str, auth: str, rate: float, seconds: float
) -> dict[str, float]:
    """POST orders at `rate` for `seconds`; latency from POST to the order's first WS event."""
    ws = await ws_connect(ws_url)
    if "/api/v1/stream" in ws_url:
        await ws.send(json.dumps({"op": "subscribe", "channels": ["orders"]}))
    sent: dict[str, float] = {}
    latencies: dict[str, float] = {}
    total = int(rate * seconds)
    warmup = total // 10

    async def listen() -> None:
        async for raw in ws:
            now = time.perf_counter()
            message = _decode(raw)
            if message.get("type") == "ping":
                await ws.send('{"op":"pong"}')
            if message.get("type") != "order":
                continue
            cid = message["data"]["client_order_id"]
            started = sent.get(cid)
            if started is not None and cid not in latencies:
                latencies[cid] = (now - started) * 1000
                if len(latencies) == total:
                    return

    listener = asyncio.create_task(listen())
    await asyncio.sleep(0.3)
    connections: asyncio.Queue[Http] = asyncio.Queue()
    for _ in range(8):
        connections.put_nowait(await Http.open(port))
    headers = f"Authorization: Bearer {auth}\r\n" if auth else ""
    errors = 0

    async def place(i: int) -> None:
        nonlocal errors
        cid = f"b{os.getpid()}-{i}"
        body = json.dumps(
            {"symbol": "600519.SH", "side": "buy", "qty": 100, "limit_price": "1600.00"}
            | {"client_order_id": cid}
        ).encode()
        conn = await connections.get()
        sent[cid] = time.perf_counter()
        status, _ = await conn.post(path, body, headers)
        connections.put_nowait(conn)
        if status != 201:
            errors += 1

    start = time.perf_counter()
    tasks = []
    for i in range(total):
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(place(i)))
    await asyncio.gather(*tasks)
    achieved = total / (time.perf_counter() - start)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(listener, 10)
    listener.cancel()
    await ws.close()
    while not connections.empty():
        connections.get_nowait().close()
    samples = sorted(
        latency
        for i, (cid, latency) in enumerate(sorted(latencies.items(), key=lambda kv: sent[kv[0]]))
        if i >= warmup
    )
    return {
        "orders_per_s": achieved,
        "received": len(latencies) / total,
        "errors": errors,
        "p50_ms": statistics.median(samples),
        "p90_ms": samples[int(len(samples) * 0.9)],
        "p99_ms": samples[int(len(samples) * 0.99)],
        "max_ms": samples[-1],
    }


def quote_age_s(data: dict[str, Any]) -> float:
    stamp = data["time"]
    if isinstance(stamp, float):
        return time.time() - stamp
    return time.time() - datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


async def quote_fanout(
    urls: list[str],
    subscriptions: list[list[str]],
    server_pids: list[int],
    warmup: float,
    seconds: float,
    monitor: tuple[str, list[str]],
) -> dict[str, float]:
    """Each client `i` connects to `urls[i]`, subscribes to `subscriptions[i]`; ages of the
    quotes received during the window after `warmup`. One more client (`monitor`: its URL and
    every symbol) counts the market's quotes and is left out of the ages."""
    ages: list[float] = []
    received = [0] * len(urls)
    market = 0
    closed = 0
    measuring = False
    clients = [await ws_connect(url) for url in urls]
    clients.append(await ws_connect(monitor[0]))
    subscriptions = [*subscriptions, monitor[1]]
    for client, symbols in zip(clients, subscriptions, strict=True):
        if "/api/v1/stream" in urls[0]:
            channels = [f"quotes:{s}" for s in symbols]
            await client.send(json.dumps({"op": "subscribe", "channels": channels}))

    async def listen(i: int, client: Any) -> None:
        nonlocal closed, market
        try:
            async for raw in client:
                message = _decode(raw)
                kind = message.get("type")
                if kind == "quote":
                    if not measuring:
                        continue
                    if i == len(urls):
                        market += 1
                    else:
                        ages.append(quote_age_s(message["data"]))
                        received[i] += 1
                elif kind == "ping":
                    await client.send('{"op":"pong"}')
        except Exception:
            closed += 1

    listeners = [asyncio.create_task(listen(i, c)) for i, c in enumerate(clients)]
    await asyncio.sleep(warmup)
    measuring = True
    cpu_before, bench_before = cpu_seconds(server_pids), time.process_time()
    started = time.perf_counter()
    await asyncio.sleep(seconds)
    elapsed = time.perf_counter() - started
    measuring = False
    cpu = (cpu_seconds(server_pids) - cpu_before) / elapsed * 100
    bench_cpu = (time.process_time() - bench_before) / elapsed * 100
    for task in listeners:
        task.cancel()
    for client in clients:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(client.close(), 2)
    ages.sort()
    return {
        "market_quotes_per_s": market / elapsed,
        "quotes_per_s_received": sum(received) / elapsed,
        "per_client_min_per_s": min(received) / elapsed,
        "closed_clients": closed,
        "age_p50_ms": ages[len(ages) // 2] * 1000,
        "age_p99_ms": ages[int(len(ages) * 0.99)] * 1000,
        "age_max_ms": ages[-1] * 1000,
        "server_cpu_pct": cpu,
        "bench_cpu_pct": bench_cpu,
    }


async def published_rate(url: str, symbols: list[str], seconds: float) -> float:
    """Quotes per second the market produces over `symbols` (one client subscribed to all)."""
    client = await ws_connect(url)
    if "/api/v1/stream" in url:
        await client.send(
            json.dumps({"op": "subscribe", "channels": [f"quotes:{s}" for s in symbols]})
        )
    count = 0
    deadline = time.perf_counter() + seconds
    with contextlib.suppress(TimeoutError):
        while (left := deadline - time.perf_counter()) > 0:
            raw = await asyncio.wait_for(client.recv(), left)
            count += b'"type":"quote"' in (raw if isinstance(raw, bytes) else raw.encode())
    await client.close()
    return count / seconds


# --------------------------------------------------------------------------- the floor


def floor_echo(rpc: str, pub: str, quote_rate: float, symbols: list[str]) -> None:
    """Answer each request and publish it; publish quotes in ticks of `TICK_S`, as the paper
    broker's walk does (each stamped with its tick's time)."""
    import zmq

    context = zmq.Context.instance()
    router = context.socket(zmq.ROUTER)
    router.bind(rpc)
    publisher = context.socket(zmq.PUB)
    publisher.bind(pub)
    poller = zmq.Poller()
    poller.register(router, zmq.POLLIN)
    walk = itertools.cycle(symbols) if symbols else None
    per_tick = quote_rate * TICK_S
    owed = 0.0
    next_tick = time.perf_counter() + TICK_S
    while True:
        if poller.poll(max(1, int((next_tick - time.perf_counter()) * 1000))):
            while True:
                try:
                    identity, frame = router.recv_multipart(zmq.NOBLOCK)
                except zmq.Again:
                    break
                router.send_multipart([identity, frame])
                publisher.send_multipart([b"o", frame[8:]])
        if time.perf_counter() < next_tick:
            continue
        next_tick += TICK_S
        if walk is None:
            continue
        owed += per_tick
        stamp = time.time()
        while owed >= 1:
            owed -= 1
            symbol = next(walk)
            quote = {"symbol": symbol, "last": round(random.uniform(10, 11), 2), "time": stamp}
            payload = json.dumps({"type": "quote", "data": quote}).encode()
            publisher.send_multipart([b"q" + symbol.encode(), payload])


def floor_web(rpc: str, pub: str, port: int) -> None:
    from contextlib import asynccontextmanager

    import uvicorn
    import zmq
    import zmq.asyncio

    state: dict[str, Any] = {"pending": {}, "clients": {}}
    ids = itertools.count()

    async def replies() -> None:
        while True:
            frame = await state["dealer"].recv()
            future = state["pending"].pop(int.from_bytes(frame[:8], "big"), None)
            if future is not None:
                future.set_result(frame[8:])

    async def events() -> None:
        while True:
            topic, payload = await state["sub"].recv_multipart()
            if topic == b"o":
                order = msgspec.json.decode(payload)
                text = json.dumps({"type": "order", "data": order})
                for websocket in list(state["clients"]):
                    await websocket.send_text(text)
            else:
                symbol, text = topic[1:].decode(), payload.decode()
                for websocket, symbols in list(state["clients"].items()):
                    if symbol in symbols:
                        await websocket.send_text(text)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        context = zmq.asyncio.Context.instance()
        dealer = context.socket(zmq.DEALER)
        dealer.connect(rpc)
        sub = context.socket(zmq.SUB)
        sub.setsockopt(zmq.SUBSCRIBE, b"")
        sub.connect(pub)
        state.update(dealer=dealer, sub=sub)
        tasks = [asyncio.create_task(replies()), asyncio.create_task(events())]
        yield
        for task in tasks:
            task.cancel()

    app = FastAPI(lifespan=lifespan)

    @app.post("/orders")
    async def place(request: Request) -> Response:
        body = await request.body()
        request_id = next(ids)
        future = asyncio.get_running_loop().create_future()
        state["pending"][request_id] = future
        await state["dealer"].send(request_id.to_bytes(8, "big") + body)
        await future
        return Response(b'{"ok":true}', status_code=201, media_type="application/json")

    @app.websocket("/ws")
    async def stream(websocket: WebSocket) -> None:
        await websocket.accept()
        symbols = set(filter(None, websocket.query_params.get("symbols", "").split(",")))
        state["clients"][websocket] = symbols
        try:
            while (await websocket.receive())["type"] != "websocket.disconnect":
                pass
        finally:
            state["clients"].pop(websocket, None)

    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level="warning",
    )


# --------------------------------------------------------------------------- main


def print_table(title: str, ours: dict[str, float], floor: dict[str, float]) -> None:
    print(f"\n{title}")
    print(f"{'':28}{'tradebridge':>12}{'floor':>10}{'ratio':>8}")
    for name, value in ours.items():
        base = floor.get(name)
        ratio = f"{value / base:>8.2f}" if base else f"{'':>8}"
        shown = f"{base:>10.2f}" if base is not None else f"{'':>10}"
        print(f"{name:<28}{value:>12.2f}{shown}{ratio}")


async def run_orders(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    floor_processes, floor_port = start_floor(0, [])
    processes = list(floor_processes)
    try:
        tradebridge, port = start_tradebridge(workdir / "orders", 0)
        processes.append(tradebridge)
        token = login(port)
        auth = {"Authorization": f"Bearer {token}"}
        deep = {"bid_size": 10**12, "ask_size": 10**12, "bid": "1499.99", "ask": "1500.01"}
        body = {"symbol": "600519.SH", "last": "1500.00"} | deep
        request(port, "POST", "/api/v1/paper/paper/quotes", body, auth)
        floor = await order_latency(
            floor_port, "/orders", f"ws://127.0.0.1:{floor_port}/ws", "", args.rate, args.seconds
        )
        ours = await order_latency(
            port,
            "/api/v1/accounts/paper/orders",
            f"ws://127.0.0.1:{port}/api/v1/stream?token={token}",
            token,
            args.rate,
            args.seconds,
        )
    finally:
        stop(processes)
    print_table(f"order POST → its first WS order event, {args.rate:g} orders/s", ours, floor)
    return {"tradebridge": ours, "floor": floor}


async def run_quotes(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    extra = max(1, round(args.quote_rate / WALK_RATE_PER_SYMBOL) - BUILT_IN_SYMBOLS)
    symbols = tradebridge_symbols(extra)
    rng = random.Random(7)
    subscriptions = [rng.sample(symbols, args.symbols) for _ in range(args.clients)]
    tradebridge, port = start_tradebridge(workdir / "quotes", extra)
    try:
        token = login(port)
        url = f"ws://127.0.0.1:{port}/api/v1/stream?token={token}"
        await asyncio.sleep(2)  # the walk's first tick moves every symbol at once
        ours = await quote_fanout(
            [url] * args.clients,
            subscriptions,
            descendants(tradebridge.pid),
            args.warmup,
            args.seconds,
            (url, symbols),
        )
    finally:
        stop([tradebridge])
    # The floor's market: the same symbols, moving at the rate tradebridge's walk did.
    floor_processes, floor_port = start_floor(ours["market_quotes_per_s"], symbols)
    try:
        floor_url = f"ws://127.0.0.1:{floor_port}/ws?symbols="
        floor = await quote_fanout(
            [floor_url + ",".join(s) for s in subscriptions],
            subscriptions,
            [pid for p in floor_processes for pid in descendants(p.pid)],
            args.warmup,
            args.seconds,
            (floor_url + ",".join(symbols), symbols),
        )
    finally:
        stop(floor_processes)
    total = ours["market_quotes_per_s"] * (extra + BUILT_IN_SYMBOLS) / extra
    print_table(
        f"quote fan-out: {args.clients} clients x {args.symbols} random symbols of {extra}; "
        f"the walk moves {extra + BUILT_IN_SYMBOLS} symbols, ~{total:.0f} quotes/s in all",
        ours,
        floor,
    )
    return {"tradebridge": ours, "floor": floor}


async def main_async(args: argparse.Namespace) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="tb-stream-bench-"))
    results: dict[str, Any] = {}
    try:
        if args.part in ("orders", "all"):
            results["orders"] = await run_orders(args, workdir)
        if args.part in ("quotes", "all"):
            results["quotes"] = await run_quotes(args, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    (out / "stream.json").write_text(json.dumps(results, indent=2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--part", choices=["orders", "quotes", "all"], default="all")
    parser.add_argument("--rate", type=float, default=500, help="orders per second")
    parser.add_argument("--seconds", type=float, default=10, help="length of each measurement")
    parser.add_argument("--clients", type=int, default=100, help="quote clients")
    parser.add_argument("--symbols", type=int, default=20, help="symbols per quote client")
    parser.add_argument("--quote-rate", type=float, default=1000, help="market quotes per second")
    parser.add_argument("--warmup", type=float, default=2, help="seconds before measuring quotes")
    args = parser.parse_args()
    import uvloop

    uvloop.run(main_async(args))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "floor-echo":
        floor_echo(
            sys.argv[2], sys.argv[3], float(sys.argv[4]), [s for s in sys.argv[5].split(",") if s]
        )
    elif len(sys.argv) > 1 and sys.argv[1] == "floor-web":
        floor_web(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    else:
        main()
