"""One exception hierarchy; each class names the stable error `code` of the public API.

The HTTP status for each code lives in the API layer; the engine and the RPC link carry only
`code`, `message` and `details`, so the same error reaches every front end unchanged.
"""

from typing import Any, ClassVar

from tradebridge.domain.enums import RejectReason


class TradebridgeError(Exception):
    """Root of every error tradebridge raises on purpose."""

    code: ClassVar[str] = "internal_error"

    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = details or {}


class BadRequest(TradebridgeError):
    """The request could not be read (malformed JSON, wrong content type)."""

    code = "bad_request"


class Unauthorized(TradebridgeError):
    """Missing or invalid credentials: log in again."""

    code = "unauthorized"


class Forbidden(TradebridgeError):
    """Authenticated, but the role, scope or account binding does not allow this."""

    code = "forbidden"


class NotFound(TradebridgeError):
    code = "not_found"


class DuplicateClientOrderId(TradebridgeError):
    """The client_order_id was used before with different parameters."""

    code = "duplicate_client_order_id"


class NotCancelable(TradebridgeError):
    """The order is already in a terminal state or a cancel is already under way."""

    code = "not_cancelable"


class PayloadTooLarge(TradebridgeError):
    code = "payload_too_large"


class ValidationFailed(TradebridgeError):
    """The input is well-formed but a field is invalid.

    `details` always has `field` (the first invalid field) and `errors` (each invalid field
    as `{field, message}`), however the error was found: one shape for clients to read."""

    code = "validation_error"

    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        given = details or {}
        errors = given.get("errors") or [{"field": given.get("field", "body"), "message": message}]
        super().__init__(message, {**given, "field": errors[0]["field"], "errors": errors})


class OrderRejected(TradebridgeError):
    """The order was refused; it is recorded as `rejected` and its id is in `details`."""

    code = "order_rejected"

    def __init__(
        self, reason: RejectReason, message: str, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message, {"reason": reason.value, **(details or {})})
        self.reason = reason


class RateLimited(TradebridgeError):
    code = "rate_limited"


class EngineUnavailable(TradebridgeError):
    """The engine process cannot be reached; retry later (idempotently)."""

    code = "engine_unavailable"


class BrokerUnavailable(TradebridgeError):
    code = "broker_unavailable"


class Timeout(TradebridgeError):
    """No answer in time; the outcome is unknown, so retry with the same client_order_id."""

    code = "timeout"


class IllegalTransition(TradebridgeError):
    """An order update that the state machine refuses (e.g. a fill after `canceled`)."""

    code = "illegal_transition"


class InternalError(TradebridgeError):
    code = "internal_error"


def _all_subclasses(cls: type[TradebridgeError]) -> list[type[TradebridgeError]]:
    found: list[type[TradebridgeError]] = []
    for sub in cls.__subclasses__():
        found.append(sub)
        found.extend(_all_subclasses(sub))
    return found


_CLASSES: list[type[TradebridgeError]] = [TradebridgeError, *_all_subclasses(TradebridgeError)]
ERROR_CLASSES: dict[str, type[TradebridgeError]] = {cls.code: cls for cls in _CLASSES}


def error_from_code(code: str, message: str, details: dict[str, Any]) -> TradebridgeError:
    """Rebuild an error received over the wire; an unknown code becomes an internal error."""
    cls = ERROR_CLASSES.get(code, InternalError)
    if cls is OrderRejected:
        extra = {k: v for k, v in details.items() if k != "reason"}
        try:
            reason = RejectReason(details.get("reason", RejectReason.NOT_SUPPORTED.value))
        except ValueError:  # a reason newer than this build: keep its text beside
            reason = RejectReason.NOT_SUPPORTED
            extra["original_reason"] = details["reason"]
        return OrderRejected(reason, message, extra)
    return cls(message, details)
