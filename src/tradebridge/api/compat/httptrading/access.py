"""Who may use an instance: the holder of one of its tokens (`HT-TOKEN`), or a caller of
`/api/v1` with the scope the route needs on the instance's account.

The checks run in this order: the instance exists (else 404), the credentials are valid
(else 401), they allow the route on the instance's account (else 403). When `HT-TOKEN` is
sent, it alone decides; otherwise `Authorization: Bearer` and `X-API-Key` are read as on
`/api/v1` (same roles, scopes and account bindings).
"""

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.security import APIKeyHeader

from tradebridge.api.caller import principal_of
from tradebridge.api.compat.httptrading.envelope import INSTANCE_PARAM
from tradebridge.api.compat.httptrading.instances import Instance, instances_of
from tradebridge.api.deps import Credentials
from tradebridge.api.openapi import raises
from tradebridge.api.security import Principal, Scope
from tradebridge.domain.errors import NotFound, Unauthorized

TOKEN_HEADER = "HT-TOKEN"
INSTANCE_TOKEN = APIKeyHeader(
    name=TOKEN_HEADER,
    scheme_name="htToken",
    description="A token of the httptrading instance (`[[accounts]] httptrading_tokens`).",
    auto_error=False,
)
"""For the OpenAPI document; `_principal` reads the header."""


@dataclass(frozen=True, slots=True)
class Access:
    instance: Instance
    principal: Principal

    @property
    def account(self) -> str:
        return self.instance.account


@raises("not_found")
async def _instance(
    request: Request, instance_id: Annotated[str, Path(alias=INSTANCE_PARAM)]
) -> Instance:
    instance = instances_of(request.app.state).get(instance_id)
    if instance is None:
        raise NotFound("no httptrading instance has this id", {"field": INSTANCE_PARAM})
    return instance


def _principal(request: Request, instance: Instance) -> Principal:
    token = request.headers.get(TOKEN_HEADER)
    if token is not None:
        if not instance.accepts(token):
            raise Unauthorized(f"the {TOKEN_HEADER} header is not a token of this instance")
        return instance.principal
    if request.headers.get("authorization") or request.headers.get("x-api-key"):
        return principal_of(request)
    raise Unauthorized(f"send a token of this instance in the {TOKEN_HEADER} header")


def _allowed(scope: Scope) -> object:
    @raises("unauthorized", "forbidden")
    async def dependency(
        request: Request,
        instance: Annotated[Instance, Depends(_instance)],
        _token: Annotated[object, Depends(INSTANCE_TOKEN)],
        _credentials: Annotated[None, Credentials],
    ) -> Access:
        principal = _principal(request, instance)
        principal.require(scope, instance.account)
        return Access(instance, principal)

    return Depends(dependency)


Reading = Annotated[Access, _allowed(Scope.READ)]
Trading = Annotated[Access, _allowed(Scope.TRADE)]
