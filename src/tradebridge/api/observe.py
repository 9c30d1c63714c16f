"""The outermost middleware: gives every request an id (`X-Request-ID`, the client's own if it
sent a well-formed one) and, once it is answered, counts it in the metrics, writes its access
log line and queues its audit row (logins and mutating requests). WebSockets are counted
(connections, messages sent).

Nothing here waits on anything: the audit row goes to the writer thread's queue.
"""

import logging
import os
import re
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tradebridge.api.audit import audit_record
from tradebridge.api.audit_writer import AuditWriter
from tradebridge.api.caller import caller_of
from tradebridge.api.compat.paths import changes_by_get
from tradebridge.api.encoding import ANSWER_KEY
from tradebridge.api.exchange import MUTATING_METHODS, Exchange, decode_json
from tradebridge.api.json_bodies import BODY_KEY
from tradebridge.api.metrics import Metrics
from tradebridge.api.redaction import ACCESS_LOGGER, REDACTED_ALREADY
from tradebridge.api.route_names import route_name

log = logging.getLogger(__name__)
access_log = logging.getLogger(ACCESS_LOGGER)

REQUEST_ID_HEADER = b"x-request-id"
_CLIENT_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
CAPTURE_BYTES = 64 * 1024
"""Request bodies of mutating requests and JSON answers are looked at up to this size."""
INTERNAL_ERROR = b'{"error": {"code": "internal_error"}}'
_NOTHING = object()


class Observer:
    def __init__(self, app: ASGIApp, metrics: Metrics | None, access_log: bool) -> None:
        self.app = app
        self._metrics = metrics
        self._access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self._http(scope, receive, send)
        elif scope["type"] == "websocket" and self._metrics is not None:
            await self._websocket(scope, receive, send, self._metrics)
        else:
            await self.app(scope, receive, send)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        client = scope.get("client")
        exchange = Exchange(
            request_id=_request_id(scope),
            started_at=time.time(),
            method=scope["method"],
            path=scope["path"],
            query=scope.get("query_string", b"").decode("latin-1"),
            client_ip=client[0] if client else None,
            http_version=scope.get("http_version", "1.1"),
            mutating=scope["method"] in MUTATING_METHODS or changes_by_get(scope),
        )
        started = time.perf_counter()
        if exchange.mutating or self._access_log:
            # Before the route runs: a request may change what its credentials are worth.
            exchange.caller = caller_of(scope)
        body: bytearray | None = bytearray() if exchange.mutating else None
        answer: bytearray | None = None
        encoded: object = _NOTHING
        """What the route encoded as its answer (`encoding.MsgspecResponse`): not decoded
        again from the bytes."""
        answered = False

        async def observed_receive() -> Message:
            message = await receive()
            if body is not None and len(body) <= CAPTURE_BYTES:
                body.extend(message.get("body", b""))
            return message

        async def observed_send(message: Message) -> None:
            nonlocal answer, answered, encoded
            if message["type"] == "http.response.start":
                answered = True
                exchange.status = message["status"]
                message["headers"] = [
                    *message.get("headers", ()),
                    (REQUEST_ID_HEADER, exchange.request_id.encode()),
                ]
                if exchange.mutating or exchange.status >= 400:
                    answer = bytearray()
            elif message["type"] == "http.response.body" and answer is not None:
                chunk = message.get("body", b"")
                known = scope.get("state", {}).get(ANSWER_KEY)
                if not answer and known is not None and known[1] is chunk:
                    encoded, answer = known[0], None
                else:
                    answer.extend(chunk)
                    if len(answer) > CAPTURE_BYTES:
                        answer = None
            await send(message)

        try:
            await self.app(scope, observed_receive if body is not None else receive, observed_send)
        except Exception:
            if not answered:  # the outermost handler answers 500 `internal_error`
                exchange.status = 500
                encoded, answer = _NOTHING, bytearray(INTERNAL_ERROR)
            raise
        finally:
            exchange.duration_s = time.perf_counter() - started
            if body is not None and len(body) <= CAPTURE_BYTES:
                exchange.request_body = bytes(body)
                state = scope.get("state", {})
                if BODY_KEY in state:
                    exchange.request_value = state[BODY_KEY]
            if encoded is not _NOTHING:
                exchange.answer = encoded
            else:
                exchange.answer = decode_json(answer) if answer is not None else None
            self._finish(scope, exchange)

    def _finish(self, scope: Scope, exchange: Exchange) -> None:
        try:
            route = route_name(scope)
            exchange.route, exchange.route_summary = route.template, route.summary
            exchange.path_params = route.params
            if self._metrics is not None:
                self._metrics.observe(exchange)
            if self._access_log:
                _log_access(exchange)
            writer: AuditWriter | None = getattr(scope["app"].state, "audit", None)
            if writer is not None and exchange.mutating:
                row = audit_record(exchange)
                if row is not None:
                    writer.record(row)
        except Exception:  # an observer's failure must not turn an answer into an error
            log.exception("observing %s %s failed", exchange.method, exchange.path)

    async def _websocket(
        self, scope: Scope, receive: Receive, send: Send, metrics: Metrics
    ) -> None:
        accepted = False

        async def observed_send(message: Message) -> None:
            nonlocal accepted
            if message["type"] == "websocket.send":
                metrics.ws_sent()
            elif message["type"] == "websocket.accept":
                accepted = True
                metrics.ws_opened()
            await send(message)

        try:
            await self.app(scope, receive, observed_send)
        finally:
            if accepted:
                metrics.ws_closed()


def _request_id(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == REQUEST_ID_HEADER:
            text = str(value.decode("latin-1"))
            if _CLIENT_REQUEST_ID.fullmatch(text):
                return text
            break
    return os.urandom(8).hex()


def _log_access(exchange: Exchange) -> None:
    """One line, formatted once: the target is redacted already (`Exchange.target`), so the
    logger's redaction filter passes it as it is."""
    if not access_log.isEnabledFor(logging.INFO):
        return
    principal = exchange.caller.principal if exchange.caller else None
    who = principal.username if principal else "-"
    line = '%s "%s %s HTTP/%s" %d %.1fms %s %s' % (  # noqa: UP031 - one format, no args kept
        exchange.client_ip or "-",
        exchange.method,
        exchange.target,
        exchange.http_version,
        exchange.status,
        exchange.duration_s * 1000,
        who,
        exchange.request_id,
    )
    access_log.info(line, extra=REDACTED_ALREADY)
