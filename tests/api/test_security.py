"""Tokens, passwords and keys, without a server."""

import os
import stat
import time
from pathlib import Path

import jwt
import pytest
from tests.api.auth_support import wait_until

from tradebridge.api.security import (
    Principal,
    Role,
    Scope,
    SigningSecret,
    TokenIssuer,
    api_key_hash,
    hash_password,
    load_or_create_secret,
    new_api_key,
    password_fingerprint,
    rotate_secret,
    verify_password,
)
from tradebridge.domain.errors import Forbidden, Unauthorized

SECRET = "s" * 64


def test_token_round_trip() -> None:
    issuer = TokenIssuer(SECRET, "HS256", 60)
    token = issuer.issue("ana", Role.TRADER, "$argon2id$hash")
    claims = issuer.verify(token)
    assert (claims.username, claims.role) == ("ana", Role.TRADER)
    assert claims.password == password_fingerprint("$argon2id$hash")
    assert claims.password != password_fingerprint("$argon2id$other")
    raw = jwt.decode(token, SECRET, algorithms=["HS256"])
    assert (raw["exp"] - raw["iat"], claims.expires_at) == (60, raw["exp"])
    assert issuer.verify(token) == claims  # cached path


def test_remembered_token_still_expires() -> None:
    issuer = TokenIssuer(SECRET, "HS256", 1)
    token = issuer.issue("ana", Role.ADMIN, "$argon2id$hash")
    assert issuer.verify(token).username == "ana"
    time.sleep(2.1)
    with pytest.raises(Unauthorized, match="expired"):
        issuer.verify(token)


VALID = {"sub": "ana", "role": "admin", "pwd": "0123456789abcdef", "iat": int(time.time())}
LATER = int(time.time()) + 600


def _without(claim: str) -> dict[str, object]:
    return {k: v for k, v in {**VALID, "exp": LATER}.items() if k != claim}


@pytest.mark.parametrize(
    "token",
    [
        jwt.encode({**VALID, "exp": LATER}, "o" * 64),
        jwt.encode({**VALID, "exp": LATER}, SECRET, algorithm="HS512"),
        jwt.encode(_without("role"), SECRET),
        jwt.encode({**VALID, "role": "god", "exp": LATER}, SECRET),
        jwt.encode(_without("exp"), SECRET),
        jwt.encode(_without("iat"), SECRET),
        jwt.encode(_without("pwd"), SECRET),
        jwt.encode({**VALID, "iat": LATER, "exp": LATER + 60}, SECRET),
        "not.a.token",
    ],
    ids=[
        "other-secret",
        "other-algorithm",
        "no-role",
        "unknown-role",
        "no-expiry",
        "no-issued-at",
        "no-password",
        "issued-in-the-future",
        "garbage",
    ],
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


def test_rotation_replaces_the_secret_and_its_tokens(tmp_path: Path) -> None:
    path = tmp_path / "data" / "jwt_secret"
    secret = SigningSecret.from_file(path)
    issuer = TokenIssuer(secret, "HS256", 60)
    token = issuer.issue("ana", Role.VIEWER, "$argon2id$hash")
    before = path.read_text()
    rotate_secret(path)
    assert path.read_text() != before
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["jwt_secret"]
    wait_until(lambda: secret.current() != before, "the new secret is read")
    assert secret.current() == path.read_text()
    with pytest.raises(Unauthorized):
        issuer.verify(token)
    assert issuer.verify(issuer.issue("ana", Role.VIEWER, "$argon2id$hash")).username == "ana"
