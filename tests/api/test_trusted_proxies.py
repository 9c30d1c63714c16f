"""Whose address a request comes from, on a real server: the TCP peer's, unless the peer is
one of `[server] trusted_proxies`; and logins, which check an argon2 hash each, run a few at a
time however many arrive."""

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.conftest import ADMIN_PASSWORD, Server, start_server, write_config
from tests.stream.stream_support import role_pid

from tradebridge.api.login_throttle import FAILURES_PER_CLIENT

LOGIN = "/api/v1/auth/token"
PROXY = "127.0.0.2"
PROXIED = f"""
[server]
trusted_proxies = ["{PROXY}", "127.0.5.0/24"]
login_concurrency = 1
login_queue = 2
"""
FLOOD = 16
"""Logins sent at once; before password checks were bounded, each took 64 MiB at once."""
MIB = 1024 * 1024


@pytest.fixture(scope="module")
def direct(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server with the default: no trusted proxies."""
    server = start_server(write_config(tmp_path_factory.mktemp("direct")))
    yield server
    assert server.stop() == 0


@pytest.fixture(scope="module")
def proxied(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    config = write_config(tmp_path_factory.mktemp("proxied"))
    config.write_text(config.read_text().replace("[server]\n", PROXIED.lstrip()))
    server = start_server(config)
    yield server
    assert server.stop() == 0


def login_from(
    server: Server, peer: str, headers: dict[str, str], username: str, password: str
) -> httpx.Response:
    """A login sent from the loopback address `peer` with `headers`, and `X-Request-ID`."""
    transport = httpx.HTTPTransport(local_address=peer)
    with httpx.Client(base_url=server.base_url, transport=transport, timeout=60) as client:
        return client.post(
            LOGIN,
            data={"username": username, "password": password},
            headers={"X-Request-ID": f"proxy-{uuid.uuid4().hex}", **headers},
        )


def audited_client(server: Server, response: httpx.Response) -> str:
    """The `client_ip` of the audit row of `response`'s request."""
    rid = response.request.headers["X-Request-ID"]
    with server.client(server.login()) as client:
        rows = client.get("/api/v1/audit", params={"action": "login", "limit": "1000"}).json()
    (row,) = [r for r in rows if r["request_id"] == rid]
    return str(row["client_ip"])


FORGED: list[dict[str, str]] = [
    {"X-Forwarded-For": "203.0.113.7"},
    {"Forwarded": "for=203.0.113.8"},
    {"X-Forwarded-For": "203.0.113.9, 127.0.0.1"},
]


@pytest.mark.parametrize("headers", FORGED, ids=["x-forwarded-for", "forwarded", "chain"])
def test_without_trusted_proxies_forwarded_headers_are_ignored(
    direct: Server, headers: dict[str, str]
) -> None:
    """From 127.0.0.1 too: a reverse proxy on this host is not trusted unless configured
    (uvicorn's own proxy-headers default trusted 127.0.0.1)."""
    response = login_from(direct, "127.0.0.1", headers, "admin", ADMIN_PASSWORD)
    assert response.status_code == 200
    assert audited_client(direct, response) == "127.0.0.1"


def test_forged_addresses_do_not_escape_the_login_limit_of_the_peer(direct: Server) -> None:
    """Each guess claims another client address; the peer's count fills all the same. (Last
    of the tests on `direct`: its logins from 127.0.0.1 are refused from now on.)"""
    peer = "127.0.0.1"
    for attempt in range(FAILURES_PER_CLIENT):
        forged = {"X-Forwarded-For": f"198.51.100.{attempt + 1}"}
        response = login_from(direct, peer, forged, f"guess-{attempt}", "wrong")
        assert response.status_code == 401, response.text
    refused = login_from(direct, peer, {"X-Forwarded-For": "198.51.100.200"}, "admin", "x")
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "rate_limited"
    # Another peer is not affected.
    assert login_from(direct, "127.0.7.3", {}, "admin", ADMIN_PASSWORD).status_code == 200


@pytest.mark.parametrize(
    ("peer", "headers", "client"),
    [
        (PROXY, {"X-Forwarded-For": "203.0.113.9"}, "203.0.113.9"),
        (PROXY, {"Forwarded": 'for="[2001:db8::5]:4711";proto=https'}, "2001:db8::5"),
        (PROXY, {"Forwarded": "for=192.0.2.60:8080, for=127.0.5.9"}, "192.0.2.60"),
        (PROXY, {"X-Forwarded-For": "198.51.100.7, 127.0.5.9"}, "198.51.100.7"),
        (PROXY, {"X-Forwarded-For": "10.0.0.1, 198.51.100.8"}, "198.51.100.8"),
        (PROXY, {"X-Forwarded-For": "unknown"}, PROXY),
        (PROXY, {}, PROXY),
        ("127.0.0.3", {"X-Forwarded-For": "203.0.113.10"}, "127.0.0.3"),
        ("127.0.0.3", {"Forwarded": "for=203.0.113.11"}, "127.0.0.3"),
    ],
    ids=[
        "x-forwarded-for",
        "forwarded ipv6",
        "forwarded through two proxies",
        "x-forwarded-for through two proxies",
        "the nearest untrusted hop wins",
        "not an address",
        "no header",
        "untrusted peer",
        "untrusted peer forwarded",
    ],
)
def test_trusted_proxies_name_the_client(
    proxied: Server, peer: str, headers: dict[str, str], client: str
) -> None:
    response = login_from(proxied, peer, headers, "admin", ADMIN_PASSWORD)
    assert response.status_code == 200, response.text
    assert audited_client(proxied, response) == client


def peak_rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise LookupError("no VmHWM")


def test_a_login_flood_runs_a_few_password_checks_at_a_time(proxied: Server) -> None:
    """`login_concurrency = 1`, `login_queue = 2`: of many logins at once, some are refused
    429 at once, the others are answered; the web process does not grow by an argon2 hash's
    64 MiB per login, and other requests are still answered meanwhile."""
    web = role_pid(proxied, "web")
    token = proxied.login()
    before = peak_rss(web)
    start = threading.Barrier(FLOOD + 1)
    answers: list[httpx.Response] = []
    others: list[int] = []

    def log_in(n: int) -> None:
        start.wait()
        headers = {"X-Forwarded-For": f"203.0.113.{n + 1}"}
        answers.append(login_from(proxied, PROXY, headers, "admin", ADMIN_PASSWORD))

    def read_accounts() -> None:
        start.wait()
        with proxied.client(token) as client:
            others.append(client.get("/api/v1/accounts").status_code)

    threads = [threading.Thread(target=log_in, args=(n,)) for n in range(FLOOD)]
    threads.append(threading.Thread(target=read_accounts))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    statuses = sorted(a.status_code for a in answers)
    assert len(statuses) == FLOOD
    assert set(statuses) == {200, 429}, statuses
    busy = [a for a in answers if a.status_code == 429]
    assert busy[0].json()["error"]["code"] == "rate_limited"
    assert busy[0].headers["Retry-After"] == "1"
    assert others == [200]
    grown = peak_rss(web) - before
    assert grown < 4 * 64 * MIB, f"the web process grew by {grown // MIB} MiB"
    # The flood over, logins go through again.
    assert login_from(proxied, PROXY, {}, "admin", ADMIN_PASSWORD).status_code == 200
