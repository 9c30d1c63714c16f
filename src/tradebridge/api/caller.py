"""Who sent a request, found once per request: for the rate limits, the audit log, the
access log and the routes' own dependencies (`principal_of`).

The answer is kept in the request's state, so everything that needs it shares one look-up;
the authenticator's caches make it cheap.
"""

from dataclasses import dataclass

from starlette.requests import Request
from starlette.types import Scope

from tradebridge.api.compat.paths import takes_query_token
from tradebridge.api.security import Principal
from tradebridge.api.security import Scope as AuthScope
from tradebridge.domain.errors import TradebridgeError
from tradebridge.store.failures import DATABASE_ERRORS

_STATE_KEY = "tradebridge_caller"


@dataclass(frozen=True, slots=True)
class Caller:
    principal: Principal | None
    """None when the request carries no valid credentials."""
    client_ip: str | None

    @property
    def rate_key(self) -> str:
        """What the per-caller rate limit counts: the API key, else the user, else the
        client address."""
        if self.principal is None:
            return f"ip:{self.client_ip}"
        if self.principal.key_id is not None:
            return f"key:{self.principal.key_id}"
        return f"user:{self.principal.username}"

    @property
    def role(self) -> str | None:
        """The role the caller's scopes amount to (a key may have fewer than its user)."""
        if self.principal is None:
            return None
        for scope, role in _ROLE_BY_SCOPE:
            if scope in self.principal.scopes:
                return role
        return None

    @property
    def auth(self) -> str | None:
        """`api_key`, `token` (a login token), or None (no valid credentials)."""
        if self.principal is None:
            return None
        return "api_key" if self.principal.key_id is not None else "token"


_ROLE_BY_SCOPE = (
    (AuthScope.ADMIN, "admin"),
    (AuthScope.TRADE, "trader"),
    (AuthScope.READ, "viewer"),
)


def caller_of(scope: Scope) -> Caller:
    """The caller of the HTTP request `scope`, looked up on first use."""
    state = scope.setdefault("state", {})
    known: Caller | None = state.get(_STATE_KEY)
    if known is None:
        known = Caller(_principal(scope), scope["client"][0] if scope.get("client") else None)
        state[_STATE_KEY] = known
    return known


def principal_of(request: Request) -> Principal:
    """The caller of `request` as its route's dependency needs it: the principal `caller_of`
    found, else a fresh attempt that raises why there is none (no credentials, bad ones, the
    database away). Not for the httptrading dialect's `HT-TOKEN`, which its routes check
    against their own instance."""
    principal = caller_of(request.scope).principal
    if principal is not None:
        return principal
    authenticator = request.app.state.authenticator
    found: Principal = authenticator.authenticate(request)
    return found


def _principal(scope: Scope) -> Principal | None:
    authenticator = getattr(scope["app"].state, "authenticator", None)
    if authenticator is None:  # the database is not open yet
        return None
    headers = dict(scope["headers"])
    # The httptrading dialect's token header, which decides alone there when sent.
    token = headers.get(b"ht-token") if scope["path"].startswith("/httptrading/") else None
    query_token = takes_query_token(scope)  # the xtquant dialect's `?token=`
    if (
        b"authorization" not in headers
        and b"x-api-key" not in headers
        and token is None
        and not (query_token and b"token=" in scope.get("query_string", b""))
    ):
        return None
    try:
        principal: Principal = (
            authenticator.authenticate(Request(scope), query_token=query_token)
            if token is None
            else authenticator.api_key(token.decode("latin-1"))
        )
    except TradebridgeError:
        return None
    except DATABASE_ERRORS:  # the route answers with its own error
        return None
    return principal
