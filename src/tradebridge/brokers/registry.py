"""Broker adapters by name: the factory of each broker folder, and the extra its SDK needs.

A folder's package (`brokers/<name>/__init__.py`) exposes `create(account, sink)`, which
imports the adapter, and through it the SDK, only when an account of that broker starts; so
the project installs and runs without any broker SDK.
"""

import importlib
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import cast

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
    files: bool = False
    """Whether `create` takes a third argument: a directory of the broker's own under the
    data dir, for what its SDK writes (logs), or None when the caller has no data dir."""


BROKERS: dict[str, BrokerEntry] = {  # the same names as `config.BROKER_NAMES`
    "paper": BrokerEntry("tradebridge.brokers.paper"),
    "ib": BrokerEntry("tradebridge.brokers.ib", sdk="ib_async", extra="ib"),
    "vnpy": BrokerEntry("tradebridge.brokers.vnpy", sdk="vnpy", extra="vnpy"),
    "futu": BrokerEntry("tradebridge.brokers.futu", sdk="futu", extra="futu", files=True),
    "tiger": BrokerEntry("tradebridge.brokers.tiger", sdk="tigeropen", extra="tiger", files=True),
    "longport": BrokerEntry("tradebridge.brokers.longport", sdk="longbridge", extra="longport"),
    "qmt": BrokerEntry("tradebridge.brokers.qmt", sdk="xtquant", extra="qmt"),
}


class SdkMissing(BrokerUnavailable):
    """The account's broker SDK is not installed; the message names the extra."""


def create_broker(
    account: AccountBase, sink: BrokerSink, *, data_dir: Path | None = None
) -> Broker:
    """The adapter of `account`. Raises `SdkMissing` naming the extra to install. A broker
    with `files` gets `<data_dir>/brokers/<broker>` for its SDK's files."""
    entry = BROKERS[account.broker]
    if entry.sdk is not None and importlib.util.find_spec(entry.sdk) is None:
        raise SdkMissing(
            f"account {account.id}: the {account.broker} broker needs its SDK ({entry.sdk}): "
            f"pip install 'tradebridge[{entry.extra}]'",
            {"account": account.id, "extra": entry.extra},
        )
    create = cast(Callable[..., Broker], importlib.import_module(entry.package).create)
    if entry.files:
        files = None if data_dir is None else data_dir / "brokers" / account.broker
        return create(account, sink, files)
    return create(account, sink)
