"""Request dependencies as `Annotated` aliases: the caller, the engine, the users store."""

import time
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import Engine

from tradebridge.api.engine_client import EngineClient
from tradebridge.api.security import (
    ROLE_SCOPES,
    Principal,
    Role,
    Scope,
    TokenIssuer,
    api_key_hash,
)
from tradebridge.domain.errors import Unauthorized
from tradebridge.store import users

API_KEY_CACHE_SECONDS = 5.0
"""How long a looked-up API key is trusted without asking the database again."""


class Authenticator:
    """Turns the credentials of a request into a `Principal`."""

    def __init__(self, tokens: TokenIssuer, db: Engine) -> None:
        self.tokens = tokens
        self._db = db
        self._key_cache: dict[str, tuple[float, Principal | None]] = {}

    def authenticate(self, request: Request) -> Principal:
        header = request.headers.get("authorization")
        if header:
            scheme, _, credential = header.partition(" ")
            if scheme.lower() != "bearer" or not credential:
                raise Unauthorized("use 'Authorization: Bearer <token or API key>'")
            return self._credential(credential.strip())
        key = request.headers.get("x-api-key")
        if key:
            return self._api_key(key.strip())
        raise Unauthorized("authentication required: send a Bearer token or an X-API-Key")

    def _credential(self, credential: str) -> Principal:
        if credential.startswith("tbk_"):
            return self._api_key(credential)
        return self.tokens.verify(credential)

    def _api_key(self, key: str) -> Principal:
        digest = api_key_hash(key)
        now = time.monotonic()
        cached = self._key_cache.get(digest)
        if cached is None or now - cached[0] > API_KEY_CACHE_SECONDS:
            cached = (now, self._lookup(digest))
            self._key_cache[digest] = cached
        if cached[1] is None:
            raise Unauthorized("invalid or revoked API key")
        return cached[1]

    def _lookup(self, digest: str) -> Principal | None:
        with self._db.connect() as conn:
            record = users.find_api_key(conn, digest)
        if record is None:
            return None
        allowed = ROLE_SCOPES[Role(record.role)]
        scopes = frozenset(Scope(s) for s in record.scopes if s in Scope._value2member_map_)
        return Principal(username=record.username, scopes=scopes & allowed, account=record.account)


# Dependencies are `async def` so FastAPI runs them on the loop, not in a thread pool.


async def _engine(request: Request) -> EngineClient:
    engine: EngineClient = request.app.state.engine
    return engine


async def _principal(request: Request) -> Principal:
    authenticator: Authenticator = request.app.state.authenticator
    return authenticator.authenticate(request)


def _scoped(scope: Scope) -> object:
    async def dependency(principal: Annotated[Principal, Depends(_principal)]) -> Principal:
        principal.require(scope)
        return principal

    return Depends(dependency)


EngineDep = Annotated[EngineClient, Depends(_engine)]
Reader = Annotated[Principal, _scoped(Scope.READ)]
Trader = Annotated[Principal, _scoped(Scope.TRADE)]
Admin = Annotated[Principal, _scoped(Scope.ADMIN)]
