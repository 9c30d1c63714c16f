"""Creating an API key for a user, shared by `tradebridge key create` and `POST /api/v1/keys`:
the owner must exist and the role must allow every scope of the key."""

from collections.abc import Sequence

from sqlalchemy import Connection

from tradebridge.api.security import ROLE_SCOPES, MintedKey, Role, Scope, mint_api_key
from tradebridge.domain.errors import ValidationFailed
from tradebridge.store import users


def issue_api_key(
    conn: Connection, owner: str, scopes: Sequence[Scope], account: str | None
) -> tuple[MintedKey, users.ApiKeyInfo]:
    """Store a new key of `owner` and return it (the key is shown once) with what is stored.
    Raises `ValidationFailed` (field `user` or `scopes`) having stored nothing."""
    record = users.get_user(conn, owner)
    if record is None:
        raise ValidationFailed(f"no user {owner!r}", {"field": "user"})
    if any(s not in ROLE_SCOPES[Role(record.role)] for s in scopes):
        wanted = ",".join(s.value for s in scopes)
        raise ValidationFailed(
            f"the role {record.role!r} of {owner!r} does not allow the scopes {wanted!r}",
            {"field": "scopes"},
        )
    minted = mint_api_key()
    users.add_api_key(
        conn,
        key_id=minted.id,
        user_id=record.id,
        key_hash=minted.digest,
        prefix=minted.prefix,
        scopes=[s.value for s in scopes],
        account=account,
    )
    info = users.get_api_key(conn, minted.id)
    assert info is not None  # just stored in this transaction
    return minted, info
