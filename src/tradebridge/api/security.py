"""Passwords, tokens and API keys: hashing and verification, no storage."""

import functools
import hashlib
import os
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from tradebridge.domain.errors import Forbidden, Unauthorized

API_KEY_PREFIX = "tbk_"


class Role(StrEnum):
    VIEWER = "viewer"
    TRADER = "trader"
    ADMIN = "admin"


class Scope(StrEnum):
    READ = "read"
    TRADE = "trade"
    ADMIN = "admin"


ROLE_SCOPES: dict[Role, frozenset[Scope]] = {
    Role.VIEWER: frozenset({Scope.READ}),
    Role.TRADER: frozenset({Scope.READ, Scope.TRADE}),
    Role.ADMIN: frozenset({Scope.READ, Scope.TRADE, Scope.ADMIN}),
}


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling and what they may do. `account` binds an API key to one account."""

    username: str
    scopes: frozenset[Scope]
    account: str | None = None

    def require(self, scope: Scope, account: str | None = None) -> None:
        if scope not in self.scopes:
            raise Forbidden(f"this needs the {scope.value!r} scope", {"scope": scope.value})
        if account is not None and self.account is not None and account != self.account:
            raise Forbidden(f"this key is bound to account {self.account!r}", {"account": account})


_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@functools.cache
def dummy_password_hash() -> str:
    """Verified against when the user does not exist, so both cases take the same time."""
    return hash_password(secrets.token_urlsafe(16))


def new_api_key() -> str:
    return API_KEY_PREFIX + secrets.token_urlsafe(32)


def api_key_hash(key: str) -> str:
    """Keys carry 256 random bits, so a fast hash is enough (no brute force is possible)."""
    return hashlib.sha256(key.encode()).hexdigest()


def load_or_create_secret(path: Path) -> str:
    """The JWT signing secret kept in the data dir, created with mode 0600 on first use.

    Written to a private temporary file and hard-linked into place, so a process starting at
    the same moment never reads a half-written secret.
    """
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(secrets.token_urlsafe(48))
    try:
        os.link(temporary, path)
    except FileExistsError:
        pass
    finally:
        temporary.unlink()
    return path.read_text().strip()


VERIFIED_TOKENS_KEPT = 10_000


class TokenIssuer:
    def __init__(self, secret: str, algorithm: str, ttl_seconds: int) -> None:
        self._secret = secret
        self._algorithm = algorithm
        self.ttl_seconds = ttl_seconds
        self._verified: dict[str, tuple[float, Principal]] = {}

    def issue(self, username: str, role: Role) -> str:
        now = datetime.now(UTC)
        claims = {
            "sub": username,
            "role": role.value,
            "iat": now,
            "exp": now + timedelta(seconds=self.ttl_seconds),
        }
        return jwt.encode(claims, self._secret, algorithm=self._algorithm)

    def verify(self, token: str) -> Principal:
        """The caller a token names. Verified tokens are remembered until they expire, so a
        client sending the same token on every request pays for the signature check once."""
        cached = self._verified.get(token)
        if cached is not None and cached[0] > time.time():
            return cached[1]
        principal, expires_at = self._decode(token)
        if len(self._verified) >= VERIFIED_TOKENS_KEPT:
            self._verified.clear()
        self._verified[token] = (expires_at, principal)
        return principal

    def _decode(self, token: str) -> tuple[Principal, float]:
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[self._algorithm],
                options={"require": ["sub", "exp", "role"]},
            )
            role = Role(claims["role"])
        except jwt.ExpiredSignatureError:
            raise Unauthorized("the token has expired; log in again") from None
        except (jwt.InvalidTokenError, ValueError):
            raise Unauthorized("invalid token") from None
        principal = Principal(username=str(claims["sub"]), scopes=ROLE_SCOPES[role])
        return principal, float(claims["exp"])
