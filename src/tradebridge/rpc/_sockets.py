"""Small pieces of socket handling shared by the RPC server, client and event bus."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import cast

import zmq
import zmq.asyncio


def resolve_context(context: zmq.asyncio.Context | None) -> zmq.asyncio.Context:
    """The given context, or the process-wide one (which nobody here ever terminates)."""
    return context if context is not None else zmq.asyncio.Context.instance()


def open_socket(
    context: zmq.asyncio.Context, kind: int, options: dict[int, int] | None = None
) -> zmq.asyncio.Socket:
    """A new socket with LINGER 0, so closing it never waits for unsent messages."""
    sock = context.socket(kind)
    sock.setsockopt(zmq.LINGER, 0)
    for option, value in (options or {}).items():
        sock.setsockopt(option, value)
    return sock


def sent(send_result: Awaitable[object]) -> bool:
    """Settle the future of a ``send(..., zmq.NOBLOCK)`` right away: True if the message was
    queued, False if ZeroMQ would have had to wait (high-water mark reached, or no connected
    peer on a socket with IMMEDIATE). Other ZeroMQ errors are raised.

    pyzmq completes non-blocking sends synchronously as long as no blocking send is queued on
    the socket, and nothing in this package ever does a blocking send, so there is nothing to
    await: this keeps sending out of the event loop's scheduling entirely.
    """
    future = cast("asyncio.Future[object]", send_result)
    if not future.done():  # pragma: no cover - only if someone queued a blocking send
        future.add_done_callback(_retrieve)
        return True
    error = future.exception()
    if error is None:
        return True
    if isinstance(error, zmq.Again):
        return False
    raise error


def _retrieve(future: asyncio.Future[object]) -> None:
    if not future.cancelled():
        future.exception()
