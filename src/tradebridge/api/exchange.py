"""One HTTP request and its answer, as the observers (metrics, audit, access log) see them."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import msgspec

from tradebridge.api.caller import Caller
from tradebridge.api.redaction import redact_secrets

MUTATING_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_UNREAD: Any = object()


@dataclass(slots=True)
class Exchange:
    request_id: str
    started_at: float
    """Wall-clock time (`time.time()`) the request came in."""
    method: str
    path: str
    query: str
    client_ip: str | None
    http_version: str
    route: str | None = None
    """The matched route's path template (`/api/v1/accounts/{account}/orders`)."""
    route_summary: str | None = None
    path_params: Mapping[str, Any] = field(default_factory=dict)
    status: int = 500
    duration_s: float = 0.0
    request_body: bytes | None = None
    """Kept only for mutating requests (and only while they are looked at, never stored)."""
    request_value: Any = _UNREAD
    """The request body as JSON, when the body check (`json_bodies`) has decoded it."""
    answer: Any = None
    """The answer of a mutating request or an error, when small enough: what the route
    encoded (a dict, a list, a `msgspec.Struct`), or the JSON decoded from its bytes."""
    caller: Caller | None = None
    mutating: bool = False
    """Whether it may change something: a `POST`, `PUT`, `PATCH` or `DELETE`, or a `GET` a
    dialect places or cancels orders with (`compat.paths.audit_gets`)."""

    @property
    def target(self) -> str:
        """Path and query string with secrets redacted, as logged and audited."""
        return f"{self.path}?{redact_secrets(self.query)}" if self.query else self.path

    @property
    def error_code(self) -> str | None:
        """The `error.code` of an error answer (`http_<status>` if it has none); None for
        a success."""
        if self.status < 400:
            return None
        error = self.answer.get("error") if isinstance(self.answer, dict) else None
        code = error.get("code") if isinstance(error, dict) else None
        return code if isinstance(code, str) else f"http_{self.status}"

    @property
    def answer_id(self) -> Any:
        """The `id` of the object answered (an order, a key), if it has one."""
        answer = self.answer
        if isinstance(answer, dict):
            return answer.get("id")
        return getattr(answer, "id", None) if isinstance(answer, msgspec.Struct) else None

    @property
    def error_details(self) -> Mapping[str, Any]:
        error = self.answer.get("error") if isinstance(self.answer, dict) else None
        details = error.get("details") if isinstance(error, dict) else None
        return details if isinstance(details, dict) else {}

    def request_json(self) -> Any:
        """The request body decoded as JSON, or None."""
        if self.request_value is _UNREAD:
            self.request_value = decode_json(self.request_body)
        return self.request_value


def decode_json(data: bytes | bytearray | None) -> Any:
    if not data:
        return None
    try:
        return msgspec.json.decode(data)
    except msgspec.DecodeError:
        return None
