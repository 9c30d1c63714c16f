"""The error hierarchy: stable codes (API.md §3) and rebuilding errors from the wire."""

from typing import Any

import pytest

from tradebridge.domain import errors
from tradebridge.domain.enums import RejectReason
from tradebridge.domain.errors import (
    ERROR_CLASSES,
    InternalError,
    OrderRejected,
    TradebridgeError,
    ValidationFailed,
    error_from_code,
)


def _subclasses(cls: type[TradebridgeError]) -> list[type[TradebridgeError]]:
    found = []
    for sub in cls.__subclasses__():
        found += [sub, *_subclasses(sub)]
    return found


SUBCLASSES = [cls for cls in _subclasses(TradebridgeError) if cls.__module__ == errors.__name__]
PLAIN_SUBCLASSES = [cls for cls in SUBCLASSES if cls is not OrderRejected]

API_CODES = {
    "bad_request",
    "unauthorized",
    "forbidden",
    "not_found",
    "duplicate_client_order_id",
    "not_cancelable",
    "payload_too_large",
    "validation_error",
    "order_rejected",
    "rate_limited",
    "engine_unavailable",
    "broker_unavailable",
    "timeout",
}


def test_every_subclass_has_its_own_code() -> None:
    codes = [cls.code for cls in SUBCLASSES]
    assert len(SUBCLASSES) >= len(API_CODES) + 2
    assert len(codes) == len(set(codes)), codes
    for cls in SUBCLASSES:
        assert cls.code, cls
        assert "code" in vars(cls), f"{cls.__name__} inherits its code"


def test_codes_cover_the_public_api_and_name_internal_errors() -> None:
    codes = {cls.code for cls in SUBCLASSES}
    assert codes >= API_CODES
    assert codes - API_CODES == {"illegal_transition", "internal_error"}
    assert TradebridgeError.code == "internal_error"
    assert ERROR_CLASSES["internal_error"] is InternalError
    assert {code: cls.code for code, cls in ERROR_CLASSES.items()} == {c: c for c in codes}


@pytest.mark.parametrize("cls", PLAIN_SUBCLASSES, ids=lambda c: c.__name__)
def test_error_from_code_round_trips_every_class(cls: type[TradebridgeError]) -> None:
    details: dict[str, Any] = {"order_id": "ord-1", "field": "qty", "nested": {"a": [1, 2]}}
    sent = cls(f"{cls.__name__} happened", details)
    assert isinstance(sent, Exception)
    assert str(sent) == sent.message
    received = error_from_code(sent.code, sent.message, sent.details)
    assert type(received) is cls
    assert received.code == sent.code
    assert received.message == sent.message
    assert str(received) == sent.message
    assert received.details == sent.details
    assert {k: v for k, v in sent.details.items() if k != "errors"} == details


@pytest.mark.parametrize(
    "cls", [c for c in PLAIN_SUBCLASSES if c is not ValidationFailed], ids=lambda c: c.__name__
)
def test_error_without_details_has_empty_details(cls: type[TradebridgeError]) -> None:
    assert cls("m").details == {}
    assert error_from_code(cls.code, "m", {}).details == {}


def test_a_validation_error_always_names_its_field_and_lists_its_errors() -> None:
    bare = {"field": "body", "errors": [{"field": "body", "message": "m"}]}
    assert ValidationFailed("m").details == bare
    assert error_from_code("validation_error", "m", {}).details == bare
    named = ValidationFailed("qty must be positive", {"field": "qty", "value": "-1"})
    assert named.details == {
        "field": "qty",
        "value": "-1",
        "errors": [{"field": "qty", "message": "qty must be positive"}],
    }
    listed = [{"field": "qty", "message": "a"}, {"field": "side", "message": "b"}]
    assert ValidationFailed("two", {"errors": listed}).details == {"field": "qty", "errors": listed}


@pytest.mark.parametrize("reason", list(RejectReason), ids=lambda r: r.value)
def test_order_rejected_keeps_its_reason_through_the_wire(reason: RejectReason) -> None:
    sent = OrderRejected(reason, "refused", {"order_id": "ord-7", "limit": "10.00"})
    assert sent.code == "order_rejected"
    assert sent.reason is reason
    assert sent.details == {"reason": reason.value, "order_id": "ord-7", "limit": "10.00"}
    received = error_from_code(sent.code, sent.message, sent.details)
    assert isinstance(received, OrderRejected)
    assert received.reason is reason
    assert received.message == "refused"
    assert received.details == sent.details


def test_order_rejected_without_details_still_carries_the_reason() -> None:
    sent = OrderRejected(RejectReason.MARKET_CLOSED, "closed")
    assert sent.details == {"reason": "market_closed"}
    received = error_from_code("order_rejected", "closed", sent.details)
    assert isinstance(received, OrderRejected)
    assert received.reason is RejectReason.MARKET_CLOSED


def test_order_rejected_without_a_reason_on_the_wire_is_not_supported() -> None:
    received = error_from_code("order_rejected", "no reason given", {"order_id": "o"})
    assert isinstance(received, OrderRejected)
    assert received.reason is RejectReason.NOT_SUPPORTED
    assert received.details == {"reason": "not_supported", "order_id": "o"}


def test_order_rejected_with_an_unknown_reason_still_becomes_an_error() -> None:
    """Decoding an error from a newer engine must not itself blow up with a ValueError."""
    received = error_from_code("order_rejected", "refused", {"reason": "brand_new_reason"})
    assert isinstance(received, TradebridgeError)
    assert received.message == "refused"


@pytest.mark.parametrize("code", ["no_such_code", "", "ORDER_REJECTED", "internal_error"])
def test_unknown_code_becomes_internal_error(code: str) -> None:
    received = error_from_code(code, "something broke", {"trace_id": "t-1"})
    assert type(received) is InternalError
    assert received.code == "internal_error"
    assert received.message == "something broke"
    assert received.details == {"trace_id": "t-1"}
