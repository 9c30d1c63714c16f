"""The stand-in's link to the simulated MiniQMT: JSON lines over a loopback TCP socket.

Not part of xtquant. One reader thread per link hands every message to `on_message` and, when
the socket closes, calls `on_closed` once: the part of the stand-in that plays xtquant's C
client (its network thread).
"""

import contextlib
import json
import socket
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

PORT_FILE = "xtquant_standin.json"
"""Written by the simulated MiniQMT into its userdata directory: where it listens."""


def address_in(userdata_path: str) -> tuple[str, int] | None:
    """Where the MiniQMT of `userdata_path` listens, or None if none runs there."""
    try:
        found = json.loads((Path(userdata_path) / PORT_FILE).read_text())
    except (OSError, ValueError):
        return None
    return str(found["host"]), int(found["port"])


class Link:
    def __init__(
        self,
        address: tuple[str, int],
        on_message: Callable[[dict[str, Any]], None],
        on_closed: Callable[[], None],
    ) -> None:
        self._sock = socket.create_connection(address, timeout=5)
        self._sock.settimeout(None)
        self._file = self._sock.makefile("rb")
        self._on_message = on_message
        self._on_closed = on_closed
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._reader: threading.Thread | None = None

    def request(self, message: dict[str, Any]) -> dict[str, Any]:
        """Send `message` and read the one answer, before the reader starts (the hello)."""
        self.send(message)
        line = self._file.readline()
        if not line:
            raise ConnectionError("MiniQMT closed the connection")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def start(self, name: str) -> None:
        self._reader = threading.Thread(target=self._read, name=name, daemon=True)
        self._reader.start()

    def send(self, message: dict[str, Any]) -> bool:
        """False if the link is down (the message is lost, as a C client drops it)."""
        data = (json.dumps(message, ensure_ascii=False) + "\n").encode()
        with self._lock:
            if self._closed.is_set():
                return False
            try:
                self._sock.sendall(data)
            except OSError:
                return False
        return True

    @property
    def up(self) -> bool:
        return not self._closed.is_set()

    def close(self) -> None:
        with self._lock:
            if self._closed.is_set():
                return
            self._closed.set()
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        self._sock.close()
        if self._reader is None or self._reader is threading.current_thread():
            self._file.close()  # else the reader closes it when it ends

    def _read(self) -> None:
        try:
            for line in self._file:
                self._on_message(json.loads(line))
        except (OSError, ValueError):
            pass
        finally:
            lost = not self._closed.is_set()
            self.close()
            self._file.close()
            if lost:
                self._on_closed()
