"""The floor the order path is measured against: a bare FastAPI route plus one ZeroMQ hop.

Run as `python bench/floor_app.py echo ADDRESS` (the other end of the hop) and
`python bench/floor_app.py web ADDRESS PORT` (uvicorn with the same loop and parser as
tradebridge). `POST /orders` parses a small JSON body, makes one DEALER→ROUTER round trip
with a msgpack frame and answers 201 with JSON: what any gateway must do at the least.
`GET /read` makes the same round trip for a read and answers 200 with what came back.
"""

import asyncio
import itertools
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import msgspec
import uvicorn
import zmq
import zmq.asyncio
from fastapi import FastAPI, Request
from starlette.responses import Response


def echo(address: str) -> None:
    socket = zmq.Context.instance().socket(zmq.ROUTER)
    socket.bind(address)
    while True:
        socket.send_multipart(socket.recv_multipart())


def web(address: str, port: int) -> None:
    state: dict[str, Any] = {}
    ids = itertools.count()

    async def pump() -> None:
        socket = state["socket"]
        while True:
            frame = await socket.recv()
            future = state["pending"].pop(int.from_bytes(frame[:8], "big"), None)
            if future is not None:
                future.set_result(frame[8:])

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        socket = zmq.asyncio.Context.instance().socket(zmq.DEALER)
        socket.connect(address)
        state.update(socket=socket, pending={})
        task = asyncio.create_task(pump())
        yield
        task.cancel()

    app = FastAPI(lifespan=lifespan)

    async def round_trip(value: Any) -> Any:
        request_id = next(ids)
        future = asyncio.get_running_loop().create_future()
        state["pending"][request_id] = future
        await state["socket"].send(request_id.to_bytes(8, "big") + msgspec.msgpack.encode(value))
        return msgspec.msgpack.decode(await future)

    @app.post("/orders")
    async def place(request: Request) -> Response:
        reply = await round_trip(msgspec.json.decode(await request.body()))
        return Response(msgspec.json.encode(reply), status_code=201, media_type="application/json")

    @app.get("/read")
    async def read() -> Response:
        reply = await round_trip({"account": "paper", "cash": "1000000.00"})
        return Response(msgspec.json.encode(reply), media_type="application/json")

    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level="warning",
    )


if __name__ == "__main__":
    if sys.argv[1] == "echo":
        echo(sys.argv[2])
    else:
        web(sys.argv[2], int(sys.argv[3]))
