"""vnpy itself, loaded once per engine process: its modules, a guarded `EventEngine`, and the
gateway classes named `module:Class`.

Importing any vnpy gateway imports `vnpy.trader.utility`, which picks vnpy's trader folder at
import: `<cwd>/.vntrader` if it exists, else `~/.vntrader` (created, and `~` put on
`sys.path`). Gateways write their flow files and logs under it (`get_folder_path`). Here the
import runs with `HOME` pointing into the engine's data dir, and the folder vnpy chose is then
replaced by the configured `trader_dir`: nothing is written under the home of whoever runs
the engine. vnpy keeps the folder in a module global, so it is one per process.
"""

import contextlib
import importlib
import logging
import os
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tradebridge.domain.errors import BrokerUnavailable

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Vnpy:
    """The vnpy modules the adapter uses (untyped: vnpy is the SDK boundary)."""

    constant: Any
    """`vnpy.trader.constant`: Direction, Offset, Status, OrderType, Exchange, Product."""
    object: Any
    """`vnpy.trader.object`: OrderRequest, CancelRequest, SubscribeRequest, the data classes."""
    events: Any
    """`vnpy.trader.event`: the event type names (EVENT_ORDER, ...)."""
    Event: Any
    EventEngine: Any
    """vnpy's EventEngine with a dispatch a raising handler cannot stop (`guarded_engine`)."""
    BaseGateway: Any
    trader_dir: Path


_lock = threading.Lock()
_loaded: Vnpy | None = None


def load_vnpy(trader_dir: Path) -> Vnpy:
    """vnpy, imported on first use with its trader folder at `trader_dir`."""
    global _loaded
    with _lock:
        if _loaded is None:
            _loaded = _import(trader_dir)
        elif _loaded.trader_dir != trader_dir:
            raise BrokerUnavailable(
                f"vnpy already writes under {_loaded.trader_dir}; one trader_dir per engine"
            )
        return _loaded


def load_gateway(vn: Vnpy, path: str) -> Any:
    """The `BaseGateway` subclass named `module:Class`."""
    module_name, _, class_name = path.partition(":")
    with _lock:
        try:
            module = importlib.import_module(module_name)
        except Exception as exc:  # an SDK's import fails in many ways (a missing .so, ...)
            raise BrokerUnavailable(
                f"the vnpy gateway module {module_name} cannot be imported: {exc!r}",
                {"gateway": path},
            ) from None
    gateway = getattr(module, class_name, None)
    if not isinstance(gateway, type) or not issubclass(gateway, vn.BaseGateway):
        raise BrokerUnavailable(f"{path} is not a vnpy BaseGateway subclass", {"gateway": path})
    return gateway


def _import(trader_dir: Path) -> Vnpy:
    trader_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    appended = len(sys.path)
    with _home(trader_dir):
        try:
            utility: Any = importlib.import_module("vnpy.trader.utility")
        except Exception as exc:
            raise BrokerUnavailable(f"vnpy cannot be imported: {exc!r}") from None
    del sys.path[appended:]  # vnpy appends its trader folder's parent to sys.path
    with contextlib.suppress(OSError):  # made by vnpy's import when HOME had none
        (trader_dir / ".vntrader").rmdir()
    utility.TRADER_DIR = trader_dir.parent
    utility.TEMP_DIR = trader_dir
    event = importlib.import_module("vnpy.event")
    return Vnpy(
        constant=importlib.import_module("vnpy.trader.constant"),
        object=importlib.import_module("vnpy.trader.object"),
        events=importlib.import_module("vnpy.trader.event"),
        Event=event.Event,
        EventEngine=guarded_engine(event.EventEngine),
        BaseGateway=importlib.import_module("vnpy.trader.gateway").BaseGateway,
        trader_dir=trader_dir,
    )


@contextlib.contextmanager
def _home(directory: Path) -> Iterator[None]:
    previous = os.environ.get("HOME")
    os.environ["HOME"] = str(directory)
    try:
        yield
    finally:
        if previous is None:
            del os.environ["HOME"]
        else:
            os.environ["HOME"] = previous


def guarded_engine(base: Any) -> Any:
    """vnpy's `EventEngine` as it is, but for two things: a handler that raises is logged and
    the next one runs (vnpy's `_process` has no try/except, so one raising handler, ours or a
    gateway's timer, would end its event thread for good), and its threads are daemons, so a
    gateway whose `close()` hangs cannot keep the engine process from exiting."""

    class GuardedEventEngine(base):  # type: ignore[misc]
        def __init__(self, name: str, interval: int = 1) -> None:
            super().__init__(interval)
            for thread, role in ((self._thread, "events"), (self._timer, "timer")):
                thread.daemon = True
                thread.name = f"vnpy-{role}-{name}"

        def _process(self, event: Any) -> None:
            for handler in list(self._handlers.get(event.type, ())):
                self._call(handler, event)
            for handler in list(self._general_handlers):
                self._call(handler, event)

        @staticmethod
        def _call(handler: Any, event: Any) -> None:
            try:
                handler(event)
            except Exception:
                log.exception("vnpy handler %r failed on a %s event", handler, event.type)

        @property
        def alive(self) -> bool:
            return bool(self._thread.is_alive())

        def stop_soon(self) -> None:
            """Tell both threads to end (within a second; they check once a second)."""
            self._active = False

        def stop_within(self, timeout_s: float) -> None:
            """`stop()`, waiting at most `timeout_s` for each thread (daemons otherwise)."""
            self._active = False
            for thread in (self._timer, self._thread):
                if thread.is_alive():
                    thread.join(timeout_s)

    return GuardedEventEngine
