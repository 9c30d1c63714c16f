"""`tradebridge serve`: run one engine and one web process, restart either if it dies.

The children run in their own session, so a Ctrl-C reaches only the supervisor, which then
stops them in order (web first, so no request meets a missing engine). On Linux each child
also asks the kernel for SIGTERM should the supervisor itself die.

A child that exits is started again after a delay that doubles from 0.5 s up to 15 s while it
keeps failing, and the log says why it stopped (its exit status, see `exits.ExitStatus`). A
child that exits with the status of a configuration error (2: e.g. an address it cannot bind)
would only fail the same way again: then everything stops, with that status.
"""

import logging
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

from tradebridge.exits import ExitStatus, describe_exit

log = logging.getLogger(__name__)

STOP_TIMEOUT_S = 15.0
BACKOFF_START_S = 0.5
BACKOFF_MAX_S = 15.0
HEALTHY_AFTER_S = 30.0
"""A child that ran this long before dying is restarted after the shortest delay again."""


def die_with_parent() -> None:  # pragma: no cover - runs in the child
    """Ask the kernel for SIGTERM when the parent process dies (Linux only)."""
    if sys.platform == "linux":
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


@dataclass
class Child:
    role: str
    argv: list[str]
    env: dict[str, str] | None = None
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    backoff_s: float = BACKOFF_START_S
    restart_at: float | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            self.argv, env=self.env, start_new_session=True, preexec_fn=die_with_parent
        )
        self.started_at = time.monotonic()
        self.restart_at = None
        log.info("started %s (pid %d)", self.role, self.process.pid)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            log.warning("%s did not stop in %.0f s; killing it", self.role, STOP_TIMEOUT_S)
            self.process.kill()
            self.process.wait()


class Supervisor:
    def __init__(self, children: list[Child]) -> None:
        self.children = children
        self._stopping = False
        self._status = ExitStatus.OK

    def request_stop(self, *_: object) -> None:
        self._stopping = True

    def run(self, on_started: Callable[[], None] | None = None) -> int:
        signal.signal(signal.SIGTERM, self.request_stop)
        signal.signal(signal.SIGINT, self.request_stop)
        for child in self.children:
            child.start()
        if on_started:
            on_started()
        while not self._stopping:
            self._watch()
            time.sleep(0.1)
        log.info("stopping")
        for child in reversed(self.children):
            child.stop()
        return self._status

    def _watch(self) -> None:
        now = time.monotonic()
        for child in self.children:
            if child.restart_at is not None:
                if now >= child.restart_at:
                    child.start()
                continue
            assert child.process is not None
            code = child.process.poll()
            if code is None:
                continue
            if code == ExitStatus.USAGE:
                log.error(
                    "%s %s; stopping: fix the configuration, then start again",
                    child.role,
                    describe_exit(code),
                )
                self._status = ExitStatus.USAGE
                self._stopping = True
                return
            if now - child.started_at >= HEALTHY_AFTER_S:
                child.backoff_s = BACKOFF_START_S
            log.error(
                "%s %s; restarting in %.1f s", child.role, describe_exit(code), child.backoff_s
            )
            child.restart_at = now + child.backoff_s
            child.backoff_s = min(child.backoff_s * 2, BACKOFF_MAX_S)


def child_command(role: str, args: list[str]) -> list[str]:
    """Command line of a child; it reads `… tradebridge <role> …` in a process list."""
    return [sys.executable, "-m", "tradebridge", role, *args]
