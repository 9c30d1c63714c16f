"""The trader commands of `tradebridge` against a real server: orders, the account, quotes,
the live table, profiles, and what goes wrong said plainly."""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from tests.client.conftest import DEEP
from tests.conftest import ADMIN_PASSWORD, Server, free_port, tradebridge_command

from tradebridge_client import Client

SYMBOL = "600519.SH"


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """The user's config dir of the commands (XDG_CONFIG_HOME)."""
    return tmp_path / "config"


def trade(home: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRADEBRIDGE_")}
    return subprocess.run(
        tradebridge_command(*args),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        env={**env, "XDG_CONFIG_HOME": str(home)},
    )


@pytest.fixture
def key(admin: Client) -> str:
    return admin.create_key(["read", "trade"], account="paper").key


def ok(result: subprocess.CompletedProcess[str]) -> Any:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_buy_sell_orders_positions_balance_and_quotes(
    client_server: Server, admin: Client, key: str, home: Path
) -> None:
    where = ["--url", client_server.base_url, "--api-key", key]
    bought = ok(trade(home, "buy", SYMBOL, "100", "--limit", "1500.01", *where, "--json"))
    assert (bought["status"], bought["filled_qty"], bought["avg_fill_price"]) == (
        "filled",
        100,
        "1500.0100",
    )
    assert bought["client_order_id"].startswith("tbc-")

    refused = trade(home, "sell", SYMBOL, "100", "--limit", "1499.99", *where)
    assert refused.returncode == 1
    assert "order rejected (insufficient_position)" in refused.stderr  # T+1

    resting = ok(trade(home, "buy", SYMBOL, "100", "--limit", "1400.00", *where, "--json"))
    listed = ok(trade(home, "orders", "--status", "open", *where, "--json"))
    assert [o["id"] for o in listed] == [resting["id"]]
    table = trade(home, "orders", *where)
    assert resting["id"] in table.stdout
    assert "insufficient_position" in table.stdout

    (position,) = ok(trade(home, "positions", *where, "--json"))
    assert (position["symbol"], position["qty"], position["available_qty"]) == (SYMBOL, 100, 0)
    balance = ok(trade(home, "balance", *where, "--json"))
    assert balance["account"] == "paper"
    assert balance["market_value"] == "150000.00"
    assert "equity" in trade(home, "balance", *where).stdout

    (quote,) = ok(trade(home, "quote", SYMBOL, *where, "--json"))
    assert (quote["last"], quote["ask"]) == ("1500.00", "1500.01")

    canceled = ok(trade(home, "cancel", resting["id"], *where, "--json"))
    assert [o["status"] for o in canceled] == ["canceled"]
    ok(trade(home, "buy", SYMBOL, "100", "--limit", "1390.00", *where, "--json"))
    everything = ok(trade(home, "cancel", "--all", *where, "--json"))
    assert [o["status"] for o in everything] == ["canceled"]
    assert admin.orders("paper", status="open") == []


def test_a_client_order_id_sent_twice_places_one_order(
    client_server: Server, admin: Client, key: str, home: Path
) -> None:
    where = ["--url", client_server.base_url, "--api-key", key]
    args = [
        "buy",
        SYMBOL,
        "100",
        "--limit",
        "1400.00",
        "--client-order-id",
        "cli-once",
        *where,
        "--json",
    ]
    first, again = ok(trade(home, *args)), ok(trade(home, *args))
    assert again["id"] == first["id"]
    assert [o.id for o in admin.orders("paper") if o.client_order_id == "cli-once"] == [first["id"]]


def test_login_saves_a_profile_the_commands_use(
    client_server: Server, admin: Client, home: Path
) -> None:
    result = trade(
        home,
        "login",
        "--url",
        client_server.base_url,
        "--user",
        "admin",
        "--account",
        "paper",
        "--password-stdin",
        stdin=ADMIN_PASSWORD + "\n",
    )
    assert result.returncode == 0, result.stderr
    config = home / "tradebridge" / "config.toml"
    assert oct(config.stat().st_mode & 0o777) == "0o600"
    assert 'account = "paper"' in config.read_text()
    assert ok(trade(home, "positions", "--json")) == []  # URL, key and account from the profile
    other = trade(home, "positions", "--profile", "elsewhere")
    assert other.returncode == 2
    assert "no profile 'elsewhere'" in other.stderr


def test_what_goes_wrong_is_said(client_server: Server, key: str, home: Path) -> None:
    nowhere = trade(home, "balance", "--url", f"http://127.0.0.1:{free_port()}", "--api-key", key)
    assert nowhere.returncode == 3
    assert "cannot reach" in nowhere.stderr
    keyless = trade(home, "balance", "--url", client_server.base_url)
    assert keyless.returncode == 2
    assert "no API key" in keyless.stderr
    wrong = trade(home, "balance", "--url", client_server.base_url, "--api-key", "tb_wrong")
    assert wrong.returncode == 1
    assert "unauthorized" in wrong.stderr
    neither = trade(home, "cancel", "--url", client_server.base_url, "--api-key", key)
    assert neither.returncode == 2
    assert "give an order id or --all" in neither.stderr


def test_watch_shows_orders_positions_and_quotes_as_they_change(
    client_server: Server, admin: Client, key: str, home: Path
) -> None:
    placed: list[str] = []

    def later() -> None:
        time.sleep(2.0)
        admin.paper_set_quote("paper", SYMBOL, "1501.00", **DEEP)
        placed.append(admin.buy("paper", SYMBOL, 100, limit_price="1400.00").id)

    changer = threading.Thread(target=later)
    changer.start()
    result = trade(
        home, "watch", SYMBOL, "--for", "5", "--url", client_server.base_url, "--api-key", key
    )
    changer.join()
    assert result.returncode == 0, result.stderr
    final = result.stdout[result.stdout.rfind("open orders of paper") :]
    assert placed[0] in final
    assert "1501.00" in final
    assert SYMBOL in final
