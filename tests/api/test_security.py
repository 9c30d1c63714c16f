"""Tokens, passwords and keys, without a server."""

import os
import stat
import time
from pathlib import Path

import jwt
import pytest

from tradebridge.api.security import (
    Principal,
    Role,
    Scope,
    TokenIssuer,
    api_key_hash,
    hash_password,
    load_or_create_secret,
    new_api_key,
    verify_password,
)
from tradebridge.domain.errors import Forbidden, Unauthorized

SECRET = "s" * 64


def test_token_round_trip_and_role_scopes() -> None:
    issuer = TokenIssuer(SECRET, "HS256", 60)
    principal = issuer.verify(issuer.issue("ana", Role.TRADER))
    assert principal == Principal(username="ana", scopes=frozenset({Scope.READ, Scope.TRADE}))
    assert issuer.verify(issuer.issue("ana", Role.TRADER)) == principal  # cached path


def test_remembered_token_still_expires() -> None:
    issuer = TokenIssuer(SECRET, "HS256", 1)
    token = issuer.issue("ana", Role.ADMIN)
    assert issuer.verify(token).username == "ana"
    time.sleep(2.1)
    with pytest.raises(Unauthorized, match="expired"):
        issuer.verify(token)


@pytest.mark.parametrize(
    "token",
    [
        jwt.encode({"sub": "ana", "role": "admin", "exp": int(time.time()) + 60}, "o" * 64),
        jwt.encode(
            {"sub": "ana", "role": "admin", "exp": int(time.time()) + 60}, SECRET, algorithm="HS512"
        ),
        jwt.encode({"sub": "ana", "exp": int(time.time()) + 60}, SECRET),
        jwt.encode({"sub": "ana", "role": "god", "exp": int(time.time()) + 60}, SECRET),
        jwt.encode({"sub": "ana", "role": "admin"}, SECRET),
        "not.a.token",
    ],
    ids=["other-secret", "other-algorithm", "no-role", "unknown-role", "no-expiry", "garbage"],
)
def test_forged_or_incomplete_tokens_are_refused(token: str) -> None:
    with pytest.raises(Unauthorized):
        TokenIssuer(SECRET, "HS256", 60).verify(token)


def test_passwords_hash_with_argon2() -> None:
    hashed = hash_password("correct horse")
    assert hashed.startswith("$argon2")
    assert verify_password(hashed, "correct horse")
    assert not verify_password(hashed, "wrong horse")
    assert not verify_password("not-a-hash", "correct horse")


def test_api_keys_are_random_and_stored_as_hashes() -> None:
    first, second = new_api_key(), new_api_key()
    assert first != second
    assert first.startswith("tbk_")
    assert len(api_key_hash(first)) == 64
    assert first not in api_key_hash(first)


def test_scope_and_account_binding() -> None:
    bound = Principal(username="k", scopes=frozenset({Scope.READ}), account="paper")
    bound.require(Scope.READ, "paper")
    with pytest.raises(Forbidden):
        bound.require(Scope.TRADE, "paper")
    with pytest.raises(Forbidden):
        bound.require(Scope.READ, "other")


def test_secret_file_is_created_once_with_mode_0600(tmp_path: Path) -> None:
    path = tmp_path / "data" / "jwt_secret"
    secret = load_or_create_secret(path)
    assert len(secret) >= 48
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert load_or_create_secret(path) == secret
    assert [p.name for p in path.parent.iterdir()] == ["jwt_secret"]
