"""The client is its own distribution: it installs alone, with its three dependencies, and
imports nothing of the server."""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
from pathlib import Path

CLIENT = Path(__file__).parents[2] / "client"
SOURCE = CLIENT / "src" / "tradebridge_client"


def test_the_client_imports_nothing_of_the_server() -> None:
    for file in SOURCE.rglob("*.py"):
        tree = ast.parse(file.read_text(), str(file))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                assert name.split(".")[0] != "tradebridge", f"{file.name} imports {name}"


def test_it_depends_on_httpx_msgspec_and_websockets_only() -> None:
    project = tomllib.loads((CLIENT / "pyproject.toml").read_text())["project"]
    assert sorted(d.split(">")[0] for d in project["dependencies"]) == [
        "httpx",
        "msgspec",
        "websockets",
    ]


def test_it_installs_and_works_without_the_server(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    installed = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", str(CLIENT)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert installed.returncode == 0, installed.stderr
    probe = (
        "import importlib.util, tradebridge_client, tradebridge_client.live, "
        "tradebridge_client.strategy\n"
        "assert importlib.util.find_spec('tradebridge') is None\n"
        "from tradebridge_client import Client, new_client_order_id\n"
        "print(tradebridge_client.__version__, new_client_order_id()[:4])\n"
    )
    result = subprocess.run([str(python), "-c", probe], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["0.1.0", "tbc-"]
