"""The set-up docs/README.md gives for QMT ("The engine on the Windows host, the web on Linux"),
on one Linux host: `tradebridge engine` hosting a `qmt` account (the xtquant stand-in on its
path, a simulated MiniQMT) with CURVE on a TCP link, and `tradebridge web` with the web's keys
and the same accounts, as two processes of their own."""

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.brokers.qmt.qmt_support import (
    ACCOUNT,
    STANDIN,
    MiniQmtProcess,
    miniqmt,
    qmt_account_toml,
)
from tests.conftest import write_config
from tests.e2e.lifecycle_support import start_alone, wait_until, web_server, with_settings
from tests.e2e.test_engine_link_security import config_copy, make_keys, web_config

from tradebridge.brokers.qmt.mapping import STRATEGY_NAME, remark_of


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[MiniQmtProcess]:
    with miniqmt(tmp_path / "userdata") as running:
        running.call("set_cash", account=ACCOUNT, cash=100_000)
        yield running


def test_engine_beside_miniqmt_and_web_apart_over_curve(
    tmp_path: Path, sim: MiniQmtProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    keys = tmp_path / "curve"
    make_keys(keys)
    config = write_config(tmp_path, qmt_account_toml(sim.userdata, sim.data_address))
    engine_config = with_settings(
        config_copy(config, tmp_path / "engine"),
        "engine",
        curve_secret_key=str(keys / "engine.key_secret"),
        curve_authorized_keys=str(keys / "authorized"),
    )
    path = os.pathsep.join(p for p in (str(STANDIN), os.environ.get("PYTHONPATH")) if p)
    monkeypatch.setenv("PYTHONPATH", path)  # xtquant (the stand-in) for the engine only
    engine = start_alone("engine", engine_config)
    monkeypatch.undo()
    web = None
    try:
        web_toml = web_config(config, tmp_path / "web", keys, keys)
        web = start_alone("web", web_toml)
        server = web_server(web_toml, web)
        with server.client() as anonymous:

            def healthy() -> bool:
                health = anonymous.get("/api/v1/health").json()
                return bool(health["status"] == "ok" and health["engines"][0]["link"] == "up")

            wait_until(healthy, "health ok with the link up", lambda: engine.output()[-4000:])
        log = engine.output()
        assert "engine link secured with CURVE (authorized client keys: 1)" in log
        assert f"account qmt: broker connected (connected to MiniQMT ({sim.userdata})" in log

        with server.client(server.login()) as api:
            accounts = {a["id"]: a for a in api.get("/api/v1/accounts").json()}
            assert accounts["qmt"]["connected"] is True
            placed = api.post(  # the body of the docs' step 10
                "/api/v1/accounts/qmt/orders",
                json={
                    "symbol": "600000.SH",
                    "side": "buy",
                    "qty": 100,
                    "limit_price": 10.5,
                    "client_order_id": "s1-0001",
                },
            )
            assert placed.status_code == 201, placed.text
            order = placed.json()
        (at_miniqmt,) = sim.orders()
        assert at_miniqmt["strategy_name"] == STRATEGY_NAME
        assert at_miniqmt["order_remark"] == remark_of(order["id"])
    finally:
        if web is not None:
            assert web.terminate() == 0, web.output()
        assert engine.terminate() == 0, engine.output()
