"""Each end of the engine link, as `[engine]` configures it: plain on loopback, else CURVE.

`EngineSettings` already refuses an address beyond loopback with no CURVE key at all; here each
process checks for the keys of its own end, since one config file may serve only one end (the
engine on one host, the web on another). Once any CURVE key is set, both ends use CURVE, on
loopback too.
"""

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from tradebridge.config import ConfigError, EngineSettings
from tradebridge.rpc.curve import (
    CurveClient,
    CurveKeyError,
    CurveServer,
    load_authorized_keys,
    load_key_pair,
    load_public_key,
)

__all__ = ["engine_curve", "web_curve"]

T = TypeVar("T")


def engine_curve(engine: EngineSettings) -> CurveServer | None:
    """The engine's CURVE keys and admitted clients, or None for a plain loopback link.

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
    """The web's CURVE keys and the engine's public key, or None for a plain loopback link.

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


def _read(setting: str, load: Callable[[Path], T], path: Path) -> T:
    try:
        return load(path)
    except CurveKeyError as exc:
        raise ConfigError(f"{setting}: {exc}") from None
