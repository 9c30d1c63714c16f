"""Settings of a `tiger` account: the `[accounts.tiger]` table (API.md §7). Imports no SDK.

Tiger's OpenAPI is a hosted service: the SDK signs every request with the developer's RSA
private key (registered with Tiger under `tiger_id`), read from an owner-only file. The
gateway URL and the push channel default to the SDK's own (production) ones; tests and
setups behind a proxy point them elsewhere, and then nothing goes to Tiger's hosts."""

from typing import Protocol

from pydantic import Field, field_validator

from tradebridge.sections import SecretFile, Section


class TigerSettings(Section):
    tiger_id: str = Field(min_length=1)
    """The developer id Tiger gave the API application."""
    account: str = Field(min_length=1)
    """The Tiger account this tradebridge account trades (e.g. `U1234567`, a paper account's
    number, or a prime/global account)."""
    private_key_file: SecretFile
    """An owner-only PEM file with the RSA private key registered for `tiger_id`."""
    server_url: str = ""
    """The HTTP gateway (`https://.../gateway`); "": the SDK's default. Quote calls go to the
    same URL."""
    socket_host_port: str = ""
    """The push channel as `protocol,host,port` (`ssl,...,9883`, `tcp,127.0.0.1,9883`); "":
    the SDK's default."""
    license: str = ""
    """The account's licence (`TBSG`, `TBNZ`, `TBUS`, ...); "": not sent."""
    request_timeout_s: float = Field(default=10.0, gt=0, le=120)
    """How long one HTTP request may take before it counts as unanswered."""
    read_retries: int = Field(default=1, ge=0, le=5)
    """How often the SDK resends a query that failed (never an order or a cancel)."""

    @field_validator("socket_host_port")
    @classmethod
    def _host_port(cls, value: str) -> str:
        if value:
            parse_socket_host_port(value)
        return value

    @field_validator("server_url")
    @classmethod
    def _url(cls, value: str) -> str:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError(f"server_url {value!r} is not an http:// or https:// URL")
        return value


def parse_socket_host_port(value: str) -> tuple[str, str, int]:
    """`"tcp,127.0.0.1,9883"` as the SDK's `(protocol, host, port)`."""
    parts = [part.strip() for part in value.split(",")]
    if len(parts) != 3 or parts[0] not in ("tcp", "ssl") or not parts[1]:
        raise ValueError(
            f"socket_host_port {value!r} is not protocol,host,port (e.g. ssl,host,9883)"
        )
    try:
        port = int(parts[2])
    except ValueError:
        raise ValueError(f"socket_host_port {value!r}: port {parts[2]!r} is no number") from None
    if not 1 <= port <= 65535:
        raise ValueError(f"socket_host_port {value!r}: port {port} is out of range")
    return parts[0], parts[1], port


class TigerAccountSettings(Protocol):
    """What `create` reads of the account (`config.TigerAccount`)."""

    @property
    def id(self) -> str: ...

    @property
    def base_currency(self) -> str: ...

    @property
    def tiger(self) -> TigerSettings: ...
