"""Errors of the API as exceptions, one class per error code of API.md §3.

`TradebridgeError` is the root. `RetryableError` is the family worth trying again (429, 503,
504 and answers that never came): the client already retries safe calls and order
placement with backoff, so one of these reaching you means its retries ran out.
"""

from typing import Any


class TradebridgeError(Exception):
    """An error answered by the server (or, for `ConnectionFailed`, no answer at all)."""

    code: str = "internal_error"
    """The error code of API.md §3 (the class's own, or for an unknown one the server's)."""

    def __init__(
        self,
        message: str,
        details: dict[str, Any] | None = None,
        *,
        status: int | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code
        self.message = message
        self.details: dict[str, Any] = details or {}
        self.status = status
        """The HTTP status, when the error came in an HTTP answer."""

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class BadRequest(TradebridgeError):
    """The request could not be read (malformed JSON, wrong content type)."""

    code = "bad_request"


class Unauthorized(TradebridgeError):
    """Missing, invalid or expired credentials."""

    code = "unauthorized"


class Forbidden(TradebridgeError):
    """The role, a key's scopes or its account binding do not allow this."""

    code = "forbidden"


class NotFound(TradebridgeError):
    code = "not_found"


class MethodNotAllowed(TradebridgeError):
    code = "method_not_allowed"


class DuplicateClientOrderId(TradebridgeError):
    """The client_order_id was used before for an order with other parameters."""

    code = "duplicate_client_order_id"


class NotCancelable(TradebridgeError):
    """The order has ended, or a cancel is not allowed now (an auction's no-cancel window)."""

    code = "not_cancelable"


class PayloadTooLarge(TradebridgeError):
    code = "payload_too_large"


class ValidationError(TradebridgeError):
    """A field is invalid; `details` names it."""

    code = "validation_error"


class OrderRejected(TradebridgeError):
    """The order was refused and recorded as `rejected`.

    `reason` is one of API.md §3 (`insufficient_funds`, `market_closed`, ...); `order_id`
    the id of the rejected order."""

    code = "order_rejected"

    @property
    def reason(self) -> str:
        return str(self.details.get("reason", ""))

    @property
    def order_id(self) -> str | None:
        value = self.details.get("order_id")
        return value if isinstance(value, str) else None

    def __str__(self) -> str:
        return f"{self.code} ({self.reason}): {self.message}"


class InternalError(TradebridgeError):
    code = "internal_error"


class RetryableError(TradebridgeError):
    """Try again later: nothing was wrong with the request itself."""


class RateLimited(RetryableError):
    code = "rate_limited"

    @property
    def retry_after(self) -> float | None:
        """Seconds to wait, as the server's `Retry-After` said."""
        value = self.details.get("retry_after")
        return float(value) if isinstance(value, int | float) else None


class EngineUnavailable(RetryableError):
    code = "engine_unavailable"


class BrokerUnavailable(RetryableError):
    code = "broker_unavailable"


class Timeout(RetryableError):
    """The server gave up waiting; the outcome is unknown. For an order, look it up by its
    client_order_id (or place it again with the same one: it is never placed twice)."""

    code = "timeout"


class ConnectionFailed(RetryableError):
    """No answer: the server could not be reached, or the connection broke."""

    code = "connection_failed"


class StreamError(TradebridgeError):
    """The event stream cannot go on (`code` says why); reconnecting would not help."""

    code = "stream_error"


class ResumeFailed(StreamError):
    """The stream cannot resume from the sequence number asked for: it is older than what
    the server keeps (`resume_too_old`), after its last event (`resume_invalid`), or the
    account's history was reset (`history_reset`). Reload the state over REST and stream
    again without `since_seq`."""

    code = "resume_failed"


def _classes(root: type[TradebridgeError]) -> list[type[TradebridgeError]]:
    found: list[type[TradebridgeError]] = []
    for sub in root.__subclasses__():
        found += [sub, *_classes(sub)]
    return found


ERRORS_BY_CODE: dict[str, type[TradebridgeError]] = {
    cls.code: cls for cls in _classes(TradebridgeError) if cls is not RetryableError
}


def error_for(
    code: str, message: str, details: dict[str, Any] | None = None, status: int | None = None
) -> TradebridgeError:
    """The exception for an error code; for a code this client does not know, the root class
    (or `RetryableError` for a 502, 503 or 504) carrying the server's code."""
    cls = ERRORS_BY_CODE.get(code)
    if cls is None:
        base = RetryableError if status in (502, 503, 504) else TradebridgeError
        return base(message, details, status=status, code=code)
    return cls(message, details, status=status)
