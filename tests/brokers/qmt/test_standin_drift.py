"""The xtquant stand-in against the real wheel (installed by the `qmt` extra): the same
constants, data classes, method and function signatures, so the stand-in cannot drift from
what the adapter meets on Windows.

The real package is read without running its `__init__` (which asks PyPI for a newer
version): `xtconstant` and `xttype` are pure Python and are imported as a package of another
name; `xttrader` and `xtdata` need Windows-only modules, so their source is parsed instead."""

import ast
import importlib
import importlib.metadata
import inspect
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.brokers.qmt.qmt_support import standin_importable

from tradebridge.brokers.qmt.mapping import build_tables

REAL = "real_xtquant"


@pytest.fixture(scope="module")
def real() -> Iterator[dict[str, Any]]:
    folder = Path(str(importlib.metadata.distribution("xtquant").locate_file("xtquant")))
    package = types.ModuleType(REAL)
    package.__path__ = [str(folder)]
    sys.modules[REAL] = package
    try:
        yield {
            "folder": folder,
            "xtconstant": importlib.import_module(f"{REAL}.xtconstant"),
            "xttype": importlib.import_module(f"{REAL}.xttype"),
        }
    finally:
        for name in [n for n in sys.modules if n == REAL or n.startswith(f"{REAL}.")]:
            del sys.modules[name]


@pytest.fixture(scope="module")
def standin() -> Iterator[dict[str, Any]]:
    with standin_importable():
        yield {
            name: importlib.import_module(f"xtquant.{name}")
            for name in ("xtconstant", "xttype", "xttrader", "xtdata")
        }


def public_values(module: Any) -> dict[str, Any]:
    return {
        name: value
        for name, value in vars(module).items()
        if name.isupper() and not isinstance(value, types.ModuleType)
    }


def test_every_constant_has_the_real_value(real: dict[str, Any], standin: dict[str, Any]) -> None:
    ours = public_values(standin["xtconstant"])
    theirs = public_values(real["xtconstant"])
    assert len(ours) > 90
    assert set(ours) <= set(theirs), f"not in the real xtconstant: {set(ours) - set(theirs)}"
    for name, value in ours.items():
        if isinstance(value, dict):
            assert value.items() <= theirs[name].items(), name
        else:
            assert value == theirs[name], name


def test_the_adapter_tables_build_alike_on_both(
    real: dict[str, Any], standin: dict[str, Any]
) -> None:
    """Every constant the adapter maps exists in the real wheel, with the stand-in's value."""
    with_real, with_standin = build_tables(real["xtconstant"]), build_tables(standin["xtconstant"])
    for table in ("status", "side", "price_type", "account_status"):
        assert getattr(with_real, table)._ours == getattr(with_standin, table)._ours, table
    assert with_real.market_price_type == with_standin.market_price_type


def test_data_classes_have_the_real_constructors_and_attributes(
    real: dict[str, Any], standin: dict[str, Any]
) -> None:
    classes = [
        name
        for name, value in vars(standin["xttype"]).items()
        if inspect.isclass(value) and value.__module__ == "xtquant.xttype"
    ]
    assert len(classes) == 10
    for name in classes:
        ours, theirs = getattr(standin["xttype"], name), getattr(real["xttype"], name)
        assert inspect.signature(ours.__init__) == inspect.signature(theirs.__init__), name
        if name == "StockAccount":
            continue
        arguments = list(inspect.signature(ours.__init__).parameters)[1:]
        dummy = {argument: 1 for argument in arguments}
        assert vars(ours(**dummy)) == vars(theirs(**dummy)), name


def test_an_account_is_checked_as_the_real_one_checks_it(
    real: dict[str, Any], standin: dict[str, Any]
) -> None:
    for module in (real["xttype"], standin["xttype"]):
        assert module.StockAccount(55001234) == "资金账号必须为字符串类型"
        credit = module.StockAccount("55001234", "credit")
        assert (credit.account_id, credit.account_type) == ("55001234", 3)
        with pytest.raises(Exception, match="不支持的账号类型"):
            module.StockAccount("55001234", "BOND")


def _literal(node: ast.expr) -> Any:
    try:
        return ast.literal_eval(node)
    except ValueError:  # a computed default: compared as its source text
        return ast.unparse(node)


def signatures(source: Path, owner: str | None) -> dict[str, list[tuple[str, Any]]]:
    """Functions of `source` (or methods of class `owner`): parameter names and defaults."""
    tree = ast.parse(source.read_text(encoding="utf-8"))
    body = tree.body
    if owner is not None:
        body = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == owner).body
    found = {}
    for node in body:
        if isinstance(node, ast.FunctionDef):
            names = [a.arg for a in node.args.args]
            defaults = [_literal(d) for d in node.args.defaults]
            padded = [inspect.Parameter.empty] * (len(names) - len(defaults)) + defaults
            found[node.name] = list(zip(names, padded, strict=True))
        elif (
            isinstance(node, ast.Assign)
            and isinstance(node.value, ast.Name)
            and node.value.id in found
        ):
            for target in node.targets:  # aliases such as query_account_info = ...
                if isinstance(target, ast.Name):
                    found[target.id] = found[node.value.id]
    return found


def ours(function: Any) -> list[tuple[str, Any]]:
    return [(p.name, p.default) for p in inspect.signature(function).parameters.values()]


def public(namespace: Any) -> dict[str, Any]:
    return {
        name: value
        for name, value in vars(namespace).items()
        if callable(value) and not name.startswith("_") and not inspect.isclass(value)
    }


def test_the_trader_and_its_callbacks_have_the_real_signatures(
    real: dict[str, Any], standin: dict[str, Any]
) -> None:
    source = real["folder"] / "xttrader.py"
    for owner in ("XtQuantTrader", "XtQuantTraderCallback"):
        theirs = signatures(source, owner)
        methods = public(getattr(standin["xttrader"], owner))
        assert len(methods) > 15
        for name, method in methods.items():
            assert name in theirs, f"{owner}.{name} is not in the real xttrader"
            assert ours(method) == theirs[name], f"{owner}.{name}"
    real_callbacks = {n for n in signatures(source, "XtQuantTraderCallback") if n[0] != "_"}
    assert set(public(standin["xttrader"].XtQuantTraderCallback)) == real_callbacks


def test_xtdata_functions_have_the_real_signatures(
    real: dict[str, Any], standin: dict[str, Any]
) -> None:
    theirs = signatures(real["folder"] / "xtdata.py", None)
    functions = {
        name: value
        for name, value in public(standin["xtdata"]).items()
        if inspect.isfunction(value) and value.__module__ == "xtquant.xtdata"
    }
    assert {"get_full_tick", "subscribe_quote", "get_instrument_detail"} <= set(functions)
    for name, function in functions.items():
        assert ours(function) == theirs[name], name
