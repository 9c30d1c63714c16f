"""httptrading instances: the accounts with an `httptrading_instance_id`, and their tokens."""

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass

from starlette.datastructures import State

from tradebridge.api.deps import HTTPTRADING_SCOPES
from tradebridge.api.security import Principal
from tradebridge.config import Settings

BROKER_DISPLAY: dict[str, str] = {"paper": "tradebridge paper", "ib": "盈透证券"}
"""`brokerDisplay` of each broker; a broker missing here shows its own name."""

_STATE_KEY = "httptrading_instances"


@dataclass(frozen=True, slots=True)
class Instance:
    instance_id: str
    account: str
    broker: str
    token_digests: tuple[bytes, ...]
    """SHA-256 of each token: comparing digests of equal length reveals nothing of a
    token's length either."""

    @property
    def broker_display(self) -> str:
        return BROKER_DISPLAY.get(self.broker, self.broker)

    @property
    def principal(self) -> Principal:
        """Whoever holds a token of this instance: read and trade on its account only, as
        the same token is on `/api/v1` (`Authenticator.api_key`)."""
        name = f"httptrading:{self.account}"
        return Principal(name, HTTPTRADING_SCOPES, account=self.account, key_id=name)

    def accepts(self, token: str) -> bool:
        """Whether `token` is one of this instance's, in time independent of where (or
        whether) it matches."""
        digest = _digest(token)
        matched = False
        for known in self.token_digests:
            matched |= hmac.compare_digest(digest, known)
        return matched


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def instances_from(settings: Settings) -> dict[str, Instance]:
    """By instance id; accounts without one are not served by the dialect."""
    return {
        account.httptrading_instance_id: Instance(
            instance_id=account.httptrading_instance_id,
            account=account.id,
            broker=account.broker,
            token_digests=tuple(_digest(t) for t in account.httptrading_tokens),
        )
        for account in settings.accounts
        if account.httptrading_instance_id is not None
    }


def keep_instances(state: State, instances: Mapping[str, Instance]) -> None:
    setattr(state, _STATE_KEY, instances)


def instances_of(state: State) -> Mapping[str, Instance]:
    instances: Mapping[str, Instance] = getattr(state, _STATE_KEY, {})
    return instances
