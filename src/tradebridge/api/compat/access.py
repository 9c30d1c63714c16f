"""Who may call a dialect that trades one configured account: the caller of `/api/v1`
(same users, keys, roles and account bindings) with the scope the route needs there."""

from typing import Annotated, Any, Protocol

from fastapi import Depends, Request
from fastapi.security import APIKeyQuery

from tradebridge.api.deps import Authenticator, Credentials
from tradebridge.api.openapi import raises
from tradebridge.api.security import Principal, Scope

QUERY_TOKEN = APIKeyQuery(
    name="token",
    scheme_name="queryToken",
    description="An API key or login token in the query string (the xtquant dialect, whose "
    "scripts put everything in the URL).",
    auto_error=False,
)
"""Declared for the OpenAPI document only: `Authenticator.authenticate` reads it."""


class OneAccountDialect(Protocol):
    @property
    def account(self) -> str: ...


def scoped(state_key: str, scope: Scope, *, query_token: bool = False) -> Any:
    """A dependency: the caller, if they have `scope` on the account of the dialect kept in
    `app.state.<state_key>`; `query_token`: `?token=` is a credential too."""

    async def _query_token(_token: Annotated[object, Depends(QUERY_TOKEN)]) -> None:
        """The query-string credential (for the document only)."""

    async def _no_query_token() -> None:
        """No query-string credential."""

    @raises("unauthorized", "forbidden")
    async def dependency(
        request: Request,
        _: Annotated[None, Credentials],
        _query: Annotated[None, Depends(_query_token if query_token else _no_query_token)],
    ) -> Principal:
        dialect: OneAccountDialect = getattr(request.app.state, state_key)
        authenticator: Authenticator = request.app.state.authenticator
        principal = authenticator.authenticate(request, query_token=query_token)
        principal.require(scope, dialect.account)
        return principal

    return Depends(dependency)
