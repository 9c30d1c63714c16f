"""What the audit log says about a request: every login attempt and every mutating request,
whatever its result (401, 403, 422 and 429 included).

The action is built from a few named, harmless fields of the request (symbol, side, quantity,
risk settings, the username of a login); a body is never stored, so passwords, keys and tokens
cannot reach the table.
"""

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from tradebridge.api.caller import Caller
from tradebridge.api.exchange import Exchange
from tradebridge.config import RiskSettings
from tradebridge.store.audit import AuditRecord

LOGIN_ROUTE = ("POST", "/api/v1/auth/token")
LOGIN_ROUTES = frozenset({LOGIN_ROUTE, ("POST", "/token")})
"""`/token`: the login of the vnpy WebTrader dialect (a form, as `/auth/token` takes)."""
_WORD_CHARS = 40
"""Longest value quoted in an action."""


def audit_record(exchange: Exchange) -> AuditRecord | None:
    """The row for `exchange`, or None when it is not audited (a read)."""
    if not exchange.mutating:
        return None
    key = (exchange.method, exchange.route or "")
    caller = exchange.caller or Caller(None, exchange.client_ip)
    principal = caller.principal
    auth: str | None
    if key in LOGIN_ROUTES:  # who tried, whatever credentials came along
        actor, role, auth, key_id = _login_username(exchange), None, "password", None
    else:
        actor = principal.username if principal else None
        role, auth = caller.role, caller.auth
        key_id = principal.key_id if principal else None
    describe = _ACTIONS.get(key)
    return AuditRecord(
        time=datetime.fromtimestamp(exchange.started_at, UTC),
        actor=actor,
        role=role,
        auth=auth,
        key_id=key_id,
        client_ip=exchange.client_ip,
        method=exchange.method,
        path=exchange.target,
        action=describe(exchange) if describe else _generic_action(exchange),
        account=_text(exchange.path_params.get("account")),
        target=_target(exchange),
        status=exchange.status,
        result=exchange.error_code or "ok",
        request_id=exchange.request_id,
    )


def _generic_action(exchange: Exchange) -> str:
    """The route's summary (`Create an API key` → `create an API key`), or its path."""
    summary = exchange.route_summary
    if summary:
        return summary[:1].lower() + summary[1:]
    return f"{exchange.method} {exchange.route or exchange.path}"


def _target(exchange: Exchange) -> str | None:
    """The order, key or other object acted on: from the path, the answer, or the error."""
    for name in ("order_id", "key_id"):
        value = exchange.path_params.get(name)
        if value is not None:
            return _text(value)
    if exchange.status < 400:
        return _text(exchange.answer_id)
    return _text(exchange.error_details.get("order_id"))


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _word(value: Any) -> str:
    """A scalar of a request body as it appears in an action; anything else as `?`."""
    if isinstance(value, bool) or value is None:
        return "null" if value is None else str(value).lower()
    if isinstance(value, str | int | float):
        return str(value)[:_WORD_CHARS]
    return "?"


def _fields(exchange: Exchange) -> Mapping[str, Any]:
    body = exchange.request_json()
    return body if isinstance(body, dict) else {}


def _login_username(exchange: Exchange) -> str | None:
    """The username tried (never the password), from a JSON or a form body."""
    body = exchange.request_json()
    if body is None and exchange.request_body:
        try:
            body = dict(parse_qsl(exchange.request_body.decode()))
        except (UnicodeDecodeError, ValueError):
            body = None
    username = body.get("username") if isinstance(body, dict) else None
    return username[:64] if isinstance(username, str) else None


def _place_order(exchange: Exchange) -> str:
    body = _fields(exchange)
    if not body:
        return "place order"
    words = [_word(body.get(name)) for name in ("symbol", "side", "qty")]
    price = body.get("limit_price")
    words.append(f"@ {_word(price)}" if price is not None else _word(body.get("type", "limit")))
    return "place order " + " ".join(words)


def _set_risk(exchange: Exchange) -> str:
    body = _fields(exchange)
    changes = [f"{k}={_word(v)}" for k, v in body.items() if k in RiskSettings.model_fields]
    return " ".join(["set risk", *changes])


def _set_quote(exchange: Exchange) -> str:
    body = _fields(exchange)
    return f"set quote {_word(body.get('symbol'))} last {_word(body.get('last'))}"


def _move_clock(exchange: Exchange) -> str:
    body = _fields(exchange)
    if body.get("advance") is not None:
        return f"advance clock to {_word(body['advance'])}"
    return f"move clock to {_word(body.get('to'))}"


def _create_key(exchange: Exchange) -> str:
    body = _fields(exchange)
    scopes = body.get("scopes")
    words = ["create API key"]
    if isinstance(scopes, list):
        words.append("scopes=" + ",".join(_word(s) for s in scopes))
    words += [f"{name}={_word(body[name])}" for name in ("account", "user") if body.get(name)]
    return " ".join(words)


def _fixed(action: str) -> Callable[[Exchange], str]:
    return lambda exchange: action


_ACTIONS: dict[tuple[str, str], Callable[[Exchange], str]] = {
    **dict.fromkeys(LOGIN_ROUTES, _fixed("login")),
    ("POST", "/api/v1/accounts/{account}/orders"): _place_order,
    ("DELETE", "/api/v1/accounts/{account}/orders/{order_id}"): _fixed("cancel order"),
    ("DELETE", "/api/v1/accounts/{account}/orders"): _fixed("cancel all open orders"),
    ("PUT", "/api/v1/accounts/{account}/risk"): _set_risk,
    ("POST", "/api/v1/paper/{account}/quotes"): _set_quote,
    ("POST", "/api/v1/paper/{account}/clock"): _move_clock,
    ("POST", "/api/v1/paper/{account}/reset"): _fixed("reset paper account"),
    ("POST", "/api/v1/keys"): _create_key,
    ("DELETE", "/api/v1/keys/{key_id}"): _fixed("revoke API key"),
}
"""Actions of the routes that have more to say than their summary, by method and path."""
