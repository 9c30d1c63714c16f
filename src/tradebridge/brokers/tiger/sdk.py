"""tigeropen, imported only when a tiger account starts, and its client configuration.

The configuration never asks Tiger's domain service where to connect
(`enable_dynamic_domain=False`: it would overwrite the URLs with production ones), sets the
quote gateway as well as the trade one (the SDK would otherwise send quote calls to
production), reads no properties or token file but those in the adapter's own directory, and
bounds the SDK's resending of failed queries (orders and cancels it never resends)."""

import importlib
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from tradebridge.brokers.tiger.config import TigerSettings, parse_socket_host_port


def load_tiger() -> SimpleNamespace:
    """The SDK's names the adapter uses."""

    def attr(module: str, name: str) -> Any:
        return getattr(importlib.import_module(module), name)

    return SimpleNamespace(
        Config=attr("tigeropen.tiger_open_config", "TigerOpenClientConfig"),
        SERVER_URL=attr("tigeropen.tiger_open_config", "SERVER_URL"),
        SOCKET_HOST_PORT=attr("tigeropen.tiger_open_config", "SOCKET_HOST_PORT"),
        TradeClient=attr("tigeropen.trade.trade_client", "TradeClient"),
        QuoteClient=attr("tigeropen.quote.quote_client", "QuoteClient"),
        PushClient=attr("tigeropen.push.push_client", "PushClient"),
        CallbackExecutor=attr("tigeropen.push.thread_pool", "CallbackThreadPoolExecutor"),
        stock_contract=attr("tigeropen.common.util.contract_utils", "stock_contract"),
        Order=attr("tigeropen.trade.domain.order", "Order"),
        ApiException=attr("tigeropen.common.exceptions", "ApiException"),
        RequestException=attr("tigeropen.common.exceptions", "RequestException"),
        ResponseException=attr("tigeropen.common.exceptions", "ResponseException"),
    )


def private_key(path: Path) -> str:
    """The key of a PEM file (PKCS#1 or PKCS#8) as the SDK signs with it: the base64 of its
    DER, without the armour lines."""
    lines = path.read_text(encoding="ascii").splitlines()
    return "".join(line.strip() for line in lines if line.strip() and not line.startswith("-----"))


def client_config(sdk: SimpleNamespace, settings: TigerSettings, files: Path) -> Any:
    """A `TigerOpenClientConfig` for `settings`, its files (none by default) under `files`."""
    files.mkdir(parents=True, exist_ok=True)
    config = sdk.Config(enable_dynamic_domain=False, props_path=str(files))
    config.tiger_id = settings.tiger_id
    config.account = settings.account
    config.private_key = private_key(settings.private_key_file)
    if settings.license:
        config.license = settings.license
    config.server_url = settings.server_url or sdk.SERVER_URL
    config.quote_server_url = config.server_url
    config.socket_host_port = (
        parse_socket_host_port(settings.socket_host_port)
        if settings.socket_host_port
        else sdk.SOCKET_HOST_PORT
    )
    config.timeout = settings.request_timeout_s
    config.retry_max_tries = settings.read_retries + 1 if settings.read_retries else 0
    config.retry_max_time = settings.request_timeout_s * (settings.read_retries + 1)
    return config
