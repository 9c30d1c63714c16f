"""A broker whose SDK is not installed is named with the extra that installs it."""

import pytest

from tradebridge.brokers import registry
from tradebridge.brokers.registry import BrokerEntry, SdkMissing, create_broker
from tradebridge.config import PaperAccount


def test_a_missing_sdk_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    entry = BrokerEntry("tradebridge.brokers.paper", sdk="no_such_sdk_here", extra="paper")
    monkeypatch.setitem(registry.BROKERS, "paper", entry)
    with pytest.raises(SdkMissing) as missing:
        create_broker(PaperAccount(id="acct"), sink=None)  # type: ignore[arg-type]
    assert missing.value.message == (
        "account acct: the paper broker needs its SDK (no_such_sdk_here): "
        "pip install 'tradebridge[paper]'"
    )
    assert missing.value.code == "broker_unavailable"
