"""The `longbridge` SDK, imported here only, and its `Config` built from our settings.

`longbridge` (5.x) is the maintained line of LongPort's SDK; `longport` on PyPI stops at
3.0.18 for CPython 3.11 and has no asyncio contexts, whose absence would force the SDK into a
worker process (its blocking calls hold the GIL)."""

import importlib
from typing import Any

from tradebridge.brokers.longport.config import LongportSettings
from tradebridge.sections import read_secret


def load_sdk() -> Any:
    """`longbridge.openapi`, the module with the contexts, enums and `Config`."""
    return importlib.import_module("longbridge.openapi")


def sdk_config(sdk: Any, settings: LongportSettings) -> Any:
    """The SDK's `Config`: credentials from their files, endpoints where set (empty ones are
    left to the SDK's defaults), no quote-package banner on stdout."""
    app_key = (
        read_secret(settings.app_key_file)
        if settings.app_key_file is not None
        else settings.app_key
    )
    endpoints = {
        name: value
        for name, value in (
            ("http_url", settings.http_url),
            ("quote_ws_url", settings.quote_ws_url),
            ("trade_ws_url", settings.trade_ws_url),
        )
        if value
    }
    return sdk.Config.from_apikey(
        app_key,
        read_secret(settings.app_secret_file),
        read_secret(settings.access_token_file),
        enable_print_quote_packages=False,
        **endpoints,
    )
