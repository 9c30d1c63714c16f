import json
from typing import Any, Literal

import msgspec
from fastapi import APIRouter, Request
from pydantic import ValidationError
from starlette.responses import Response

from tradebridge.api.deps import AuthenticatorDep
from tradebridge.api.encoding import json_response
from tradebridge.api.openapi import raises, returns
from tradebridge.api.schemas import LoginBody
from tradebridge.domain.errors import BadRequest, ValidationFailed

router = APIRouter(tags=["auth"])

_EXAMPLE = {"username": "admin", "password": "the password printed on first run"}
_LOGIN_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            media: {"schema": LoginBody.model_json_schema(), "example": _EXAMPLE}
            for media in ("application/x-www-form-urlencoded", "application/json")
        },
    }
}


class TokenAnswer(msgspec.Struct, frozen=True, kw_only=True):
    access_token: str
    """Send it as `Authorization: Bearer <access_token>`."""
    token_type: Literal["bearer"]
    expires_in: int
    """Seconds the token is valid for (`[auth] token_ttl_seconds`)."""


async def _read_login(request: Request) -> LoginBody:
    content_type = request.headers.get("content-type", "")
    raw: Any
    if content_type.startswith("application/json"):
        try:
            raw = json.loads(await request.body())
        except ValueError:
            raise BadRequest("the request body is not valid JSON") from None
    elif content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()
        raw = {k: v for k, v in form.items() if k in ("username", "password")}
    else:
        raise BadRequest("send username and password as a form or as JSON")
    try:
        return LoginBody.model_validate(raw)
    except ValidationError as exc:
        errors = [
            {"field": ".".join(str(p) for p in e["loc"]) or "body", "message": e["msg"]}
            for e in exc.errors()
        ]
        first = errors[0]
        raise ValidationFailed(
            f"{first['field']}: {first['message']}", {"field": first["field"], "errors": errors}
        ) from None


@router.post(
    "/auth/token",
    summary="Log in; returns a bearer token",
    openapi_extra=_LOGIN_BODY,
    responses=returns(TokenAnswer),
)
@raises("unauthorized", "rate_limited")
async def token(request: Request, authenticator: AuthenticatorDep) -> Response:
    """Failed logins are throttled per username and per client address (429 `rate_limited`
    with `Retry-After`); see docs/README.md, "Security notes"."""
    login = await _read_login(request)
    client = request.client.host if request.client else "unknown"
    access_token = await authenticator.log_in(login.username, login.password, client)
    return json_response(
        TokenAnswer(
            access_token=access_token,
            token_type="bearer",
            expires_in=authenticator.tokens.ttl_seconds,
        )
    )
