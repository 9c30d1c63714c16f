"""What the dialects tell the layers in front of every route about their paths: where orders
are placed (the account's order rate limit counts them), which `GET`s change something (the
audit log records them, as it does every `POST`, `PUT` and `DELETE`), and where a `?token=`
query parameter is a credential (the caller of the rate limits and the audit log).

Each is kept in the app's state by `install` of the dialect; the middlewares read it per
request.
"""

from fastapi import FastAPI
from starlette.types import Scope

_ORDER_PATHS = "order_paths"
_CHANGING_GETS = "changing_gets"
_QUERY_TOKEN_PREFIXES = "query_token_prefixes"


def count_orders(app: FastAPI, method: str, path: str, account: str) -> None:
    """`method path` places orders on `account`."""
    paths: dict[tuple[str, str], str] = getattr(app.state, _ORDER_PATHS, {})
    setattr(app.state, _ORDER_PATHS, {**paths, (method, path): account})


def order_account(scope: Scope) -> str | None:
    """The account a dialect's request places an order on, if it does."""
    paths: dict[tuple[str, str], str] = getattr(scope["app"].state, _ORDER_PATHS, {})
    return paths.get((scope["method"], scope["path"]))


def audit_gets(app: FastAPI, *paths: str) -> None:
    """`GET` on each of `paths` places or cancels an order (document 003's wrapper)."""
    known: frozenset[str] = getattr(app.state, _CHANGING_GETS, frozenset())
    setattr(app.state, _CHANGING_GETS, known | set(paths))


def changes_by_get(scope: Scope) -> bool:
    known: frozenset[str] = getattr(scope["app"].state, _CHANGING_GETS, frozenset())
    return scope["method"] == "GET" and scope["path"] in known


def accept_query_token(app: FastAPI, prefix: str) -> None:
    """Paths under `prefix` take their credential from `?token=` too."""
    known: tuple[str, ...] = getattr(app.state, _QUERY_TOKEN_PREFIXES, ())
    setattr(app.state, _QUERY_TOKEN_PREFIXES, (*known, prefix.rstrip("/") + "/"))


def takes_query_token(scope: Scope) -> bool:
    known: tuple[str, ...] = getattr(scope["app"].state, _QUERY_TOKEN_PREFIXES, ())
    path: str = scope["path"]
    return path.startswith(known)
