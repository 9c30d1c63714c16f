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
from tradebridge.ids import IdGenerator

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
    """Who is calling and what they may do. `account` binds an API key to one account;
    `key_id` names the API key used (None for a login token)."""

    username: str
    scopes: frozenset[Scope]
    account: str | None = None
    key_id: str | None = None

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


KEY_PREFIX_LENGTH = 12
"""Characters of a key kept in clear (`tbk_` and 8 random ones), to tell keys apart in lists."""


def api_key_hash(key: str) -> str:
    """Keys carry 256 random bits, so a fast hash is enough (no brute force is possible)."""
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class MintedKey:
    """A new API key: `key` is shown once to its owner; the rest is what is stored."""

    key: str
    id: str
    digest: str
    prefix: str


def mint_api_key() -> MintedKey:
    key = new_api_key()
    return MintedKey(
        key=key,
        id=IdGenerator().new_id(),
        digest=api_key_hash(key),
        prefix=key[:KEY_PREFIX_LENGTH],
    )


def password_fingerprint(password_hash: str) -> str:
    """A short digest of a user's stored password hash, carried in their tokens.

    The argon2 hash changes with every new password (new salt), so a token whose fingerprint
    no longer matches was issued before the password changed and is refused. The digest
    reveals nothing usable about the password.
    """
    return hashlib.sha256(password_hash.encode()).hexdigest()[:16]


# --------------------------------------------------------------------------- signing secret

SECRET_FILE_NAME = "jwt_secret"
SECRET_CHECK_SECONDS = 1.0
"""A secret read from a file is looked at again at most this often, to notice a rotation."""


def load_or_create_secret(path: Path) -> str:
    """The JWT signing secret kept in the data dir, created with mode 0600 on first use.

    Written to a private temporary file and hard-linked into place, so a process starting at
    the same moment never reads a half-written secret.
    """
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = _write_private(path, secrets.token_urlsafe(48))
    try:
        os.link(temporary, path)
    except FileExistsError:
        pass
    finally:
        temporary.unlink()
    return path.read_text().strip()


def rotate_secret(path: Path) -> None:
    """Replace the secret in `path` with a new random one (mode 0600), atomically.

    Every token signed with the old secret stops working once the web processes notice the
    new file (within `SECRET_CHECK_SECONDS`).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    os.replace(_write_private(path, secrets.token_urlsafe(48)), path)


def _write_private(path: Path, content: str) -> Path:
    """`content` in a new file beside `path` that only its owner can read."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(content)
        fh.flush()
        os.fsync(fh.fileno())
    return temporary


class SigningSecret:
    """The JWT signing secret: a fixed value (configured), or the content of a file.

    A file is looked at again at most once per `SECRET_CHECK_SECONDS`, and read again when it
    was replaced (`tradebridge secret rotate`), so every web worker moves to the new secret
    without a restart.
    """

    def __init__(self, value: str, path: Path | None = None) -> None:
        self._value = value
        self._path = path
        self._stamp = _file_stamp(path) if path is not None else None
        self._checked_at = time.monotonic()

    @classmethod
    def from_file(cls, path: Path) -> "SigningSecret":
        """The secret in `path`, created there on first use."""
        return cls(load_or_create_secret(path), path)

    def current(self) -> str:
        if self._path is None:
            return self._value
        now = time.monotonic()
        if now - self._checked_at >= SECRET_CHECK_SECONDS:
            self._checked_at = now
            stamp = _file_stamp(self._path)
            if stamp is not None and stamp != self._stamp:
                value = _read_or_none(self._path)
                if value:
                    self._value, self._stamp = value, stamp
        return self._value


def _file_stamp(path: Path) -> tuple[int, int, int] | None:
    """What changes when the file is replaced; None while it cannot be read (the secret in
    memory is kept then)."""
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)


def _read_or_none(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


# --------------------------------------------------------------------------- tokens

VERIFIED_TOKENS_KEPT = 10_000


@dataclass(frozen=True, slots=True)
class TokenClaims:
    """What a valid token says; whether its user still exists and still has the password
    it names is for the caller to check (`Authenticator`)."""

    username: str
    role: Role
    password: str
    """`password_fingerprint` of the password the token was issued against."""
    expires_at: float


class TokenIssuer:
    """Issues and verifies JWTs signed with one algorithm (no other is accepted, `none`
    included) and a secret that may be rotated while running."""

    def __init__(self, secret: SigningSecret | str, algorithm: str, ttl_seconds: int) -> None:
        self._secret = secret if isinstance(secret, SigningSecret) else SigningSecret(secret)
        self._algorithm = algorithm
        self.ttl_seconds = ttl_seconds
        self._verified: dict[str, TokenClaims] = {}
        self._verified_with = self._secret.current()

    def issue(self, username: str, role: Role, password_hash: str) -> str:
        now = datetime.now(UTC)
        claims = {
            "sub": username,
            "role": role.value,
            "pwd": password_fingerprint(password_hash),
            "iat": now,
            "exp": now + timedelta(seconds=self.ttl_seconds),
        }
        return jwt.encode(claims, self._secret.current(), algorithm=self._algorithm)

    def verify(self, token: str) -> TokenClaims:
        """The claims of a valid, unexpired token. Verified tokens are remembered until they
        expire or the secret changes, so a client sending the same token on every request
        pays for the signature check once."""
        secret = self._secret.current()
        if secret != self._verified_with:
            self._verified.clear()
            self._verified_with = secret
        cached = self._verified.get(token)
        if cached is not None and cached.expires_at > time.time():
            return cached
        claims = self._decode(token, secret)
        if len(self._verified) >= VERIFIED_TOKENS_KEPT:
            self._verified.clear()
        self._verified[token] = claims
        return claims

    def _decode(self, token: str, secret: str) -> TokenClaims:
        try:
            claims = jwt.decode(
                token,
                secret,
                algorithms=[self._algorithm],
                options={"require": ["sub", "role", "pwd", "iat", "exp"]},
            )
            return TokenClaims(
                username=str(claims["sub"]),
                role=Role(claims["role"]),
                password=str(claims["pwd"]),
                expires_at=float(claims["exp"]),
            )
        except jwt.ExpiredSignatureError:
            raise Unauthorized("the token has expired; log in again") from None
        except (jwt.InvalidTokenError, ValueError, TypeError):
            raise Unauthorized("invalid token") from None
