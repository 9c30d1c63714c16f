"""The engine link secured end to end: `tradebridge rpc-keys`, `tradebridge engine` with CURVE
and `tradebridge web` with the web's keys (on loopback, CURVE configured explicitly), a web
with a key the engine does not know, and configurations that must not start."""

import re
import shutil
import subprocess
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from tests.conftest import Server, free_port, tradebridge_command, write_config
from tests.e2e.lifecycle_support import (
    ORDERS,
    WAIT_S,
    Alone,
    order_body,
    start_alone,
    wait_until,
    web_server,
    with_settings,
)
from tests.stream.stream_support import StreamClient

SECRET_LINE = re.compile(r'secret-key = "(.+)"')


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        tradebridge_command(*args), capture_output=True, text=True, timeout=WAIT_S, check=False
    )


def make_keys(directory: Path) -> subprocess.CompletedProcess[str]:
    made = run_cli("rpc-keys", "--dir", str(directory))
    assert made.returncode == 0, made.stderr
    return made


def secrets_in(directory: Path) -> list[str]:
    found = [
        match.group(1)
        for path in directory.rglob("*.key_secret")
        for match in SECRET_LINE.finditer(path.read_text())
    ]
    assert len(found) == 2
    return found


def config_copy(config: Path, directory: Path) -> Path:
    """`config` in a directory of its own (its logs go there), same data dir and ports."""
    directory.mkdir()
    return Path(shutil.copy(config, directory / config.name))


def web_config(config: Path, directory: Path, keys: Path, engine_keys: Path) -> Path:
    """A web's config: its own port, its key pair from `keys`, the engine's public key."""
    web = with_settings(config_copy(config, directory), "server", port=free_port())
    return with_settings(
        web,
        "engine",
        curve_server_key=str(engine_keys / "engine.key"),
        curve_client_secret_key=str(keys / "web.key_secret"),
    )


def port_of_config(config: Path) -> int:
    return int(tomllib.loads(config.read_text())["server"]["port"])


@dataclass
class Link:
    engine: Alone
    web: Server
    config: Path
    keys: Path


@pytest.fixture
def curve_link(tmp_path: Path) -> Iterator[Link]:
    """`tradebridge engine` with CURVE on 127.0.0.1 and a `tradebridge web` with its keys."""
    keys = tmp_path / "curve"
    make_keys(keys)
    config = write_config(tmp_path)
    engine_config = with_settings(
        config_copy(config, tmp_path / "engine"),
        "engine",
        curve_secret_key=str(keys / "engine.key_secret"),
        curve_authorized_keys=str(keys / "authorized"),
    )
    engine = start_alone("engine", engine_config)
    web: Alone | None = None
    try:
        web_toml = web_config(config, tmp_path / "web", keys, keys)
        web = start_alone("web", web_toml)
        yield Link(engine, web_server(web_toml, web), config, keys)
    finally:
        if web is not None:
            assert web.terminate() == 0, web.output()
        assert engine.terminate() == 0, engine.output()


@pytest.mark.anyio
async def test_web_with_the_authorized_key_works_through_curve(curve_link: Link) -> None:
    server = curve_link.web
    assert (
        "engine link secured with CURVE (authorized client keys: 1)" in curve_link.engine.output()
    )
    token = server.login()
    stream = await StreamClient.open(server, token)
    try:
        if stream.received[0]["data"] != {"engine": "up"}:  # events come through
            await stream.until(lambda m: m["type"] == "status" and m["data"] == {"engine": "up"})
        await stream.subscribe(["orders"])
        with server.client(token) as api:
            accounts = api.get("/api/v1/accounts")
            assert accounts.status_code == 200, accounts.text
            assert [a["id"] for a in accounts.json()] == ["paper"]
            placed = api.post(ORDERS, json=order_body("curve-e2e-1"))
            assert placed.status_code == 201, placed.text
        event = await stream.until(
            lambda m: m["type"] == "order" and m["data"]["id"] == placed.json()["id"], WAIT_S
        )
        assert event["data"]["client_order_id"] == "curve-e2e-1"
    finally:
        await stream.close()


@pytest.mark.anyio
async def test_web_with_an_unknown_key_gets_503_and_the_engine_logs_it(
    curve_link: Link, tmp_path: Path
) -> None:
    token = curve_link.web.login()
    other_keys = tmp_path / "other-curve"
    make_keys(other_keys)  # a key pair of its own, unknown to the engine
    intruder_config = web_config(
        curve_link.config, tmp_path / "intruder", other_keys, curve_link.keys
    )
    intruder = start_alone("web", intruder_config)
    try:
        base_url = f"http://127.0.0.1:{port_of_config(intruder_config)}"
        health: list[httpx.Response] = []

        def answering() -> bool:
            try:
                health.append(httpx.get(f"{base_url}/api/v1/health", timeout=5))
            except httpx.HTTPError:
                return False
            return True

        wait_until(answering, "the intruding web to answer", intruder.output)
        assert health[-1].json()["status"] == "degraded"
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(base_url=base_url, headers=headers) as api:
            refused = await api.get("/api/v1/accounts")
            assert refused.status_code == 503, refused.text
            assert refused.json()["error"]["code"] == "engine_unavailable"
            placed = await api.post(ORDERS, json=order_body("curve-e2e-x"))
            assert placed.status_code == 503, placed.text
        stream = await StreamClient.open(
            Server(intruder_config, intruder.process, base_url, intruder.log), token
        )
        try:
            assert stream.received[0]["data"] == {"engine": "down"}  # no events either
        finally:
            await stream.close()

        wait_until(
            lambda: "is not authorized" in curve_link.engine.output(),
            "the engine to log the refusal",
            curve_link.engine.output,
        )
        assert "the CURVE key was refused" in intruder.output()
        # The authorized web is unaffected, and the order the intruder tried does not exist.
        with curve_link.web.client(token) as api:
            assert api.get("/api/v1/accounts").status_code == 200
            missing = api.get(f"{ORDERS}:by_client_id/curve-e2e-x")
            assert missing.status_code == 404
    finally:
        assert intruder.terminate() == 0, intruder.output()
    logged = curve_link.engine.output() + intruder.output()
    for secret in secrets_in(curve_link.keys) + secrets_in(other_keys):
        assert secret not in logged


@pytest.mark.parametrize("role", ["engine", "web", "serve"])
@pytest.mark.parametrize("setting", ["rpc_address", "events_address"])
def test_a_non_loopback_address_without_curve_refuses_to_start(
    tmp_path: Path, role: str, setting: str
) -> None:
    config = with_settings(write_config(tmp_path), "engine", **{setting: "tcp://0.0.0.0:7001"})
    refused = run_cli(role, "--config", str(config))
    assert refused.returncode == 2, refused.stdout + refused.stderr
    (line,) = refused.stderr.strip().splitlines()  # one line
    assert f"engine: {setting} 'tcp://0.0.0.0:7001' is not a loopback address" in line
    assert "curve_secret_key" in line
    assert not (tmp_path / "data").exists()  # refused before anything was set up


def test_an_end_without_its_own_keys_refuses_to_start(tmp_path: Path) -> None:
    """A web's config (engine on another host) cannot start an engine, and vice versa."""
    keys = tmp_path / "curve"
    make_keys(keys)
    lan = {"rpc_address": "tcp://192.0.2.10:7001", "events_address": "tcp://192.0.2.10:7002"}
    (tmp_path / "web").mkdir()
    web_side = with_settings(
        write_config(tmp_path / "web"),
        "engine",
        curve_server_key=str(keys / "engine.key"),
        curve_client_secret_key=str(keys / "web.key_secret"),
        **lan,
    )
    refused = run_cli("engine", "--config", str(web_side))
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert refused.stderr.startswith("error: engine.curve_secret_key and engine.curve_author")

    (tmp_path / "engine").mkdir()
    engine_side = with_settings(
        write_config(tmp_path / "engine"),
        "engine",
        curve_secret_key=str(keys / "web.key"),  # a public key file: no secret in it
        curve_authorized_keys=str(keys / "authorized"),
    )
    refused = run_cli("engine", "--config", str(engine_side))
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert refused.stderr.startswith("error: engine.curve_secret_key: ")
    assert "web.key holds no secret key" in refused.stderr
    refused = run_cli("web", "--config", str(engine_side))
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert refused.stderr.startswith("error: engine.curve_server_key and engine.curve_client")


def test_rpc_keys_writes_private_secrets_and_prints_none(tmp_path: Path) -> None:
    keys = tmp_path / "curve"
    made = make_keys(keys)
    names = sorted(str(p.relative_to(keys)) for p in keys.rglob("*") if p.is_file())
    assert names == [
        "authorized/web.key",
        "engine.key",
        "engine.key_secret",
        "web.key",
        "web.key_secret",
    ]
    for secret in ("engine.key_secret", "web.key_secret"):
        assert (keys / secret).stat().st_mode & 0o777 == 0o600
    secrets = secrets_in(keys)
    for secret in secrets:
        assert secret not in made.stdout + made.stderr
    assert f'curve_secret_key = "{keys / "engine.key_secret"}"' in made.stdout
    assert f'curve_authorized_keys = "{keys / "authorized"}"' in made.stdout
    assert f'curve_server_key = "{keys / "engine.key"}"' in made.stdout
    assert f'curve_client_secret_key = "{keys / "web.key_secret"}"' in made.stdout

    again = run_cli("rpc-keys", "--dir", str(keys))
    assert again.returncode == 1
    assert "already exists" in again.stderr
    assert secrets_in(keys) == secrets  # nothing replaced
