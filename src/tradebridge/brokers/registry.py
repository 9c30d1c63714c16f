"""Broker adapters by name: the factory of each broker folder, and the extra its SDK needs.

A folder's package (`brokers/<name>/__init__.py`) exposes `create(account, sink)`, which
imports the adapter, and through it the SDK, only when an account of that broker starts; so
the project installs and runs without any broker SDK.
"""

import importlib
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from tradebridge.brokers.base import Broker, BrokerSink
from tradebridge.config import AccountBase
from tradebridge.domain.errors import BrokerUnavailable


@dataclass(frozen=True, slots=True)
class BrokerEntry:
    package: str
    """The broker folder's package, with its `create(account, sink)`."""
    sdk: str | None = None
    """The SDK's top-level module, if the adapter needs one."""
    extra: str | None = None
    """The extra that installs the SDK: `pip install 'tradebridge[<extra>]'`."""


BROKERS: dict[str, BrokerEntry] = {  # the same names as `config.BROKER_NAMES`
    "paper": BrokerEntry("tradebridge.brokers.paper"),
    "qmt": BrokerEntry("tradebridge.brokers.qmt", sdk="xtquant", extra="qmt"),
}


class SdkMissing(BrokerUnavailable):
    """The account's broker SDK is not installed; the message names the extra."""


def create_broker(account: AccountBase, sink: BrokerSink) -> Broker:
    """The adapter of `account`. Raises `SdkMissing` naming the extra to install."""
    entry = BROKERS[account.broker]
    if entry.sdk is not None and importlib.util.find_spec(entry.sdk) is None:
        raise SdkMissing(
            f"account {account.id}: the {account.broker} broker needs its SDK ({entry.sdk}): "
            f"pip install 'tradebridge[{entry.extra}]'",
            {"account": account.id, "extra": entry.extra},
        )
    create = cast(
        Callable[[Any, BrokerSink], Broker], importlib.import_module(entry.package).create
    )
    return create(account, sink)
