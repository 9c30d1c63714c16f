"""`/keys`: API keys of the caller (admins: of everyone). A key is shown once, when created;
lists show its prefix only. A caller whose key is bound to an account sees, makes and revokes
only keys bound to that account, whatever its scopes."""

from datetime import datetime
from typing import Annotated, Any

import msgspec
from fastapi import APIRouter, Body, Query
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from tradebridge.api.deps import AuthenticatorDep, EngineDep, Reader
from tradebridge.api.encoding import json_response
from tradebridge.api.key_issue import issue_api_key
from tradebridge.api.openapi import raises, returns
from tradebridge.api.security import MintedKey, Principal, Scope
from tradebridge.domain.errors import Forbidden, NotFound, ValidationFailed
from tradebridge.store import users

router = APIRouter(tags=["keys"])


class KeyView(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    user: str
    prefix: str
    """The first characters of the key, to tell keys apart."""
    scopes: list[str]
    account: str | None
    created_at: datetime
    revoked_at: datetime | None


class NewKey(KeyView, frozen=True, kw_only=True):
    key: str
    """The key itself: shown only in this answer (only its hash is kept)."""


class CreateKeyBody(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    scopes: Annotated[list[Scope], Field(min_length=1, max_length=3)]
    account: Annotated[str, Field(pattern=r"^[a-z0-9_-]{1,32}$")] | None = None
    """Bind the key to this account; a caller bound to an account can only make keys bound
    to it."""
    user: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    """Owner of the new key (admin scope only); default: the caller."""


KEY_EXAMPLES: dict[str, Any] = {
    "trading": {
        "summary": "A key for a trading script on the paper account",
        "value": {"scopes": ["read", "trade"], "account": "paper"},
    },
    "read": {"summary": "A read-only key", "value": {"scopes": ["read"]}},
}


def _view(info: users.ApiKeyInfo) -> KeyView:
    return KeyView(
        id=info.id,
        user=info.username,
        prefix=info.prefix,
        scopes=list(info.scopes),
        account=info.account,
        created_at=info.created_at,
        revoked_at=info.revoked_at,
    )


@router.get(
    "/keys", summary="API keys: your own (admins: everyone's)", responses=returns(list[KeyView])
)
async def list_keys(
    authenticator: AuthenticatorDep,
    principal: Reader,
    user: Annotated[str | None, Query(description="Only this user's keys (admins)")] = None,
) -> Response:
    """Revoked keys are listed too, with `revoked_at`."""
    if Scope.ADMIN not in principal.scopes:
        if user not in (None, principal.username):
            raise Forbidden("only admins may list the keys of other users", {"scope": "admin"})
        user = principal.username

    def query() -> list[users.ApiKeyInfo]:
        with authenticator.db.connect() as conn:
            return users.list_api_keys(conn, user)

    keys = await run_in_threadpool(query)
    return json_response([_view(info) for info in keys if _may_see(principal, info)])


@router.post(
    "/keys",
    summary="Create an API key (shown once)",
    status_code=201,
    responses=returns(NewKey, 201, "Created"),
)
async def create_key(
    body: Annotated[CreateKeyBody, Body(openapi_examples=KEY_EXAMPLES)],
    engine: EngineDep,
    authenticator: AuthenticatorDep,
    principal: Reader,
) -> Response:
    """A key never has a scope its creator lacks: a viewer makes `read` keys, a trader
    `read`/`trade`, an admin any. Needs a login token or a key with the `admin` scope (so a
    leaked key cannot make itself a successor)."""
    if principal.key_id is not None and Scope.ADMIN not in principal.scopes:
        raise Forbidden("log in (or use a key with the admin scope) to create keys")
    owner = body.user or principal.username
    if owner != principal.username:
        principal.require(Scope.ADMIN)
    scopes = sorted(set(body.scopes))
    beyond = [s.value for s in scopes if s not in principal.scopes]
    if beyond:
        raise Forbidden(f"you may not give the scope {beyond[0]!r}", {"scope": beyond[0]})
    account = body.account or principal.account
    principal.require(Scope.READ, account)
    if account is not None and account not in {a.id for a in await engine.accounts()}:
        raise ValidationFailed(f"no account {account!r}", {"field": "account"})

    def store() -> tuple[MintedKey, users.ApiKeyInfo]:
        with authenticator.db.begin() as conn:
            return issue_api_key(conn, owner, scopes, account)

    minted, info = await run_in_threadpool(store)
    view = _view(info)
    return json_response(NewKey(**msgspec.structs.asdict(view), key=minted.key), 201)


@router.delete("/keys/{key_id}", summary="Revoke an API key", responses=returns(KeyView))
@raises("not_found")
async def revoke_key(key_id: str, authenticator: AuthenticatorDep, principal: Reader) -> Response:
    """Your own keys (admins: anyone's; a bound key: of its account only). Revoking a revoked
    key changes nothing. The key stops working at once in this worker, within seconds in the
    others."""

    def revoke() -> users.ApiKeyInfo:
        with authenticator.db.begin() as conn:
            found = users.get_api_key(conn, key_id)
            if found is None or not _may_manage(principal, found):
                raise NotFound(f"no key {key_id!r}")
            revoked = users.revoke_api_key(conn, key_id)
        assert revoked is not None
        return revoked

    info = await run_in_threadpool(revoke)
    authenticator.forget_key(key_id)
    return json_response(_view(info))


def _may_see(principal: Principal, key: users.ApiKeyInfo) -> bool:
    """A caller bound to an account stays inside it: other keys are as if they did not
    exist."""
    return principal.account is None or key.account == principal.account


def _may_manage(principal: Principal, key: users.ApiKeyInfo) -> bool:
    owner_or_admin = Scope.ADMIN in principal.scopes or key.username == principal.username
    return owner_or_admin and _may_see(principal, key)
