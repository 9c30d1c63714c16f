"""Importing `futu-api` without what its import does to the process.

`import futu`:
- replaces the SIGINT handler with one that calls `os._exit(0)` (the process would end at
  Ctrl-C without stopping its accounts, flushing its journal or closing its brokers): the
  handler in place before the import is put back;
- opens its log file under `$HOME/.com.futunn.FutuOpenD/Log/` (the only say it gives over
  the place is `$HOME`): `$HOME` points at the broker's directory under the data dir while
  the SDK is imported, then is restored;
- prints its INFO lines to stdout: its console logger is sent through the process's
  logging instead, warnings and worse only.

The SDK's threads are made daemons, so a context the adapter could not close (a call hung
in the SDK) never keeps the process from exiting.
"""

import importlib
import logging
import os
import signal
import sys
import threading
from pathlib import Path
from types import ModuleType

SDK_LOG_SUBDIR = ".com.futunn.FutuOpenD/Log"
"""Where, under the directory the adapter gives it, the SDK writes `py_YYYY_MM_DD.log`."""
CONSOLE_LOGGER = "FTConsoleLog"

_importing = threading.Lock()


def load_futu(files: Path | None) -> ModuleType:
    """The `futu` module, imported once per process (its log file under `files`, if given)."""
    with _importing:
        loaded = sys.modules.get("futu")
        if loaded is not None:
            return loaded
        on_main = threading.current_thread() is threading.main_thread()
        sigint = signal.getsignal(signal.SIGINT) if on_main else None
        home = os.environ.get("HOME")
        if files is not None:
            files.mkdir(parents=True, exist_ok=True)
            os.environ["HOME"] = str(files)
        try:
            futu = importlib.import_module("futu")
        finally:
            if files is not None:
                if home is None:
                    os.environ.pop("HOME", None)
                else:
                    os.environ["HOME"] = home
            if on_main:
                signal.signal(signal.SIGINT, sigint if sigint is not None else signal.SIG_DFL)
        futu.SysConfig.set_all_thread_daemon(True)
        _console_through_logging()
        return futu


def _console_through_logging() -> None:
    console = logging.getLogger(CONSOLE_LOGGER)
    for handler in list(console.handlers):
        console.removeHandler(handler)
    console.setLevel(logging.WARNING)
    console.propagate = True
