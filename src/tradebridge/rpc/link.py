"""Each end of the engine link, as `[engine]` and the data dir configure it.

Addresses
    `[engine] rpc_address` and `events_address` when set (environment included). Otherwise the
    link is private to the instance: ZeroMQ `ipc://` sockets in `<data_dir>/link/` (a directory
    of mode 0700, so only the account that runs tradebridge can even connect), where the
    platform has them and the path fits in a Unix socket address. Elsewhere (Windows, or a data
    dir whose path is too long), `tradebridge serve` picks two free loopback TCP ports for its
    engine and web (:func:`serve_addresses`), and `tradebridge engine` / `web` alone stop and
    say which settings to set.

Keys
    The link is always CURVE: encrypted, and the engine answers only the web keys it admits.
    The keys are `[engine] curve_*` when set (`EngineSettings` requires them beyond loopback);
    otherwise those of `<data_dir>/curve/`, laid out as `tradebridge rpc-keys` writes them, and
    generated there by the first process that needs them. An engine and a web with the same
    data dir therefore share keys that no other instance has: a web reaches only its own
    instance's engine (another's refuses the handshake), and a local process that cannot read
    the data dir can neither connect to the sockets nor pass the handshake.

Binding
    An `ipc://` path is taken by whoever binds last (ZeroMQ removes the file of a previous
    bind), so the engine also locks `<path>.lock` while it holds the address: a second engine
    on the same path is refused like a second one on a TCP port. A bind that fails is a
    `LinkBindError` naming the setting and the address.
"""

import errno
import os
import shutil
import socket
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TypeVar

import zmq

from tradebridge.config import ConfigError, EngineSettings, Settings
from tradebridge.rpc.curve import (
    CurveClient,
    CurveKeyError,
    CurveServer,
    GeneratedKeys,
    create_key_pairs,
    load_authorized_keys,
    load_key_pair,
    load_public_key,
)

__all__ = [
    "EngineEnd",
    "IpcLock",
    "LinkBindError",
    "WebEnd",
    "engine_curve",
    "engine_end",
    "ensure_data_dir_keys",
    "lock_ipc_address",
    "private_addresses",
    "serve_addresses",
    "web_curve",
    "web_end",
]

T = TypeVar("T")

LINK_DIR = "link"
"""Subdirectory of the data dir holding the default `ipc://` sockets."""
KEYS_DIR = "curve"
"""Subdirectory of the data dir holding the default CURVE keys (as `rpc-keys` writes them)."""


class LinkBindError(ConfigError):
    """The engine could not bind one of its addresses; the message names the setting."""


@dataclass(frozen=True, slots=True)
class EngineEnd:
    """What the engine binds, and its CURVE keys."""

    rpc_address: str
    events_address: str
    curve: CurveServer


@dataclass(frozen=True, slots=True)
class WebEnd:
    """What the web connects to, and its CURVE keys."""

    rpc_address: str
    events_address: str
    curve: CurveClient


def engine_end(settings: Settings) -> EngineEnd:
    """The engine's addresses and keys. Raises `ConfigError` naming the setting when they
    cannot be used."""
    rpc_address, events_address = _addresses(settings)
    curve = engine_curve(settings.engine)
    if curve is None:
        keys = ensure_data_dir_keys(settings.data_dir)
        curve = CurveServer(
            _read_data_dir_key(keys, load_key_pair, keys.engine_secret),
            _read_data_dir_key(keys, load_authorized_keys, keys.authorized_dir),
        )
    return EngineEnd(rpc_address, events_address, curve)


def web_end(settings: Settings) -> WebEnd:
    """The web's addresses and keys. Raises `ConfigError` naming the setting when they cannot
    be used."""
    rpc_address, events_address = _addresses(settings)
    curve = web_curve(settings.engine)
    if curve is None:
        keys = ensure_data_dir_keys(settings.data_dir)
        curve = CurveClient(
            keys=_read_data_dir_key(keys, load_key_pair, keys.web_secret),
            server_key=_read_data_dir_key(keys, load_public_key, keys.engine_public),
        )
    return WebEnd(rpc_address, events_address, curve)


def engine_curve(engine: EngineSettings) -> CurveServer | None:
    """The engine's CURVE keys and admitted clients as `[engine]` sets them, or None when it
    sets none (then the data dir's are used).

    Raises `ConfigError` naming the setting when they are needed but missing or unreadable.
    """
    if engine.curve_secret_key is None or engine.curve_authorized_keys is None:
        if engine.curve_configured or not engine.loopback_only:
            raise ConfigError(
                "engine.curve_secret_key and engine.curve_authorized_keys are not set: the "
                "engine needs its key pair and the web keys it admits to serve a CURVE link "
                f"(rpc_address {engine.rpc_address}, events_address {engine.events_address})"
            )
        return None
    return CurveServer(
        _read("engine.curve_secret_key", load_key_pair, engine.curve_secret_key),
        _read("engine.curve_authorized_keys", load_authorized_keys, engine.curve_authorized_keys),
    )


def web_curve(engine: EngineSettings) -> CurveClient | None:
    """The web's CURVE keys and the engine's public key as `[engine]` sets them, or None when
    it sets none (then the data dir's are used).

    Raises `ConfigError` naming the setting when they are needed but missing or unreadable.
    """
    if engine.curve_server_key is None or engine.curve_client_secret_key is None:
        if engine.curve_configured or not engine.loopback_only:
            raise ConfigError(
                "engine.curve_server_key and engine.curve_client_secret_key are not set: the "
                "web needs the engine's public key and its own key pair for a CURVE link "
                f"(rpc_address {engine.rpc_address}, events_address {engine.events_address})"
            )
        return None
    return CurveClient(
        keys=_read("engine.curve_client_secret_key", load_key_pair, engine.curve_client_secret_key),
        server_key=_read("engine.curve_server_key", load_public_key, engine.curve_server_key),
    )


# -- keys in the data dir --------------------------------------------------------------------


def ensure_data_dir_keys(data_dir: Path) -> GeneratedKeys:
    """The key files of `<data_dir>/curve/`, made first if that directory does not exist.

    Made in a private staging directory and moved into place in one rename, so processes that
    start together (an engine and a web) never see half-written keys, and the one that loses
    the race uses the winner's.
    """
    directory = data_dir.absolute() / KEYS_DIR
    if not directory.exists():
        data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".curve-", dir=data_dir))
        try:
            create_key_pairs(staging)
            try:
                staging.rename(directory)
            except OSError:
                if not directory.is_dir():
                    raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return GeneratedKeys.in_directory(directory)


def _read_data_dir_key(keys: GeneratedKeys, load: Callable[[Path], T], path: Path) -> T:
    try:
        return load(path)
    except CurveKeyError as exc:
        raise ConfigError(
            f"engine link keys in {keys.authorized_dir.parent} (used as no [engine] curve_* key "
            f"is set): {exc}"
        ) from None


def _read(setting: str, load: Callable[[Path], T], path: Path) -> T:
    try:
        return load(path)
    except CurveKeyError as exc:
        raise ConfigError(f"{setting}: {exc}") from None


# -- addresses -------------------------------------------------------------------------------


def private_addresses(data_dir: Path) -> tuple[str, str] | str:
    """The `ipc://` addresses of `<data_dir>/link/`, or why there can be none here."""
    if sys.platform == "win32" or not zmq.has("ipc"):
        return "this platform has no ipc:// sockets"
    directory = data_dir.absolute() / LINK_DIR
    paths = (directory / "rpc", directory / "events")
    longest = max(len(os.fsencode(path)) for path in paths)
    if longest > zmq.IPC_PATH_MAX_LEN:
        return (
            f"the data dir's path is too long for an ipc:// socket ({directory / 'events'} is "
            f"{longest} bytes; at most {zmq.IPC_PATH_MAX_LEN})"
        )
    return f"ipc://{paths[0]}", f"ipc://{paths[1]}"


def _addresses(settings: Settings) -> tuple[str, str]:
    engine = settings.engine
    if engine.rpc_address is not None and engine.events_address is not None:
        return engine.rpc_address, engine.events_address
    private = private_addresses(settings.data_dir)
    if isinstance(private, str):
        raise ConfigError(
            f"engine.rpc_address and engine.events_address must be set: {private} "
            "(`tradebridge serve` picks free loopback ports by itself; e.g. "
            'rpc_address = "tcp://127.0.0.1:7001", events_address = "tcp://127.0.0.1:7002")'
        )
    settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    directory = settings.data_dir / LINK_DIR
    directory.mkdir(mode=0o700, exist_ok=True)
    if directory.stat().st_mode & 0o077:  # made by someone else: the sockets are private
        directory.chmod(0o700)
    return (engine.rpc_address or private[0], engine.events_address or private[1])


def serve_addresses(settings: Settings) -> dict[str, str]:
    """The `[engine]` addresses `tradebridge serve` sets for its children: none when they are
    configured or the private `ipc://` ones can be used, else free loopback TCP ports (the
    same for every restart of the children)."""
    if isinstance(private_addresses(settings.data_dir), str):
        engine = settings.engine
        unset = [
            name for name in ("rpc_address", "events_address") if getattr(engine, name) is None
        ]
        return {name: f"tcp://127.0.0.1:{_free_port()}" for name in unset}
    return {}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- binding ---------------------------------------------------------------------------------


def bind_error(setting: str, address: str, exc: zmq.ZMQError | OSError) -> LinkBindError:
    """The one-line error of a failed bind of `setting` (`engine.rpc_address`, ...)."""
    reason = str(exc.strerror)
    if exc.errno == errno.EADDRINUSE:
        reason = "the address is in use (is another tradebridge engine running?)"
    elif exc.errno == errno.ENAMETOOLONG:
        reason = f"the ipc:// path is longer than {zmq.IPC_PATH_MAX_LEN} bytes"
    return LinkBindError(f"{setting}: cannot bind {address}: {reason}")


class IpcLock:
    """An exclusive lock on `<ipc path>.lock`, held while the engine holds the address."""

    def __init__(self, file: IO[str]) -> None:
        self._file = file

    def release(self) -> None:
        self._file.close()  # closing the file releases the lock


def lock_ipc_address(setting: str, address: str) -> IpcLock | None:
    """Lock an `ipc://` address for this process (None for other transports, and where file
    locks are not available). Raises `LinkBindError` when another process holds it."""
    if not address.startswith("ipc://"):
        return None
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        return None
    path = Path(address.removeprefix("ipc://") + ".lock")
    try:
        file = path.open("a+")
    except OSError as exc:
        raise bind_error(setting, address, exc) from None
    try:
        fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        file.seek(0)
        holder = file.read().strip()
        file.close()
        raise LinkBindError(
            f"{setting}: cannot bind {address}: another engine holds it"
            + (f" (pid {holder})" if holder else "")
        ) from None
    file.seek(0)
    file.truncate()
    file.write(str(os.getpid()))
    file.flush()
    return IpcLock(file)
