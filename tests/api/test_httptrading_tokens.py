"""An account's httptrading tokens work as API keys bound to that account."""

from collections.abc import Iterator

import httpx
import pytest
from tests.conftest import Server, start_server, write_config

TOKEN = "httptrading-token-for-tests-0001"


@pytest.fixture(scope="module")
def two_accounts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    extra = """
[[accounts]]
id = "other"

[accounts.paper]
market = "manual"
"""
    config = write_config(tmp_path_factory.mktemp("httptrading"), extra)
    text = config.read_text()
    paper = '[[accounts]]\nid = "paper"\n'
    assert paper in text
    config.write_text(text.replace(paper, f'{paper}httptrading_tokens = ["{TOKEN}"]\n'))
    running = start_server(config)
    yield running
    assert running.stop() == 0


def test_the_token_reads_and_trades_its_own_account(two_accounts: Server) -> None:
    with httpx.Client(base_url=two_accounts.base_url, headers={"X-API-Key": TOKEN}) as client:
        assert client.get("/api/v1/accounts/paper").status_code == 200
        order = {"symbol": "600519.SH", "side": "buy", "qty": 100, "type": "market"}
        assert client.post("/api/v1/accounts/paper/orders", json=order).status_code == 201


def test_the_token_opens_no_other_account(two_accounts: Server) -> None:
    with httpx.Client(base_url=two_accounts.base_url, headers={"X-API-Key": TOKEN}) as client:
        assert client.get("/api/v1/accounts/other").status_code == 403
        order = {"symbol": "600519.SH", "side": "buy", "qty": 100, "type": "market"}
        assert client.post("/api/v1/accounts/other/orders", json=order).status_code == 403
        assert client.post("/api/v1/paper/paper/reset").status_code == 403


def test_a_wrong_token_is_refused(two_accounts: Server) -> None:
    headers = {"Authorization": "Bearer httptrading-token-for-tests-0002"}
    with httpx.Client(base_url=two_accounts.base_url, headers=headers) as client:
        assert client.get("/api/v1/accounts/paper").status_code == 401
