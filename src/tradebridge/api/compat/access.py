"""Who may call a dialect that trades one configured account: the caller of `/api/v1`
(same users, keys, roles and account bindings) with the scope the route needs there."""

from typing import Any, Protocol

from fastapi import Depends, Request

from tradebridge.api.deps import Authenticator
from tradebridge.api.security import Principal, Scope


class OneAccountDialect(Protocol):
    @property
    def account(self) -> str: ...


def scoped(state_key: str, scope: Scope, *, query_token: bool = False) -> Any:
    """A dependency: the caller, if they have `scope` on the account of the dialect kept in
    `app.state.<state_key>`; `query_token`: `?token=` is a credential too."""

    async def dependency(request: Request) -> Principal:
        dialect: OneAccountDialect = getattr(request.app.state, state_key)
        authenticator: Authenticator = request.app.state.authenticator
        principal = authenticator.authenticate(request, query_token=query_token)
        principal.require(scope, dialect.account)
        return principal

    return Depends(dependency)
