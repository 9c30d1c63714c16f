"""Hosted strategies: the engine runs each `[[strategies]]` entry as a supervised child process.

Each is `tradebridge strategy run FILE --account ID --name NAME` against the server's own API
(`[server]`, or the entry's `url`), with an API key of its `user` (scopes read and trade,
bound to the account) that the host creates once and keeps in `<data_dir>/strategies/NAME.key`
(mode 0600; a new one is made if it was revoked). Its state file (what lets a restart go on
without doubling orders) and its log are beside it (`NAME.json`, `NAME.log`).

A child that dies is started again after a delay that doubles from 1 s to 30 s while it keeps
dying; one that exits with status 2 (its file or class cannot be used) is `failed` and waits
to be started again. `start`/`stop` (admins, through the API) are remembered in
`<data_dir>/strategies/wanted.json`, so a stopped strategy stays stopped across engine
restarts. The children end with the engine: SIGTERM when it stops, and the kernel sends
them SIGTERM should it die (Linux); the engine started again starts them again.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from sqlalchemy import Engine

from tradebridge.config import HostedStrategySettings, Settings
from tradebridge.domain.errors import NotFound
from tradebridge.engine.protocol import StrategyInfo
from tradebridge.exits import ExitStatus, describe_exit
from tradebridge.store import users
from tradebridge.supervisor import die_with_parent

log = logging.getLogger(__name__)

WATCH_INTERVAL_S = 0.5
BACKOFF_START_S = 1.0
BACKOFF_MAX_S = 30.0
HEALTHY_AFTER_S = 30.0
"""A child that ran this long before dying is restarted after the shortest delay again."""
STOP_TIMEOUT_S = 10.0

State = Literal["running", "starting", "stopped", "failed"]


@dataclass
class Hosted:
    settings: HostedStrategySettings
    wanted: bool
    process: subprocess.Popen[bytes] | None = None
    state: State = "stopped"
    restarts: int = 0
    started_at: datetime | None = None
    started_monotonic: float = 0.0
    last_exit: str | None = None
    backoff_s: float = BACKOFF_START_S
    restart_at: float | None = None

    def info(self) -> StrategyInfo:
        running = self.process is not None and self.process.poll() is None
        return StrategyInfo(
            name=self.settings.name,
            file=str(self.settings.file),
            account=self.settings.account,
            state=self.state,
            pid=self.process.pid if running and self.process is not None else None,
            restarts=self.restarts,
            started_at=self.started_at if running else None,
            last_exit=self.last_exit,
        )


class StrategyHost:
    def __init__(self, settings: Settings, db: Engine) -> None:
        self._settings = settings
        self._db = db
        self.directory = settings.data_dir / "strategies"
        self._wanted_file = self.directory / "wanted.json"
        wanted = self._load_wanted()
        self._strategies = {
            s.name: Hosted(s, wanted.get(s.name, s.autostart)) for s in settings.strategies
        }
        self._watcher: asyncio.Task[None] | None = None

    def _load_wanted(self) -> dict[str, bool]:
        try:
            saved = json.loads(self._wanted_file.read_text())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as bad:
            log.warning(
                "cannot read %s (%s); strategies start as configured", self._wanted_file, bad
            )
            return {}
        return {name: state == "running" for name, state in saved.items()}

    def _save_wanted(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        data = {n: "running" if h.wanted else "stopped" for n, h in self._strategies.items()}
        temporary = self._wanted_file.with_suffix(".tmp")
        temporary.write_text(json.dumps(data, indent=2))
        temporary.replace(self._wanted_file)

    # ------------------------------------------------------------------ life cycle

    async def start(self) -> None:
        """Start the strategies that should run, and watch them."""
        if not self._strategies:
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        for hosted in self._strategies.values():
            if hosted.wanted:
                hosted.state = "starting"
                hosted.restart_at = time.monotonic()
        self._watcher = asyncio.create_task(self._watch(), name="strategy-host")

    async def close(self) -> None:
        """Stop every child (they start again with the engine, as wanted)."""
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
            self._watcher = None
        await asyncio.gather(*(self._end(h) for h in self._strategies.values()))

    # ------------------------------------------------------------------ the API's calls

    def list(self) -> list[StrategyInfo]:
        return [hosted.info() for hosted in self._strategies.values()]

    def _get(self, name: str) -> Hosted:
        hosted = self._strategies.get(name)
        if hosted is None:
            raise NotFound(f"no hosted strategy {name!r}", {"strategy": name})
        return hosted

    async def start_one(self, name: str) -> StrategyInfo:
        """Start it now (a running one is left as it is)."""
        hosted = self._get(name)
        hosted.wanted = True
        self._save_wanted()
        if hosted.state != "running":
            hosted.backoff_s = BACKOFF_START_S
            await self._spawn(hosted)
        return hosted.info()

    async def stop_one(self, name: str) -> StrategyInfo:
        """Stop it (SIGTERM: it finishes what it handles and calls `on_stop`)."""
        hosted = self._get(name)
        hosted.wanted = False
        self._save_wanted()
        await self._end(hosted)
        return hosted.info()

    # ------------------------------------------------------------------ children

    async def _watch(self) -> None:
        while True:
            now = time.monotonic()
            for hosted in self._strategies.values():
                try:
                    await self._look_after(hosted, now)
                except Exception:
                    log.exception("strategy %s: looking after it failed", hosted.settings.name)
            await asyncio.sleep(WATCH_INTERVAL_S)

    async def _look_after(self, hosted: Hosted, now: float) -> None:
        if hosted.process is None:
            if hosted.wanted and hosted.restart_at is not None and now >= hosted.restart_at:
                await self._spawn(hosted)
            return
        code = hosted.process.poll()
        if code is None:
            return
        hosted.process = None
        hosted.last_exit = describe_exit(code)
        if not hosted.wanted:
            hosted.state = "stopped"
            return
        if code == ExitStatus.USAGE:
            log.error(
                "strategy %s %s; start it again once fixed", hosted.settings.name, hosted.last_exit
            )
            hosted.state, hosted.restart_at = "failed", None
            return
        if now - hosted.started_monotonic >= HEALTHY_AFTER_S:
            hosted.backoff_s = BACKOFF_START_S
        log.error(
            "strategy %s %s; restarting in %.1f s",
            hosted.settings.name,
            hosted.last_exit,
            hosted.backoff_s,
        )
        hosted.state = "starting"
        hosted.restart_at = now + hosted.backoff_s
        hosted.backoff_s = min(hosted.backoff_s * 2, BACKOFF_MAX_S)
        hosted.restarts += 1

    async def _spawn(self, hosted: Hosted) -> None:
        settings = hosted.settings
        try:
            key = await asyncio.to_thread(self._api_key, settings)
        except Exception as failed:
            hosted.state, hosted.restart_at = "failed", None
            hosted.last_exit = f"no API key: {failed}"
            log.error("strategy %s cannot start: %s", settings.name, hosted.last_exit)
            return
        argv = [
            sys.executable,
            "-m",
            "tradebridge",
            "strategy",
            "run",
            str(settings.file),
            "--account",
            settings.account,
            "--name",
            settings.name,
            "--url",
            self._url(settings),
            "--state",
            str(self.directory / f"{settings.name}.json"),
        ]
        if settings.class_name is not None:
            argv += ["--class", settings.class_name]
        environment = {**os.environ, "TRADEBRIDGE_API_KEY": key}
        environment.pop("TRADEBRIDGE_PROFILE", None)
        log_file = self.directory / f"{settings.name}.log"
        # On the loop's own thread, not a worker's: the kernel's "parent died" signal follows
        # the thread that started the child (fork and exec take a few milliseconds).
        hosted.process = _start_child(argv, environment, log_file)
        hosted.state, hosted.restart_at = "running", None
        hosted.started_at = datetime.now(UTC)
        hosted.started_monotonic = time.monotonic()
        log.info("strategy %s started (pid %d)", settings.name, hosted.process.pid)

    async def _end(self, hosted: Hosted) -> None:
        process, hosted.process = hosted.process, None
        hosted.restart_at = None
        hosted.state = "stopped"
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                await asyncio.to_thread(process.wait, STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                log.warning(
                    "strategy %s did not stop in %.0f s; killing it",
                    hosted.settings.name,
                    STOP_TIMEOUT_S,
                )
                process.kill()
                await asyncio.to_thread(process.wait)
        hosted.last_exit = describe_exit(process.returncode)

    def _url(self, settings: HostedStrategySettings) -> str:
        if settings.url:
            return settings.url
        server = self._settings.server
        host = server.host
        if host in ("0.0.0.0", "", "::"):
            host = "127.0.0.1"
        elif ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{server.port}"

    def _api_key(self, settings: HostedStrategySettings) -> str:
        """The strategy's API key: the one kept, if it still works, else a new one."""
        from tradebridge.api.key_issue import issue_api_key
        from tradebridge.api.security import Scope

        path = self.directory / f"{settings.name}.key"
        with self._db.begin() as conn:
            kept = path.read_text().split() if path.exists() else []
            if len(kept) == 2:
                info = users.get_api_key(conn, kept[0])
                if (
                    info is not None
                    and info.revoked_at is None
                    and info.account == settings.account
                    and info.username == settings.user
                ):
                    return kept[1]
            minted, _ = issue_api_key(
                conn, settings.user, [Scope.READ, Scope.TRADE], settings.account
            )
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(f"{minted.id} {minted.key}\n")
        log.info("strategy %s: API key %s of %s made", settings.name, minted.id, settings.user)
        return minted.key


def _start_child(
    argv: list[str], environment: dict[str, str], log_file: Path
) -> subprocess.Popen[bytes]:
    """The child, in its own session (a Ctrl-C of the engine's terminal is the engine's),
    writing to `log_file`, ended by the kernel should the engine die."""
    with log_file.open("ab") as output:
        return subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            env=environment,
            start_new_session=True,
            preexec_fn=die_with_parent,
        )
