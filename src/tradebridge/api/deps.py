"""Request dependencies as `Annotated` aliases: the caller, the engine, the users store."""

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, TypeVar

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPBearer, OAuth2PasswordBearer
from sqlalchemy import Engine

from tradebridge.api.caller import principal_of
from tradebridge.api.engine_client import EngineClient
from tradebridge.api.login_throttle import LoginThrottle
from tradebridge.api.openapi import raises
from tradebridge.api.password_checks import PasswordChecks, PasswordChecksBusy
from tradebridge.api.security import (
    API_KEY_PREFIX,
    ROLE_SCOPES,
    Principal,
    Role,
    Scope,
    TokenIssuer,
    api_key_hash,
    dummy_password_hash,
    password_fingerprint,
    verify_password,
)
from tradebridge.config import ServerSettings, Settings
from tradebridge.domain.errors import RateLimited, Unauthorized
from tradebridge.store import users

CREDENTIAL_CACHE_SECONDS = 5.0
"""How long what the database says about an API key or a user is trusted without asking it
again: a key revoked, a password changed or a user removed (through the CLI, or another web
worker) stops working in every worker within this time."""
CREDENTIALS_KEPT = 10_000
"""Entries per cache; a full cache is emptied (unknown keys sent by a client cannot grow it
without bound)."""

HTTPTRADING_SCOPES = frozenset({Scope.READ, Scope.TRADE})

T = TypeVar("T")


def httptrading_tokens(settings: Settings) -> dict[str, str]:
    """Each `[[accounts]] httptrading_tokens` entry and the account it opens."""
    return {token: a.id for a in settings.accounts for token in a.httptrading_tokens}


@dataclass(frozen=True, slots=True)
class _UserState:
    role: Role
    password: str
    """`password_fingerprint` of the current password."""


class Authenticator:
    """Turns the credentials of a request into a `Principal`, and passwords into tokens.

    Accepted: a login token (JWT) or an API key as `Authorization: Bearer`, an API key as
    `X-API-Key`. The httptrading tokens of an account are keys bound to it with the scopes
    read and trade.
    """

    def __init__(
        self,
        tokens: TokenIssuer,
        db: Engine,
        httptrading: Mapping[str, str] | None = None,
        password_checks: PasswordChecks | None = None,
    ) -> None:
        """`password_checks`: by default as many as `[server]`'s defaults allow."""
        self.tokens = tokens
        self.login_throttle = LoginThrottle()
        if password_checks is None:
            defaults = ServerSettings()
            password_checks = PasswordChecks(defaults.login_concurrency, defaults.login_queue)
        self._password_checks = password_checks
        self.db = db
        self._httptrading = {
            api_key_hash(token): account for token, account in (httptrading or {}).items()
        }
        self._keys: dict[str, tuple[float, Principal | None]] = {}
        self._users: dict[str, tuple[float, _UserState | None]] = {}

    # ------------------------------------------------------------------ requests

    def authenticate(self, request: Request, *, query_token: bool = False) -> Principal:
        """`query_token`: a `?token=` query parameter (an API key or a login token) is
        accepted too, after the headers (the xtquant dialect, whose scripts put everything
        in the URL)."""
        header = request.headers.get("authorization")
        if header:
            scheme, _, credential = header.partition(" ")
            if scheme.lower() != "bearer" or not credential.strip():
                raise Unauthorized("use 'Authorization: Bearer <token or API key>'")
            return self._credential(credential.strip())
        key = request.headers.get("x-api-key")
        if key and key.strip():
            return self.api_key(key.strip())
        token = request.query_params.get("token") if query_token else None
        if token and token.strip():
            return self._credential(token.strip())
        wanted = (
            "an X-API-Key header or a ?token=" if query_token else "a Bearer token or an X-API-Key"
        )
        raise Unauthorized(f"authentication required: send {wanted}")

    def api_key(self, key: str) -> Principal:
        """The caller an API key (or an httptrading token) names."""
        digest = api_key_hash(key)
        account = self._httptrading.get(digest)
        if account is not None:
            name = f"httptrading:{account}"
            return Principal(name, HTTPTRADING_SCOPES, account=account, key_id=name)
        principal = self._cached(self._keys, digest, self._lookup_key)
        if principal is None:
            raise Unauthorized("invalid or revoked API key")
        return principal

    def forget_key(self, key_id: str) -> None:
        """Stop trusting a key this worker remembers (it was just revoked here)."""
        for digest, (_, principal) in list(self._keys.items()):
            if principal is not None and principal.key_id == key_id:
                del self._keys[digest]

    def _credential(self, credential: str) -> Principal:
        if credential.startswith(API_KEY_PREFIX) or (
            self._httptrading and api_key_hash(credential) in self._httptrading
        ):
            return self.api_key(credential)
        claims = self.tokens.verify(credential)
        user = self._cached(self._users, claims.username, self._lookup_user)
        if user is None or user.password != claims.password:
            raise Unauthorized("the token's user was removed or changed password; log in again")
        return Principal(username=claims.username, scopes=ROLE_SCOPES[user.role])

    @staticmethod
    def _cached(
        cache: dict[str, tuple[float, T | None]], key: str, lookup: Callable[[str], T | None]
    ) -> T | None:
        now = time.monotonic()
        entry = cache.get(key)
        if entry is None or now - entry[0] > CREDENTIAL_CACHE_SECONDS:
            if len(cache) >= CREDENTIALS_KEPT:
                cache.clear()
            entry = (now, lookup(key))
            cache[key] = entry
        return entry[1]

    def _lookup_key(self, digest: str) -> Principal | None:
        with self.db.connect() as conn:
            record = users.find_api_key(conn, digest)
        if record is None:
            return None
        allowed = ROLE_SCOPES[Role(record.role)]
        scopes = frozenset(Scope(s) for s in record.scopes if s in Scope._value2member_map_)
        return Principal(
            username=record.username,
            scopes=scopes & allowed,
            account=record.account,
            key_id=record.id,
        )

    def _lookup_user(self, username: str) -> _UserState | None:
        with self.db.connect() as conn:
            record = users.get_user(conn, username)
        if record is None:
            return None
        return _UserState(Role(record.role), password_fingerprint(record.password_hash))

    # ------------------------------------------------------------------ logins

    async def log_in(self, username: str, password: str, client: str) -> str:
        """A token for a user whose password is right.

        Raises `RateLimited` (`details.retry_after`: seconds) while failed logins for this
        username or from this client are over the limits of `login_throttle`, or while as
        many password checks as allowed are running and waiting; and `Unauthorized` for a
        wrong username or password (both take the same time).
        """
        wait = self.login_throttle.admit(username, client)
        if wait is not None:
            raise RateLimited(
                f"too many failed logins; try again in {wait} s", {"retry_after": wait}
            )
        try:
            record = await self._password_checks.run(
                lambda: self._check_password(username, password)
            )
        except PasswordChecksBusy:
            self.login_throttle.finish(username, client, succeeded=None)
            raise RateLimited(
                "too many logins at once; try again in 1 s", {"retry_after": 1}
            ) from None
        except BaseException:
            self.login_throttle.finish(username, client, succeeded=None)
            raise
        self.login_throttle.finish(username, client, succeeded=record is not None)
        if record is None:
            raise Unauthorized("wrong username or password")
        self._users.pop(username, None)  # a password changed a moment ago is seen at once
        return self.tokens.issue(record.username, Role(record.role), record.password_hash)

    def _check_password(self, username: str, password: str) -> users.UserRecord | None:
        with self.db.connect() as conn:
            record = users.get_user(conn, username)
        if record is None:
            verify_password(dummy_password_hash(), password)
            return None
        return record if verify_password(record.password_hash, password) else None


LOGIN_PATH = "/api/v1/auth/token"

# The credentials the API takes, declared for the OpenAPI document (and so for the
# "Authorize" button of /docs). They refuse nothing: `Authenticator.authenticate` reads the
# headers and answers 401 itself, in our error shape.
BEARER = HTTPBearer(
    scheme_name="bearer",
    description="A login token (`POST /api/v1/auth/token`) or an API key (`tbk_...`).",
    auto_error=False,
)
API_KEY = APIKeyHeader(
    name="X-API-Key",
    scheme_name="apiKey",
    description="An API key (`tradebridge key create` or `POST /api/v1/keys`).",
    auto_error=False,
)
PASSWORD = OAuth2PasswordBearer(
    tokenUrl=LOGIN_PATH,
    scheme_name="login",
    description="A username and password, exchanged for a token at `/api/v1/auth/token`.",
    auto_error=False,
)


async def _credentials(
    _bearer: Annotated[object, Depends(BEARER)],
    _key: Annotated[object, Depends(API_KEY)],
    _login: Annotated[object, Depends(PASSWORD)],
) -> None:
    """The credential schemes of every authenticated route (for the document only)."""


Credentials = Depends(_credentials)


# Dependencies are `async def` so FastAPI runs them on the loop, not in a thread pool.


@raises("engine_unavailable", "broker_unavailable", "timeout")
async def _engine(request: Request) -> EngineClient:
    engine: EngineClient = request.app.state.engine
    return engine


async def _authenticator(request: Request) -> Authenticator:
    authenticator: Authenticator = request.app.state.authenticator
    return authenticator


@raises("unauthorized")
async def _principal(request: Request, _: Annotated[None, Credentials]) -> Principal:
    return principal_of(request)


def _scoped(scope: Scope) -> object:
    """The caller, if they have `scope`; on a route with an `{account}` in its path, also if
    they may act on that account (a key bound to another one may not). Checked here only:
    route bodies do not check again."""

    @raises("forbidden")
    async def dependency(
        request: Request, principal: Annotated[Principal, Depends(_principal)]
    ) -> Principal:
        principal.require(scope, request.path_params.get("account"))
        return principal

    return Depends(dependency)


AuthenticatorDep = Annotated[Authenticator, Depends(_authenticator)]
EngineDep = Annotated[EngineClient, Depends(_engine)]
Reader = Annotated[Principal, _scoped(Scope.READ)]
Trader = Annotated[Principal, _scoped(Scope.TRADE)]
Admin = Annotated[Principal, _scoped(Scope.ADMIN)]
