"""Helpers of the OpenAPI tests: a server with every documented route (both dialects on), its
document, and the check of an answer against what the document says of it."""

from pathlib import Path
from typing import Any

import httpx
import schemathesis
from schemathesis.schemas import BaseSchema
from tests.conftest import write_config

INSTANCE = "DocumentedInstance01"
HT_TOKEN = "documented-ht-token-0001"


def documented_config(directory: Path, extra: str = "") -> Path:
    """`write_config` with the paper account behind both dialects: every route is served."""
    config = write_config(directory, f"{extra}\n[compat.vnpy]\nenabled = true\n")
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
