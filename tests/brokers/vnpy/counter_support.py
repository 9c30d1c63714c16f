"""The fake counter as a process of its own, its control channel, and gateway settings."""

import asyncio
import json
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.conftest import free_port

REPO = Path(__file__).resolve().parents[3]
FAKE_GATEWAY = "tests.brokers.vnpy.fake_gateway:FakeGateway"


@dataclass
class Counter:
    port: int
    process: subprocess.Popen[bytes]

    def call(self, op: str, **fields: Any) -> dict[str, Any]:
        """One control message, answered."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=10) as sock:
            sock.sendall(json.dumps({"op": op, **fields}).encode() + b"\n")
            with sock.makefile("rb") as lines:
                answer: dict[str, Any] = json.loads(lines.readline())
        assert answer["op"] == "ok", answer
        return answer

    def quote(self, symbol: str, bid: str, ask: str, size: int = 100, **more: Any) -> None:
        last = more.pop("last", bid)
        self.call(
            "ctl.quote",
            symbol=symbol,
            bid=bid,
            ask=ask,
            last=last,
            bid_size=size,
            ask_size=size,
            **more,
        )

    def orders(self) -> list[dict[str, Any]]:
        return list(self.call("ctl.orders")["orders"])

    def trades(self) -> list[dict[str, Any]]:
        return list(self.call("ctl.orders")["trades"])


@contextmanager
def running_counter() -> Iterator[Counter]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.brokers.vnpy.fake_counter", str(port)],
        cwd=REPO,
        stdout=subprocess.PIPE,
    )
    assert process.stdout is not None
    assert b"listening" in process.stdout.readline()
    try:
        yield Counter(port, process)
    finally:
        process.terminate()
        process.wait(10)
        process.stdout.close()


def setting_file(directory: Path, counter: Counter, **more: Any) -> Path:
    """The fake gateway's setting (owner-only, as every secret file)."""
    path = directory / "fake_gateway.json"
    setting = {"用户名": "8001", "密码": "secret", "交易服务器": f"127.0.0.1:{counter.port}"}
    path.write_text(json.dumps({**setting, **more}, ensure_ascii=False))
    path.chmod(0o600)
    return path


async def until(condition: Callable[[], Any], timeout_s: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError("condition not met")
        await asyncio.sleep(0.02)
