"""The symbols subscribed with `POST /tick/{vt_symbol}`: what `GET /tick` shows and what the
WebSocket pushes ticks of.

In vnpy a subscription belongs to the trading process, so every client sees the ticks of
every symbol anyone subscribed. Here a request and a WebSocket may reach different web
workers, so the set lives in a file in the data dir, one canonical symbol per line, appended
to by whichever worker takes the request and read again by the others when it changes. The
set only grows, as in vnpy (which has no unsubscribe); it holds known contracts only, so it
stays small. Delete the file to start over.
"""

import os
from pathlib import Path

from tradebridge.domain.errors import ValidationFailed
from tradebridge.domain.symbols import parse_symbol

FILE_NAME = "vnpy_ticks"


class TickSubscriptions:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._symbols: frozenset[str] = frozenset()
        self._stamp: tuple[int, int, int] | None = None

    def current(self) -> frozenset[str]:
        """The subscribed symbols, read again if the file changed."""
        stamp = self._file_stamp()
        if stamp != self._stamp:
            self._stamp = stamp
            self._symbols = self._read() if stamp is not None else frozenset()
        return self._symbols

    def add(self, symbol: str) -> bool:
        """Subscribe `symbol` (canonical); False if it already was."""
        if symbol in self.current():
            return False
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # One short append is atomic: workers adding at once never mix their lines.
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, f"{symbol}\n".encode())
        finally:
            os.close(fd)
        self._stamp = self._file_stamp()
        self._symbols = self._read()  # with whatever other workers added meanwhile
        return True

    def _read(self) -> frozenset[str]:
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except OSError:
            return frozenset()
        symbols = set()
        for line in lines:
            try:
                symbols.add(parse_symbol(line))
            except ValidationFailed:
                continue  # a line cut short by a full disk, or edited by hand
        return frozenset(symbols)

    def _file_stamp(self) -> tuple[int, int, int] | None:
        try:
            st = self.path.stat()
        except OSError:
            return None
        return (st.st_ino, st.st_mtime_ns, st.st_size)
