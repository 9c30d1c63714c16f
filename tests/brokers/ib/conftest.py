"""The exchange calendars, loaded once on the main thread before the adapter tests: the
adapter loads them on a thread of its own, and loading them there while pytest turns
warnings into errors would race with pytest's warning filters (process-wide state)."""

import pytest

from tradebridge.brokers.paper.sessions import Sessions


@pytest.fixture(autouse=True, scope="session")
def _calendars_loaded() -> None:
    Sessions("exchange").warm_up()
