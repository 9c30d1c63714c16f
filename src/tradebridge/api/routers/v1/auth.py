import json
from typing import Any

from fastapi import APIRouter, Request
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from tradebridge.api.encoding import json_response
from tradebridge.api.schemas import LoginBody
from tradebridge.api.security import Role, dummy_password_hash, verify_password
from tradebridge.domain.errors import BadRequest, Unauthorized, ValidationFailed
from tradebridge.store import users

router = APIRouter(tags=["auth"])

_LOGIN_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/x-www-form-urlencoded": {"schema": LoginBody.model_json_schema()},
            "application/json": {"schema": LoginBody.model_json_schema()},
        },
    }
}


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
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "body"
        raise ValidationFailed(f"{field}: {first['msg']}", {"field": field}) from None


@router.post("/auth/token", summary="Log in; returns a bearer token", openapi_extra=_LOGIN_BODY)
async def token(request: Request) -> Response:
    login = await _read_login(request)
    db = request.app.state.db

    def check() -> Role | None:
        with db.connect() as conn:
            user = users.get_user(conn, login.username)
        if user is None:
            verify_password(dummy_password_hash(), login.password)
            return None
        return Role(user.role) if verify_password(user.password_hash, login.password) else None

    role = await run_in_threadpool(check)
    if role is None:
        raise Unauthorized("wrong username or password")
    issuer = request.app.state.authenticator.tokens
    return json_response(
        {
            "access_token": issuer.issue(login.username, role),
            "token_type": "bearer",
            "expires_in": issuer.ttl_seconds,
        }
    )
