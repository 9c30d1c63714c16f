"""`tradebridge user list|passwd|remove`, `key list|revoke`, `secret rotate`, and what the
data dir holds afterwards (no password, key or token in clear)."""

import stat
from pathlib import Path

import httpx
from tests.api.auth_support import PASSWORD, add_user, cli, wait_until
from tests.conftest import ADMIN_PASSWORD, Server, start_server, write_config

NEW_PASSWORD = "another-long-password"


def status_with(server: Server, headers: dict[str, str]) -> int:
    with httpx.Client(base_url=server.base_url, headers=headers) as client:
        return client.get("/api/v1/accounts").status_code


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def table_rows(output: str) -> list[list[str]]:
    """The cells of the body rows of a table `rich` printed."""
    return [
        [cell.strip() for cell in line.strip().strip("│").split("│")]
        for line in output.splitlines()
        if line.startswith("│")
    ]


def cli_key(config: Path, user: str, scopes: str = "read") -> str:
    result = cli(config, "key", "create", "--user", user, "--scopes", scopes)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


def test_user_list_shows_names_roles_and_creation(server: Server) -> None:
    viewer = add_user(server, "viewer")
    result = cli(server.config, "user", "list")
    assert result.returncode == 0, result.stderr
    header = next(line for line in result.stdout.splitlines() if "name" in line)
    assert [cell.strip() for cell in header.strip("┃ ").split("┃")] == ["name", "role", "created"]
    rows = {row[0]: row[1:] for row in table_rows(result.stdout)}
    assert rows["admin"][0] == "admin"
    assert rows[viewer][0] == "viewer"
    assert rows[viewer][1].startswith("20")  # an ISO-8601 time
    assert "$argon2" not in result.stdout


def test_passwd_changes_the_password_and_ends_earlier_tokens(server: Server) -> None:
    name = add_user(server, "trader")
    token = server.login(name, PASSWORD)
    key = cli_key(server.config, name)
    result = cli(server.config, "user", "passwd", name, "--password-stdin", stdin=NEW_PASSWORD)
    assert result.returncode == 0, result.stderr
    wait_until(lambda: status_with(server, bearer(token)) == 401, "the old token is refused")
    with server.client() as client:
        old = client.post("/api/v1/auth/token", data={"username": name, "password": PASSWORD})
    assert old.status_code == 401
    assert status_with(server, bearer(server.login(name, NEW_PASSWORD))) == 200
    assert status_with(server, {"X-API-Key": key}) == 200  # keys are not passwords


def test_passwd_refuses_unknown_users_and_empty_passwords(server: Server) -> None:
    unknown = cli(server.config, "user", "passwd", "nobody-here", "--password-stdin", stdin="x")
    empty = cli(server.config, "user", "passwd", "admin", "--password-stdin", stdin="\n")
    assert unknown.returncode == 1
    assert "no user" in unknown.stderr
    assert empty.returncode == 2
    assert "empty" in empty.stderr
    assert server.login() != ""  # the admin password is unchanged


def test_remove_ends_the_users_tokens_and_keys(server: Server) -> None:
    name = add_user(server, "trader")
    token = server.login(name, PASSWORD)
    key = cli_key(server.config, name, "read,trade")
    assert status_with(server, {"X-API-Key": key}) == 200
    result = cli(server.config, "user", "remove", name)
    assert result.returncode == 0, result.stderr
    assert "1 API key" in result.stdout
    wait_until(lambda: status_with(server, {"X-API-Key": key}) == 401, "the key is refused")
    wait_until(lambda: status_with(server, bearer(token)) == 401, "the token is refused")
    assert name not in cli(server.config, "user", "list").stdout
    again = cli(server.config, "user", "remove", name)
    assert again.returncode == 1
    assert "no user" in again.stderr


def test_key_list_and_revoke_by_prefix_or_id(server: Server) -> None:
    name = add_user(server, "trader")
    first, second = cli_key(server.config, name), cli_key(server.config, name, "read,trade")
    listed = cli(server.config, "key", "list", "--user", name)
    assert listed.returncode == 0, listed.stderr
    assert first[:12] in listed.stdout
    assert second[:12] in listed.stdout
    assert first not in listed.stdout
    assert second not in listed.stdout
    ambiguous = cli(server.config, "key", "revoke", "tbk_")
    assert ambiguous.returncode == 1
    assert "give its id" in ambiguous.stderr
    revoked = cli(server.config, "key", "revoke", first[:12])
    assert revoked.returncode == 0, revoked.stderr
    wait_until(lambda: status_with(server, {"X-API-Key": first}) == 401, "the key is refused")
    assert status_with(server, {"X-API-Key": second}) == 200
    key_id = next(row[0] for row in table_rows(listed.stdout) if row[2] == second[:12])
    assert cli(server.config, "key", "revoke", key_id).returncode == 0
    wait_until(lambda: status_with(server, {"X-API-Key": second}) == 401, "the key is refused")
    after = table_rows(cli(server.config, "key", "list", "--user", name).stdout)
    assert [(row[1], row[3], row[6] != "") for row in after] == [
        (name, "read", True),
        (name, "read,trade", True),
    ]
    missing = cli(server.config, "key", "revoke", "tbk_nothing-like-it")
    assert missing.returncode == 1


def test_the_last_admin_cannot_be_removed(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    first = cli(config, "user", "add", "second-admin", "--role", "admin", stdin=PASSWORD)
    assert first.returncode == 0, first.stderr
    assert cli(config, "user", "remove", "admin").returncode == 0
    last = cli(config, "user", "remove", "second-admin")
    assert last.returncode == 1
    assert "last admin" in last.stderr
    assert "second-admin" in cli(config, "user", "list").stdout


def test_a_configured_secret_is_rotated_in_the_configuration(tmp_path: Path) -> None:
    config = write_config(tmp_path, '[auth]\njwt_secret = "' + "c" * 48 + '"')
    result = cli(config, "secret", "rotate")
    assert result.returncode == 2
    assert "jwt_secret" in result.stderr
    assert not (tmp_path / "data" / "jwt_secret").exists()


def test_no_password_key_or_token_is_kept_in_clear(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    first_run = cli(config, "user", "list")
    assert first_run.returncode == 0, first_run.stderr
    lines = first_run.stdout.splitlines()
    heading = next(i for i, line in enumerate(lines) if "with the password" in line)
    assert "Shown only this once" in first_run.stdout
    admin_password = lines[heading + 2].strip("│ ")
    assert cli(config, "user", "add", "ana", "--role", "trader", stdin=PASSWORD).returncode == 0
    cli_made = cli_key(config, "ana", "read,trade")
    server = start_server(config)
    try:
        admin_token = server.login("admin", admin_password)
        ana_token = server.login("ana", PASSWORD)
        with server.client(ana_token) as client:
            api_made = client.post("/api/v1/keys", json={"scopes": ["read"]}).json()["key"]
        assert status_with(server, {"X-API-Key": api_made}) == 200
        changed = cli(config, "user", "passwd", "ana", "--password-stdin", stdin=NEW_PASSWORD)
        assert changed.returncode == 0, changed.stderr
        assert "Shown only this once" not in cli(config, "user", "list").stdout
    finally:
        assert server.stop() == 0
    secrets = [admin_password, ADMIN_PASSWORD, PASSWORD, NEW_PASSWORD, cli_made, api_made]
    secrets += [admin_token, ana_token, admin_token.split(".")[-1], ana_token.split(".")[-1]]
    assert stat.S_IMODE((tmp_path / "data").stat().st_mode) == 0o700
    stored = [p for p in (tmp_path / "data").rglob("*") if p.is_file()]
    assert any(p.name == "tradebridge.db" for p in stored)
    for path in [*stored, config]:
        content = path.read_bytes()
        for secret in secrets:
            assert secret.encode() not in content, (path.name, secret[:6])


def test_a_guessable_configured_secret_is_refused(tmp_path: Path) -> None:
    config = write_config(tmp_path, '[auth]\njwt_secret = "test-secret"')
    result = cli(config, "user", "list")
    assert result.returncode == 2
    assert "auth.jwt_secret" in result.stderr
    assert "at least 32 characters" in result.stderr
    assert "test-secret" not in result.stderr
