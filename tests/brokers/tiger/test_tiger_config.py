"""The `[accounts.tiger]` table: what it takes and what it refuses, naming the setting."""

from pathlib import Path

import pytest
from pydantic import ValidationError

from tradebridge.brokers.tiger.config import TigerSettings, parse_socket_host_port


def key_file(tmp_path: Path, mode: int = 0o600) -> Path:
    path = tmp_path / "tiger_rsa.pem"
    path.write_text("-----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY-----\n")
    path.chmod(mode)
    return path


def test_settings_take_the_push_channel_as_protocol_host_port(tmp_path: Path) -> None:
    settings = TigerSettings(
        tiger_id="1",
        account="U1",
        private_key_file=key_file(tmp_path),
        socket_host_port="tcp,127.0.0.1,9883",
    )
    assert parse_socket_host_port(settings.socket_host_port) == ("tcp", "127.0.0.1", 9883)
    assert settings.server_url == ""


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("socket_host_port", "127.0.0.1:9883", "protocol,host,port"),
        ("socket_host_port", "ssl,host,99999", "out of range"),
        ("server_url", "openapi.example/gateway", "http:// or https://"),
    ],
)
def test_settings_refuse_what_the_sdk_would_misread(
    tmp_path: Path, field: str, value: str, message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        TigerSettings(
            tiger_id="1", account="U1", private_key_file=key_file(tmp_path), **{field: value}
        )


def test_a_private_key_others_can_read_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="chmod 600"):
        TigerSettings(tiger_id="1", account="U1", private_key_file=key_file(tmp_path, 0o644))
