"""Prometheus metrics of the web process, served at `GET /metrics`.

Counted on the web side: HTTP requests by route template, method and status, and their
latency; orders placed and refused by reason; engine calls by method with latency and
failures; rate-limit refusals; WebSocket connections and messages sent; audit rows; and, as
gauges, whether the engine link and the event bus are up and the last event `seq` of each
account (its rate is the account's events per second). The engine's own internals are not
exported.

Labels never carry what a client chose freely (a path, an unknown account, an odd method):
routes are templates, unknown accounts and methods are grouped, so the series stay few. No
label or value carries a username, a token or a key.

With several web workers (`server.workers`), prometheus_client's multiprocess mode sums the
workers: each writes its values to files under `<data_dir>/metrics/web-<pid>` (one directory
per run of the web process; left-overs of earlier runs are removed), and any worker answers
for all of them.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tradebridge.api.exchange import Exchange

if TYPE_CHECKING:
    import prometheus_client

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
LATENCY_BUCKETS = (
    0.0005,
    0.001,
    0.002,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)
"""Seconds; fine at the low end, where an order's round trip lives."""
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "(unmatched)"
OTHER = "(other)"
PLACE_ORDER = ("POST", "/api/v1/accounts/{account}/orders")


class Metrics:
    """The web's metrics, in one registry of its own."""

    def __init__(self, accounts: Iterable[str], multiprocess_dir: Path | None = None) -> None:
        # prometheus_client chooses where values live (process memory, or the files shared
        # by workers) when it is first imported, from PROMETHEUS_MULTIPROC_DIR: it is
        # imported here, after `use_multiprocess_dir` has set that.
        import prometheus_client as prom

        self._prom = prom
        self._accounts = frozenset(accounts)
        self._multiprocess_dir = multiprocess_dir
        self.registry = prom.CollectorRegistry()
        r = self.registry
        self._requests = prom.Counter(
            "tradebridge_http_requests",
            "HTTP requests answered",
            ["method", "route", "status"],
            registry=r,
        )
        self._request_seconds = prom.Histogram(
            "tradebridge_http_request_duration_seconds",
            "Time from receiving an HTTP request to the end of its answer",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self._orders_placed = prom.Counter(
            "tradebridge_orders_placed", "Orders placed (201)", ["account"], registry=r
        )
        self._orders_refused = prom.Counter(
            "tradebridge_orders_refused",
            "Order placements refused, by reject reason or error code",
            ["account", "reason"],
            registry=r,
        )
        self._rpc_calls = prom.Counter(
            "tradebridge_rpc_calls",
            "Engine calls by method and result (ok, or the error code)",
            ["method", "result"],
            registry=r,
        )
        self._rpc_seconds = prom.Histogram(
            "tradebridge_rpc_duration_seconds",
            "Engine call latency",
            ["method"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self._rate_limited = prom.Counter(
            "tradebridge_rate_limited",
            "Requests refused by a rate limit (caller or account)",
            ["limit"],
            registry=r,
        )
        self._ws_sent = prom.Counter(
            "tradebridge_ws_messages_sent", "WebSocket messages sent", registry=r
        )
        self._ws_open = prom.Gauge(
            "tradebridge_ws_connections",
            "Open WebSocket connections",
            registry=r,
            multiprocess_mode="livesum",
        )
        self._link_up = prom.Gauge(
            "tradebridge_engine_link_up",
            "1 while the RPC link to the engine is up (every worker's, with several)",
            registry=r,
            multiprocess_mode="livemin",
        )
        self._bus_up = prom.Gauge(
            "tradebridge_event_bus_up",
            "1 while the engine's event bus is heard (every worker's, with several)",
            registry=r,
            multiprocess_mode="livemin",
        )
        self._last_seq = prom.Gauge(
            "tradebridge_account_last_seq",
            "Last event sequence number seen for each account",
            ["account"],
            registry=r,
            multiprocess_mode="livemax",
        )
        self._audit_written = prom.Counter(
            "tradebridge_audit_rows_written", "Audit rows written", registry=r
        )
        self._audit_dropped = prom.Counter(
            "tradebridge_audit_rows_dropped",
            "Audit rows that could not be written (database away too long)",
            registry=r,
        )
        # Children of labelled series, found once each (`labels()` takes a lock and builds
        # a key every time); bounded as the labels are.
        self._http_children: dict[tuple[str, str, int], tuple[Any, Any]] = {}
        self._rpc_children: dict[tuple[str, str], tuple[Any, Any]] = {}
        # Per WebSocket message only a Python integer moves; `sample` moves it into the
        # metrics, so fan-out pays nothing for them.
        self._ws_messages = 0
        self._ws_messages_counted = 0
        self._ws_connections = 0

    # ------------------------------------------------------------------ recording

    def observe(self, exchange: Exchange) -> None:
        """Count one answered HTTP request."""
        method = exchange.method if exchange.method in KNOWN_METHODS else OTHER
        route = exchange.route or UNMATCHED
        key = (method, route, exchange.status)
        children = self._http_children.get(key)
        if children is None:
            children = self._http_children[key] = (
                self._requests.labels(method, route, str(exchange.status)),
                self._request_seconds.labels(method, route),
            )
        requests, seconds = children
        requests.inc()
        seconds.observe(exchange.duration_s)
        if (exchange.method, exchange.route) == PLACE_ORDER:
            self._order(exchange)

    def _order(self, exchange: Exchange) -> None:
        account = self._account(exchange.path_params.get("account"))
        if exchange.status == 201:
            self._orders_placed.labels(account).inc()
        elif exchange.status >= 400:
            reason = exchange.error_details.get("reason") or exchange.error_code
            self._orders_refused.labels(account, str(reason)).inc()

    def _account(self, account: object) -> str:
        return account if isinstance(account, str) and account in self._accounts else OTHER

    def rpc_call(self, method: str, seconds: float, result: str) -> None:
        children = self._rpc_children.get((method, result))
        if children is None:
            children = self._rpc_children[(method, result)] = (
                self._rpc_calls.labels(method, result),
                self._rpc_seconds.labels(method),
            )
        calls, latency = children
        calls.inc()
        latency.observe(seconds)

    def rate_limited(self, limit: str) -> None:
        self._rate_limited.labels(limit).inc()

    def audit_written(self, rows: int) -> None:
        self._audit_written.inc(rows)

    def audit_dropped(self, rows: int) -> None:
        self._audit_dropped.inc(rows)

    def ws_opened(self) -> None:
        self._ws_connections += 1

    def ws_closed(self) -> None:
        self._ws_connections -= 1

    def ws_sent(self) -> None:
        self._ws_messages += 1

    def sample(self, *, link_up: bool, bus_up: bool, last_seqs: Mapping[str, int]) -> None:
        """Bring the gauges (and the WebSocket message count) up to date."""
        self._link_up.set(int(link_up))
        self._bus_up.set(int(bus_up))
        for account, seq in last_seqs.items():
            self._last_seq.labels(self._account(account)).set(seq)
        self._ws_open.set(self._ws_connections)
        new = self._ws_messages - self._ws_messages_counted
        if new:
            self._ws_sent.inc(new)
            self._ws_messages_counted += new

    # ------------------------------------------------------------------ exposition

    def render(self, account: str | None = None) -> tuple[bytes, str]:
        """The text exposition format, and its content type. With `account`, only the series
        of that account (those labelled with it): what a caller bound to it may see."""
        prom = self._prom
        registry: prometheus_client.CollectorRegistry = self.registry
        if self._multiprocess_dir is not None:
            from prometheus_client import multiprocess

            registry = prom.CollectorRegistry()
            multiprocess.MultiProcessCollector(  # type: ignore[no-untyped-call]
                registry, path=str(self._multiprocess_dir)
            )
        if account is not None:
            return prom.generate_latest(_OneAccount(registry, account)), prom.CONTENT_TYPE_LATEST
        return prom.generate_latest(registry), prom.CONTENT_TYPE_LATEST


class _OneAccount:
    """The series of `source` labelled with one account; families left empty are dropped."""

    def __init__(self, source: prometheus_client.CollectorRegistry, account: str) -> None:
        self._source = source
        self._account = account

    def collect(self) -> Iterable[prometheus_client.Metric]:
        from prometheus_client import Metric

        for family in self._source.collect():
            samples = [s for s in family.samples if s.labels.get("account") == self._account]
            if samples:
                kept = Metric(family.name, family.documentation, family.type, family.unit)
                kept.samples = samples
                yield kept


def sample_app_state(state: Any) -> None:
    """`Metrics.sample` with what the web app's state knows: its engine link and stream hub."""
    hub = state.stream
    last_seqs = {}
    if hub is not None:
        last_seqs = {a: seq for a in hub.accounts if (seq := hub.last_seq(a)) is not None}
    state.metrics.sample(
        link_up=state.engine.rpc.connected,
        bus_up=hub is not None and hub.engine_up,
        last_seqs=last_seqs,
    )


def use_multiprocess_dir(data_dir: Path, web_pid: int) -> Path:
    """Set up the directory the workers of the web process `web_pid` share their metrics in,
    and point prometheus_client at it (before it is imported: see `Metrics`).

    Directories of web processes that have ended are removed, and the gauges of this one's
    workers that have died are dropped (their counters stay: what they counted happened).
    """
    root = data_dir / "metrics"
    directory = root / f"web-{web_pid}"
    directory.mkdir(parents=True, exist_ok=True)
    os.environ[MULTIPROC_ENV] = str(directory)
    if os.name != "posix":  # liveness below relies on kill(pid, 0)
        return directory
    from prometheus_client import multiprocess

    for other in root.glob("web-*"):
        pid = _pid_of(other.name)
        if pid is not None and pid != web_pid and not _alive(pid):
            shutil.rmtree(other, ignore_errors=True)
    for pid in {_pid_of(f.stem) for f in directory.glob("*.db")}:
        if pid is not None and not _alive(pid):
            with contextlib.suppress(OSError):
                multiprocess.mark_process_dead(pid, str(directory))  # type: ignore[no-untyped-call]
    return directory


def _pid_of(name: str) -> int | None:
    """The pid a metrics file or directory name ends in (`counter_123`, `web-45`)."""
    tail = name.rsplit("_", 1)[-1].rsplit("-", 1)[-1]
    return int(tail) if tail.isdigit() else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
