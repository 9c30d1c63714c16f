"""Helpers of the OpenAPI tests: a server with every documented route (every dialect on), its
document, and the check of an answer against what the document says of it."""

import os
import subprocess
import time
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import schemathesis
from schemathesis.schemas import BaseSchema
from tests.conftest import ADMIN_PASSWORD, tradebridge_command, write_config

INSTANCE = "DocumentedInstance01"
HT_TOKEN = "documented-ht-token-0001"


def documented_config(directory: Path, extra: str = "") -> Path:
    """`write_config` with the paper account behind every dialect: every route is served."""
    dialects = "".join(
        f"\n[compat.{name}]\nenabled = true\n" for name in ("vnpy", "qmt_service", "xtquant_http")
    )
    config = write_config(directory, extra + dialects)
    text = config.read_text()
    paper = '[[accounts]]\nid = "paper"\n'
    instance = f'httptrading_instance_id = "{INSTANCE}"\nhttptrading_tokens = ["{HT_TOKEN}"]\n'
    config.write_text(text.replace(paper, paper + instance))
    return config


def load(document: dict[str, Any]) -> BaseSchema:
    return schemathesis.openapi.from_dict(document)


def operations(document: dict[str, Any]) -> list[tuple[str, str]]:
    """(method, path template) of every operation, in the document's order."""
    return [
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method in item
        if method in ("get", "put", "post", "delete", "patch")
    ]


def check_answer(
    schema: BaseSchema, method: str, path: str, response: httpx.Response
) -> dict[str, Any]:
    """Fail unless the document lists the status of `response` for the operation and the
    body matches the schema it gives; the operation's documentation."""
    operation = schema.raw_schema["paths"][path][method.lower()]
    status = str(response.status_code)
    assert status in operation["responses"], (
        f"{method} {path} answered {status}, which its documentation does not list: "
        f"{sorted(operation['responses'])}\n{response.text}"
    )
    schema[path][method].validate_response(response)
    return dict(operation)


@contextmanager
def web_alone(config: Path) -> Iterator[str]:
    """`tradebridge web` without its engine (none runs at the configured address); its URL."""
    port = tomllib.loads(config.read_text())["server"]["port"]
    base_url = f"http://127.0.0.1:{port}"
    log = config.parent / "web.log"
    environment = {**os.environ, "TRADEBRIDGE_ADMIN_PASSWORD": ADMIN_PASSWORD}
    with log.open("ab") as sink:
        process = subprocess.Popen(
            tradebridge_command("web", "--config", str(config)),
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=environment,
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, log.read_text()
            try:
                if httpx.get(base_url + "/api/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the web process never answered"
            time.sleep(0.2)
        yield base_url
    finally:
        process.terminate()
        process.wait(30)
