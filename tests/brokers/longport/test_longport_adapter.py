"""The longport adapter and the real SDK against the fake LongPort, traced: every connection
the process opens must go to loopback; and the SDK's calls leave the event loop running."""

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.brokers.fake_process import ROOT
from tests.brokers.longport.fake_support import FakeLongport

STRACE = "/usr/bin/strace"
CONNECT = re.compile(
    r"connect\(\d+, \{sa_family=(AF_INET6?), (?:sin6?_port=htons\(\d+\), )?"
    r"(?:inet_pton\(AF_INET6, \"([^\"]+)\"|sin_addr=inet_addr\(\"([^\"]+)\"\))"
)


def traced(command: list[str], trace: Path) -> subprocess.CompletedProcess[str]:
    """`command` under strace, recording every connect() of every thread and child."""
    return subprocess.run(
        [STRACE, "-f", "-qq", "-e", "trace=connect", "-o", str(trace), *command],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def remote_addresses(trace: Path) -> set[str]:
    """The IP addresses the traced process tried to connect to (UNIX sockets aside)."""
    found = set()
    for match in CONNECT.finditer(trace.read_text()):
        found.add(match.group(2) or match.group(3))
    return found


def not_loopback(addresses: set[str]) -> set[str]:
    return {a for a in addresses if not (a.startswith("127.") or a in ("::1", "::ffff:127.0.0.1"))}


@pytest.fixture
def fake(tmp_path: Path) -> Iterator[FakeLongport]:
    running = FakeLongport(tmp_path / "longport").start()
    yield running
    running.stop()


def test_the_trace_sees_a_connection_beyond_loopback(tmp_path: Path) -> None:
    """The check below can fail: a connect() to a documentation address is caught."""
    trace = tmp_path / "probe.trace"
    script = (
        "import socket\ns = socket.socket()\ns.settimeout(0.2)\n"
        "try: s.connect(('192.0.2.7', 9))\nexcept OSError: pass"
    )
    traced([sys.executable, "-c", script], trace)
    assert not_loopback(remote_addresses(trace)) == {"192.0.2.7"}


def test_the_adapter_trades_through_the_fake_on_loopback_only(
    tmp_path: Path, fake: FakeLongport
) -> None:
    trace = tmp_path / "adapter.trace"
    command = [
        sys.executable,
        "-m",
        "tests.brokers.longport.drive_adapter",
        str(fake.port),
        str(fake.control_port),
        str(tmp_path / "secrets"),
    ]
    run = traced(command, trace)
    assert run.returncode == 0, run.stderr[-4000:]
    seen = json.loads(run.stdout.strip().splitlines()[-1])
    assert seen["connected"] is True
    assert seen["cash"] == "1000000.00"
    assert seen["positions"] == [["09988.HK", 500]]
    assert [(qty, order_id) for _, qty, order_id in seen["fills"]] == [
        (100, "01JD5RVE000000000000000001")
    ]
    assert seen["quote"] == "380.0"
    # the loop ran while LongPort held the call for 1 s (a GIL held by the SDK: ~0 ticks)
    assert seen["ticks_while_held"] >= 20, seen
    addresses = remote_addresses(trace)
    assert "127.0.0.1" in addresses
    assert not_loopback(addresses) == set(), trace.read_text()[-4000:]
