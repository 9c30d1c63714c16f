"""Fixtures for the RPC transport tests (helpers live in ``support.py``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import pytest

from .support import Net, free_address


@pytest.fixture
def address() -> str:
    return free_address()


@pytest.fixture
async def net() -> AsyncIterator[Net]:
    async with AsyncExitStack() as stack:
        yield Net(stack)
