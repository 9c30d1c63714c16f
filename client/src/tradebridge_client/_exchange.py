"""One API call, from request to typed result, written once for the sync and async clients.

A call is described by a `Call` (what to send, how to read the answer, whether it may be
sent again). `exchange` runs it as a generator that yields what it needs done (`Send` an HTTP
request, `Sleep`) and is sent back the outcome; `Client` and `AsyncClient` each drive it
with their own I/O. All decisions live here: logging in, retries and their backoff, reading
errors.

What is retried (`Safety`):

- `IDEMPOTENT` calls (reads, cancels, logins, setting risk limits): after any retryable
  error (429, 503, 504, no answer).
- `PLACEMENT`: the same, always with the same body, so with the same `client_order_id`: the
  server answers a repeat with the order it already has and never places a second one.
- `UNSAFE` calls (a new API key, moving the paper clock, setting a paper quote): only when
  the request is known to have done nothing: 429, or a connection that was never made.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Generic, TypeVar

import httpx
import msgspec

from tradebridge_client.errors import (
    ConnectionFailed,
    NotCancelable,
    RateLimited,
    RetryableError,
    TradebridgeError,
    Unauthorized,
    error_for,
)

T = TypeVar("T")

_encode = msgspec.json.Encoder().encode


class Safety(Enum):
    IDEMPOTENT = "idempotent"
    PLACEMENT = "placement"
    UNSAFE = "unsafe"


@dataclass(frozen=True, slots=True)
class Call(Generic[T]):
    """One request to the API and how to read its answer."""

    method: str
    path: str
    result: Any
    """The type the JSON answer is decoded into (e.g. `list[Order]`)."""
    params: Mapping[str, str | int] | None = None
    json: Any = None
    """The body, encoded as JSON (Decimals as strings, so no digit is lost)."""
    form: Mapping[str, str] | None = None
    safety: Safety = Safety.IDEMPOTENT
    authenticated: bool = True
    check: Callable[[T], T] | None = None
    """Applied to the decoded answer; may raise (a placement answered with a rejected
    order raises `OrderRejected`)."""
    if_not_cancelable: Call[T] | None = None
    """A cancel retried after its first try got no answer may find the order canceled by
    that first try (409 `not_cancelable`): this call then reads the order, and its answer
    is the result."""


@dataclass(frozen=True, slots=True)
class Send:
    """Send this HTTP request; send back the `httpx.Response` or throw the transport error."""

    method: str
    path: str
    params: Mapping[str, str | int] | None
    content: bytes | None
    form: Mapping[str, str] | None
    headers: dict[str, str]


@dataclass(frozen=True, slots=True)
class Sleep:
    seconds: float


Action = Send | Sleep


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how long calls are retried (see the module docstring for which).

    The wait before try n+1 is `first_delay_s * 2**(n-1)`, at most `max_delay_s`, with
    jitter (between half and all of it); after a 429 it is the `Retry-After` the server
    gave. A call gives up after `attempts` tries, or when the next try would start more than
    `deadline_s` after the first.
    """

    attempts: int = 8
    first_delay_s: float = 0.1
    max_delay_s: float = 3.0
    deadline_s: float = 60.0

    def wait(self, attempt: int, error: RetryableError, elapsed_s: float) -> float | None:
        """Seconds to wait before the try after `attempt` (1 for the first), or None to
        give up."""
        if attempt >= self.attempts:
            return None
        retry_after = error.retry_after if isinstance(error, RateLimited) else None
        if retry_after is not None:
            delay = retry_after
        else:
            backoff = min(self.first_delay_s * 2 ** (attempt - 1), self.max_delay_s)
            delay = backoff / 2 + random.uniform(0, backoff / 2)
        if elapsed_s + delay > self.deadline_s:
            return None
        return delay


NO_RETRIES = RetryPolicy(attempts=1)


@dataclass
class Credentials:
    """How calls authenticate: an API key (or a token) as a bearer token, or a username and
    password logged in on first need (and again when the login token has expired)."""

    api_key: str | None = None
    username: str | None = None
    password: str | None = None
    token: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.api_key is not None:
            if self.username is not None or self.password is not None:
                raise ValueError("give either api_key or username and password, not both")
            self.token = self.api_key
        elif (self.username is None) != (self.password is None):
            raise ValueError("give both username and password")

    @property
    def can_log_in(self) -> bool:
        return self.username is not None


def exchange(
    call: Call[T], credentials: Credentials, retry: RetryPolicy, clock: Callable[[], float]
) -> Generator[Action, Any, T]:
    """Run `call` to its result, logging in and retrying as needed (see the module)."""
    if call.authenticated and credentials.token is None and credentials.can_log_in:
        yield from log_in(credentials, retry, clock)
    started = clock()
    attempt = 0
    relogged = False
    while True:
        attempt += 1
        try:
            answer = yield from _send(call, credentials)
            return answer
        except Unauthorized:
            if relogged or not (call.authenticated and credentials.can_log_in):
                raise
            relogged = True  # the login token expired: log in again, once
            credentials.token = None
            yield from log_in(credentials, retry, clock)
            attempt -= 1
            continue
        except NotCancelable:
            if attempt == 1 or call.if_not_cancelable is None:
                raise
            return (yield from exchange(call.if_not_cancelable, credentials, retry, clock))
        except RetryableError as error:
            if not _may_retry(call.safety, error):
                raise
            delay = retry.wait(attempt, error, clock() - started)
            if delay is None:
                raise
            yield Sleep(delay)


def log_in(
    credentials: Credentials, retry: RetryPolicy, clock: Callable[[], float]
) -> Generator[Action, Any, None]:
    from tradebridge_client.routes import login

    assert credentials.username is not None
    assert credentials.password is not None
    token = yield from exchange(
        login(credentials.username, credentials.password), credentials, retry, clock
    )
    credentials.token = token.access_token


def _may_retry(safety: Safety, error: RetryableError) -> bool:
    if safety is not Safety.UNSAFE:
        return True
    return isinstance(error, RateLimited) or (
        isinstance(error, ConnectionFailed) and not error.details.get("sent", True)
    )


def _send(call: Call[T], credentials: Credentials) -> Generator[Action, Any, T]:
    headers = {"Accept": "application/json"}
    if call.authenticated and credentials.token is not None:
        headers["Authorization"] = f"Bearer {credentials.token}"
    content = None
    if call.json is not None:
        content = _encode(call.json)
        headers["Content-Type"] = "application/json"
    try:
        response: httpx.Response = yield Send(
            call.method, call.path, call.params, content, call.form, headers
        )
    except httpx.TransportError as failed:
        raise connection_failed(failed) from failed
    return read_answer(call, response)


def connection_failed(failed: httpx.TransportError) -> ConnectionFailed:
    """`sent` says whether the request may have reached the server."""
    never_sent = isinstance(failed, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)
    kind = type(failed).__name__
    return ConnectionFailed(
        f"no answer from the server ({kind}: {failed or 'no detail'})",
        {"sent": not never_sent, "error": kind},
    )


_CODE_OF_STATUS = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "duplicate_client_order_id",
    413: "payload_too_large",
    422: "validation_error",
    429: "rate_limited",
    502: "engine_unavailable",
    503: "engine_unavailable",
    504: "timeout",
}
"""The error of an answer that is not the API's JSON (e.g. a reverse proxy's own page)."""


def read_answer(call: Call[T], response: httpx.Response) -> T:
    """The decoded result of a 2xx answer; any other answer raised as its error."""
    if 200 <= response.status_code < 300:
        try:
            value: T = msgspec.json.decode(response.content, type=call.result)
        except msgspec.DecodeError as bad:
            raise TradebridgeError(
                f"{call.method} {call.path}: the answer does not match this client ({bad})",
                status=response.status_code,
            ) from None
        return call.check(value) if call.check is not None else value
    raise error_of(response)


class _ErrorBody(msgspec.Struct):
    code: str
    message: str = ""
    details: dict[str, Any] = msgspec.field(default_factory=dict)


class _ErrorAnswer(msgspec.Struct):
    error: _ErrorBody


def error_of(response: httpx.Response) -> TradebridgeError:
    status = response.status_code
    try:
        body = msgspec.json.decode(response.content, type=_ErrorAnswer).error
        code, message, details = body.code, body.message, dict(body.details)
    except msgspec.DecodeError:
        code = _CODE_OF_STATUS.get(status, "internal_error" if status >= 500 else "bad_request")
        message = f"HTTP {status} {response.reason_phrase}".strip()
        details = {}
    retry_after = response.headers.get("Retry-After", "")
    if status == 429 and retry_after.isdigit():  # the header wins over the body's hint
        details["retry_after"] = int(retry_after)
    return error_for(code, message, details, status)
