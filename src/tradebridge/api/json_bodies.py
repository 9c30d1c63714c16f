"""JSON request bodies are checked before any route reads them.

Python's `json` (what FastAPI parses bodies with) quietly keeps the last of two equal keys
(`{"qty": 100, "qty": 200}` placed an order of 200), reads integers of any size (which the
engine's codec cannot carry: a 500) and the non-JSON words `NaN` and `Infinity`, and a body
nested thousands deep ends in a RecursionError. Here, for every POST, PUT and PATCH whose
body FastAPI would parse as JSON (a JSON media type, or none):

- a key given twice in one object: 422 `validation_error` naming it;
- an integer outside the signed 64-bit range: 422 (fields have narrower bounds of their own);
- nesting deeper than `MAX_DEPTH`: 422;
- `NaN`, `Infinity`, `-Infinity`: 400 `bad_request` (they are not JSON).

A body that is not JSON at all is passed on untouched: the route answers it as before.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tradebridge.api.errors import error_response

BODY_KEY = "tradebridge_body"
"""In a request's state: its JSON body as `check` decoded it, for the audit log."""
MAX_DEPTH = 32
"""Objects and arrays inside each other; request bodies of the API need 3."""
INT64 = 2**63
MAX_INT_DIGITS = 19
METHODS = frozenset({"POST", "PUT", "PATCH"})


class _Refused(Exception):
    def __init__(self, code: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details or {}


class StrictJsonBodies:
    """ASGI middleware; inside `BodySizeLimit`, whose 413 it passes on as an answer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in METHODS or not _is_json(scope):
            await self.app(scope, receive, send)
            return
        try:
            body = await _read_body(receive)
        except HTTPException as exc:
            if exc.status_code != 413:
                raise
            await error_shape(scope)("payload_too_large", exc.detail, {})(scope, receive, send)
            return
        if body:
            try:
                value = check(body)
            except _Refused as refused:
                answer = error_shape(scope)(refused.code, refused.message, refused.details)
                await answer(scope, receive, send)
                return
            if value is not _NOT_JSON:
                scope.setdefault("state", {})[BODY_KEY] = value
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


ErrorShape = Callable[[str, str, dict[str, Any]], Response]
"""Builds an error answer from (code, message, details)."""


def error_shape(scope: Scope) -> ErrorShape:
    """How the route `scope` is for answers errors: a dialect with a shape of its own
    registers it with its routes in `app.state.error_shapes` (vnpy's `detail`); else API.md
    §3's."""
    state = getattr(scope.get("app"), "state", None)
    shapes: list[tuple[list[BaseRoute], ErrorShape]] = getattr(state, "error_shapes", [])
    for routes, shape in shapes:
        if any(route.matches(scope)[0] is Match.FULL for route in routes):
            return shape
    return error_response


_NOT_JSON = object()


def check(body: bytes) -> Any:
    """Raise `_Refused` for what the module docstring lists; else return the decoded body
    (`_NOT_JSON` if it is not JSON)."""
    try:
        # What `json.loads(body)` does, with one decoder made once rather than per body.
        value = _DECODER.decode(body.decode(json.detect_encoding(body), "surrogatepass"))
    except (ValueError, UnicodeDecodeError):
        return _NOT_JSON  # not JSON (or not UTF-8): the route's own parser answers 400
    except RecursionError:
        raise _too_deep() from None
    if body.count(b"{") + body.count(b"[") > MAX_DEPTH:  # else it cannot be deeper
        _check_depth(value)
    return value


def _is_json(scope: Scope) -> bool:
    """Whether FastAPI would parse the body as JSON: no content type, or a JSON one."""
    for name, value in scope["headers"]:
        if name == b"content-type":
            media: str = value.decode("latin-1").partition(";")[0].strip().lower()
            return media == "application/json" or media.endswith("+json")
    return True


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _Refused(
                "validation_error",
                f"{key[:64]}: the key appears more than once in one object",
                {"field": key[:64]},
            )
        result[key] = value
    return result


def _integer(text: str) -> int:
    digits = text.lstrip("-")
    if len(digits) > MAX_INT_DIGITS or not -INT64 <= int(text) < INT64:
        shown = text if len(text) <= 32 else text[:29] + "..."
        raise _Refused(
            "validation_error", f"the integer {shown} is out of range (integers have 64 bits)"
        )
    return int(text)


def _constant(text: str) -> Any:
    raise _Refused("bad_request", f"the request body is not valid JSON ({text} is not JSON)")


_DECODER = json.JSONDecoder(object_pairs_hook=_object, parse_int=_integer, parse_constant=_constant)


def _too_deep() -> _Refused:
    return _Refused("validation_error", f"the body is nested more than {MAX_DEPTH} deep")


def _check_depth(value: Any) -> None:
    """Without recursion: the body may be exactly as deep as `json` could read."""
    level = [value] if isinstance(value, dict | list) else []
    depth = 0
    while level:
        depth += 1
        if depth > MAX_DEPTH:
            raise _too_deep()
        level = [
            child
            for item in level
            for child in (item.values() if isinstance(item, dict) else item)
            if isinstance(child, dict | list)
        ]
