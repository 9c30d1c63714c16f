"""A schemathesis run of `/openapi.json` against a real `tradebridge serve` (paper account,
both dialects on): no answer may be a 5xx, carry a status its operation does not document, or
break the documented schema, headers or content type. Bounded to `BUDGET_S`."""

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.api.openapi_support import INSTANCE, documented_config
from tests.conftest import Server, start_server

BUDGET_S = 100
SEED = 20261207
CHECKS = "all"
EXCLUDED = "positive_data_acceptance,use_after_free"
"""Valid data may still be refused by the market (an odd lot, a closed venue, no funds). And a
DELETE here cancels rather than removes (an order, or all of an account's open orders, stay
readable with their final status: API.md §3), which `use_after_free` takes for a resource still
served after it was deleted."""
CONFIG = f"""
[parameters]
"path.account" = "paper"
"path.instanceId" = "{INSTANCE}"
"""
"""Pinned path parameters: with random ones every request would end in a 404."""


@pytest.fixture
def fuzzed(tmp_path: Path) -> Iterator[Server]:
    config = documented_config(tmp_path)
    # A loaded machine must not turn a slow answer into a 504 (which is not a bug).
    text = config.read_text().replace(
        "heartbeat_ms = 200", "heartbeat_ms = 200\nrpc_timeout_ms = 30000"
    )
    config.write_text(text)
    server = start_server(config)
    yield server
    assert server.stop() == 0


def test_the_document_holds_for_whatever_schemathesis_sends(fuzzed: Server, tmp_path: Path) -> None:
    config = tmp_path / "schemathesis.toml"
    config.write_text(CONFIG)
    st = Path(sys.executable).parent / "st"
    run = subprocess.run(
        [
            str(st),
            "--config-file",
            str(config),
            "run",
            fuzzed.base_url + "/openapi.json",
            "--header",
            f"Authorization: Bearer {fuzzed.login()}",
            "--checks",
            CHECKS,
            "--exclude-checks",
            EXCLUDED,
            "--max-time",
            str(BUDGET_S),
            "--seed",
            str(SEED),
            "--workers",
            "1",  # several threads trip a CPython 3.11 `ast` race inside hypothesis
            "--no-color",
            "--generation-database",
            "none",
        ],
        capture_output=True,
        text=True,
        timeout=BUDGET_S + 120,
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stdout[-20000:] + run.stderr[-5000:]
    assert "Tested: " in run.stdout
