"""CURVE encryption and authentication of the engine link (CurveZMQ, with a ZAP handler).

Keys live in ZeroMQ certificate files, as ``zmq.auth.create_certificates`` writes them:
``NAME.key`` holds a public key, ``NAME.key_secret`` the key pair (see :func:`create_key_pairs`).

Engine side, :class:`CurveServer`
    The ROUTER and PUB sockets are CURVE servers with the engine's secret key. Every client
    handshake is put to a ZAP handler (RFC 27, ``zmq.auth.ThreadAuthenticator`` on its own
    thread, so a busy engine loop never holds up a handshake) that admits only the public keys
    of the authorized list. A refused client gets nothing: ZeroMQ drops the connection during
    the handshake, before any message passes either way, and does not reconnect it. The
    sockets enforce their ZAP domain, so a handshake that finds no handler running is refused
    too rather than let through.

Web side, :class:`CurveClient`
    The DEALER and SUB sockets are CURVE clients with the web's key pair and the engine's
    public key.

Refusals are logged once per cause (an unknown key, a client without CURVE, a failed
handshake), never per attempt: a client with the wrong engine public key retries all the
time. Only public keys ever appear in a log line.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import zmq
import zmq.asyncio
from zmq.auth import create_certificates, load_certificate
from zmq.auth.thread import ThreadAuthenticator
from zmq.utils import z85

from tradebridge.rpc._sockets import SocketMonitor

__all__ = [
    "HANDSHAKE_FAILURES",
    "CurveClient",
    "CurveKeyError",
    "CurveServer",
    "GeneratedKeys",
    "KeyPair",
    "ServerAttachment",
    "create_key_pairs",
    "describe_handshake_failure",
    "load_authorized_keys",
    "load_key_pair",
    "load_public_key",
]

log = logging.getLogger(__name__)

ZAP_DOMAIN = b"tradebridge"
#: Socket monitor events that mean a peer's handshake failed.
HANDSHAKE_FAILURES = (
    zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL
    | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL
    | zmq.EVENT_HANDSHAKE_FAILED_AUTH
)
#: Distinct refused keys logged; beyond that (a peer trying random keys) they are not.
MAX_LOGGED_REFUSALS = 1000
_Z85_KEY_LENGTH = 40


class CurveKeyError(Exception):
    """A key file cannot be used; the message names the file and why."""


@dataclass(frozen=True, slots=True)
class KeyPair:
    """A CURVE key pair, both keys Z85-encoded (40 characters)."""

    public: bytes
    secret: bytes = field(repr=False)


def load_key_pair(path: Path) -> KeyPair:
    """The key pair of a secret certificate file (``NAME.key_secret``)."""
    public, secret = _read_certificate(path)
    if secret is None:
        raise CurveKeyError(f"{path} holds no secret key (the .key_secret file is needed)")
    return KeyPair(public, _checked_key(secret, path))


def load_public_key(path: Path) -> bytes:
    """The public key of a certificate file (``NAME.key``, or ``NAME.key_secret``)."""
    public, _ = _read_certificate(path)
    return public


def load_authorized_keys(directory: Path) -> frozenset[bytes]:
    """The public keys of the ``*.key`` certificate files in ``directory``; at least one."""
    if not directory.is_dir():
        raise CurveKeyError(f"{directory} is not a directory")
    keys = frozenset(load_public_key(path) for path in sorted(directory.glob("*.key")))
    if not keys:
        raise CurveKeyError(f"{directory} holds no public key files (*.key)")
    return keys


def _read_certificate(path: Path) -> tuple[bytes, bytes | None]:
    try:
        public, secret = load_certificate(path)
    except (OSError, ValueError) as exc:
        raise CurveKeyError(f"cannot read the key file {path}: {exc}") from None
    return _checked_key(public, path), secret


def _checked_key(key: bytes, path: Path) -> bytes:
    try:
        valid = len(key) == _Z85_KEY_LENGTH and len(z85.decode(key)) == 32
    except (ValueError, KeyError):
        valid = False
    if not valid:
        raise CurveKeyError(f"{path} holds a malformed key (want 40 Z85 characters)")
    return key


@dataclass(frozen=True, slots=True)
class GeneratedKeys:
    """The files :func:`create_key_pairs` wrote."""

    engine_public: Path
    engine_secret: Path
    web_public: Path
    web_secret: Path
    authorized_dir: Path
    """The engine's list of admitted clients, holding a copy of ``web_public``."""

    @classmethod
    def in_directory(cls, directory: Path) -> GeneratedKeys:
        """The file names :func:`create_key_pairs` uses in ``directory``."""
        return cls(
            engine_public=directory / "engine.key",
            engine_secret=directory / "engine.key_secret",
            web_public=directory / "web.key",
            web_secret=directory / "web.key_secret",
            authorized_dir=directory / "authorized",
        )


def create_key_pairs(directory: Path) -> GeneratedKeys:
    """Write a new engine key pair, a new web key pair and an ``authorized`` directory that
    admits that web key, into ``directory`` (created if needed).

    Secret files are created with mode 0600 (owner only) from the start, never readable by
    others even for a moment. Raises ``FileExistsError`` rather than replace existing keys:
    every web process configured with the old ones would be locked out.
    """
    keys = GeneratedKeys.in_directory(directory)
    authorized_web = keys.authorized_dir / keys.web_public.name
    for path in (keys.engine_public, keys.engine_secret, keys.web_public, keys.web_secret):
        if path.exists():
            raise FileExistsError(f"{path} already exists")
    if authorized_web.exists():
        raise FileExistsError(f"{authorized_web} already exists")
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    keys.authorized_dir.mkdir(mode=0o700, exist_ok=True)
    previous_umask = os.umask(0o077)
    try:
        create_certificates(directory, "engine")
        create_certificates(directory, "web")
    finally:
        os.umask(previous_umask)
    for public in (keys.engine_public, keys.web_public):
        public.chmod(0o644)  # public keys are meant to be copied and read
    shutil.copyfile(keys.web_public, authorized_web)
    authorized_web.chmod(0o644)
    return keys


def describe_handshake_failure(event: int, value: int) -> str:
    """What a ``HANDSHAKE_FAILURES`` monitor event says, in words."""
    if event == zmq.EVENT_HANDSHAKE_FAILED_AUTH:
        return f"the CURVE key was refused (ZAP status {value})"
    if value == zmq.PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH:
        return "one side uses CURVE and the other does not"
    if value == zmq.PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC:
        return "the CURVE handshake failed: the client expects another server public key"
    if event == zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL:
        return (
            "the handshake did not complete: the peer closed the connection, or the client "
            "expects another server public key"
        )
    return f"the handshake failed (ZMTP error {value:#x})"


@dataclass(frozen=True, slots=True)
class CurveClient:
    """The web's side of CURVE: its key pair and the engine's public key."""

    keys: KeyPair
    server_key: bytes

    def secure(self, sock: zmq.Socket[bytes]) -> None:
        """Make ``sock`` (not yet connected) a CURVE client."""
        sock.setsockopt(zmq.CURVE_SERVERKEY, self.server_key)
        sock.setsockopt(zmq.CURVE_PUBLICKEY, self.keys.public)
        sock.setsockopt(zmq.CURVE_SECRETKEY, self.keys.secret)


class CurveServer:
    """The engine's side of CURVE: its key pair and the client public keys it admits.

    One instance serves all the engine's sockets on one ZeroMQ context: the ZAP handler it
    runs is the context's only one, and runs while at least one socket is attached.
    """

    def __init__(self, keys: KeyPair, authorized: Iterable[bytes]) -> None:
        self.keys = keys
        self._gatekeeper = _Gatekeeper(frozenset(authorized))
        self._authenticator: ThreadAuthenticator | None = None
        self._context: zmq.asyncio.Context | None = None
        self._attached = 0

    def attach(
        self, context: zmq.asyncio.Context, sock: zmq.Socket[bytes], name: str
    ) -> ServerAttachment:
        """Make ``sock`` (not yet bound) a CURVE server behind the ZAP handler, and log its
        refused handshakes. Call ``detach()`` on the result after closing the socket."""
        self._acquire(context)
        try:
            sock.setsockopt(zmq.CURVE_SERVER, 1)
            sock.setsockopt(zmq.CURVE_SECRETKEY, self.keys.secret)
            sock.setsockopt(zmq.ZAP_DOMAIN, ZAP_DOMAIN)
            sock.setsockopt(zmq.ZAP_ENFORCE_DOMAIN, 1)  # no handler running: refuse, not admit
            monitor = SocketMonitor(
                context, sock, HANDSHAKE_FAILURES, _RefusalLog(name).on_event, f"{name} monitor"
            )
        except BaseException:
            self._release()
            raise
        return ServerAttachment(self, monitor)

    def _acquire(self, context: zmq.asyncio.Context) -> None:
        if self._authenticator is None:
            authenticator = ThreadAuthenticator(context)
            authenticator.configure_curve_callback(ZAP_DOMAIN.decode(), self._gatekeeper)
            authenticator.start()  # binds the context's ZAP endpoint
            log.info(
                "engine link secured with CURVE (authorized client keys: %d)",
                self._gatekeeper.authorized_count,
            )
            self._authenticator, self._context = authenticator, context
        elif context is not self._context:
            raise RuntimeError("a CurveServer serves the sockets of one ZeroMQ context")
        self._attached += 1

    def _release(self) -> None:
        self._attached -= 1
        if self._attached == 0 and self._authenticator is not None:
            self._authenticator.stop()
            self._authenticator = self._context = None


class ServerAttachment:
    """One socket's use of a :class:`CurveServer`."""

    def __init__(self, server: CurveServer, monitor: SocketMonitor) -> None:
        self._server: CurveServer | None = server
        self._monitor = monitor

    def detach(self) -> None:
        """Call once the socket is closed: the ZAP handler stops with the last socket."""
        if self._server is not None:
            self._monitor.close()
            self._server._release()
            self._server = None


class _Gatekeeper:
    """The ZAP handler's credentials check (runs on the authenticator's thread)."""

    def __init__(self, authorized: frozenset[bytes]) -> None:
        self._authorized = authorized
        self._refused: set[bytes] = set()

    @property
    def authorized_count(self) -> int:
        return len(self._authorized)

    def callback(self, domain: str, key: bytes) -> bool:
        if key in self._authorized:
            return True
        if key not in self._refused and len(self._refused) < MAX_LOGGED_REFUSALS:
            self._refused.add(key)
            log.warning(
                "engine link: refused a client whose CURVE public key %s is not authorized "
                "(later attempts with this key are not logged)",
                key.decode("ascii", "replace"),
            )
        return False


class _RefusalLog:
    """Logs each kind of refused handshake on one server socket once."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._seen: set[tuple[int, int]] = set()

    def on_event(self, event: int, value: int) -> None:
        if event == zmq.EVENT_HANDSHAKE_FAILED_AUTH:
            return  # the ZAP handler has logged the key
        if (event, value) not in self._seen:
            self._seen.add((event, value))
            log.warning(
                "%s: refused a client: %s (later refusals like it are not logged)",
                self._name,
                describe_handshake_failure(event, value),
            )
