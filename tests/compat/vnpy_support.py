"""Helpers of the vnpy WebTrader dialect tests: servers with `[compat.vnpy]`, the client of
the WebTrader document (reference 000, §6.1) written in our own code, vnpy's field lists."""

import json
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import jwt
from tests.api.auth_support import PASSWORD, add_user
from tests.conftest import Server, start_server, write_config
from websockets.sync.client import ClientConnection, connect

ACCOUNT_FIELDS = {"accountid", "balance", "frozen", "available", "gateway_name", "vt_accountid"}
ORDER_FIELDS = {
    "symbol",
    "exchange",
    "orderid",
    "type",
    "direction",
    "offset",
    "price",
    "volume",
    "traded",
    "status",
    "datetime",
    "reference",
    "gateway_name",
    "vt_symbol",
    "vt_orderid",
}
TRADE_FIELDS = {
    "symbol",
    "exchange",
    "orderid",
    "tradeid",
    "direction",
    "offset",
    "price",
    "volume",
    "datetime",
    "gateway_name",
    "vt_symbol",
    "vt_orderid",
    "vt_tradeid",
}
POSITION_FIELDS = {
    "symbol",
    "exchange",
    "direction",
    "volume",
    "frozen",
    "price",
    "pnl",
    "yd_volume",
    "gateway_name",
    "vt_symbol",
    "vt_positionid",
}
CONTRACT_FIELDS = {
    "symbol",
    "exchange",
    "name",
    "product",
    "size",
    "pricetick",
    "min_volume",
    "max_volume",
    "stop_supported",
    "net_position",
    "history_data",
    "gateway_name",
    "vt_symbol",
}
OPTION_FIELDS = {
    "option_strike",
    "option_underlying",
    "option_type",
    "option_listed",
    "option_expiry",
    "option_portfolio",
    "option_index",
}
"""Present on every contract, null: we trade no options."""
DEPTH_FIELDS = {
    f"{side}_{kind}_{level}"
    for side in ("bid", "ask")
    for kind in ("price", "volume")
    for level in range(1, 6)
}
TICK_FIELDS = {
    "symbol",
    "exchange",
    "datetime",
    "name",
    "volume",
    "turnover",
    "open_interest",
    "last_price",
    "last_volume",
    "limit_up",
    "limit_down",
    "open_price",
    "high_price",
    "low_price",
    "pre_close",
    *DEPTH_FIELDS,
    "localtime",
    "gateway_name",
    "vt_symbol",
}
DATETIME = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{6})?\+08:00"
"""`str()` of a datetime in China time, as vnpy's `to_dict` writes it."""

COPPER = "cu2601.SHFE"


def vnpy_config(
    directory: Path, *, language: str = "zh", envelope: bool = True, extra: str = ""
) -> Path:
    """`write_config` with the dialect enabled for the account `paper`."""
    dialect = (
        f'[compat.vnpy]\nenabled = true\nlanguage = "{language}"\n'
        f"envelope = {str(envelope).lower()}\n"
    )
    return write_config(directory, f"{extra}\n{dialect}")


@contextmanager
def vnpy_server(directory: Path, **options: Any) -> Iterator[Server]:
    server = start_server(vnpy_config(directory, **options))
    try:
        yield server
    finally:
        assert server.stop() == 0


class WebTrader:
    """The document's `VnPyTrader`: log in with a form, send orders as JSON with the token,
    read results from `r.json()["data"]` (or the bare body without the envelope), and open
    the push channel at `/ws/?token=`."""

    def __init__(self, base_url: str, envelope: bool = True) -> None:
        self.base_url = base_url
        self.envelope = envelope
        self.token: str | None = None

    def login(self, username: str, password: str) -> bool:
        r = httpx.post(f"{self.base_url}/token", data={"username": username, "password": password})
        if r.status_code == 200:
            self.token = r.json()["access_token"]
            return True
        return False

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def send_order(self, order_req: dict[str, Any]) -> Any:
        r = httpx.post(f"{self.base_url}/order", json=order_req, headers=self.headers)
        if r.status_code == 200:
            return self.result(r)
        return None

    def result(self, r: httpx.Response) -> Any:
        assert r.status_code == 200, r.text
        return r.json()["data"] if self.envelope else r.json()

    def get(self, path: str) -> Any:
        return self.result(httpx.get(f"{self.base_url}{path}", headers=self.headers))

    def subscribe(self, vt_symbol: str) -> Any:
        return self.result(httpx.post(f"{self.base_url}/tick/{vt_symbol}", headers=self.headers))

    def cancel(self, vt_orderid: str) -> Any:
        url = f"{self.base_url}/order/{vt_orderid}"
        return self.result(httpx.delete(url, headers=self.headers))

    @contextmanager
    def connect_ws(self) -> Iterator["Pushes"]:
        ws_url = self.base_url.replace("http://", "ws://") + f"/ws/?token={self.token}"
        with connect(ws_url) as ws:
            yield Pushes(ws)


class Pushes:
    """The messages of one WebSocket, kept in arrival order."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.received: list[dict[str, Any]] = []

    def until(
        self,
        kind: str,
        predicate: Callable[[dict[str, Any]], bool] = lambda data: True,
        within: float = 15,
    ) -> dict[str, Any]:
        """The `data` of the first message of type `kind` matching `predicate`, reading on
        as far as needed (`TimeoutError` after `within` seconds)."""
        for message in self.received:
            if message["type"] == kind and predicate(message["data"]):
                return dict(message["data"])
        deadline = time.monotonic() + within
        while True:
            message = json.loads(self.ws.recv(timeout=max(deadline - time.monotonic(), 0.01)))
            self.received.append(message)
            if message["type"] == kind and predicate(message["data"]):
                return dict(message["data"])


def trader_login(server: Server, envelope: bool = True) -> WebTrader:
    """A `WebTrader` logged in as a new trader (the document's "vnpy" user is ours)."""
    trader = WebTrader(server.base_url, envelope)
    assert trader.login(add_user(server, "trader"), PASSWORD)
    return trader


def set_market(server: Server, admin: str, symbol: str, **quote: Any) -> None:
    """Set the paper market of `symbol` as the admin (`POST /api/v1/paper/paper/quotes`)."""
    with server.client(admin) as api:
        response = api.post("/api/v1/paper/paper/quotes", json={"symbol": symbol, **quote})
    assert response.status_code == 200, response.text


def reset_paper(server: Server, admin: str) -> None:
    with server.client(admin) as api:
        api.post("/api/v1/paper/paper/reset").raise_for_status()


def signed_with_test(token: str) -> list[str]:
    """Tokens signed with vnpy_webtrader's secret "test": vnpy's own (`sub` and `exp`), and
    one with every claim of `token` (a real one of ours)."""
    claims = jwt.decode(token, options={"verify_signature": False})
    vnpy = {"sub": "vnpy", "exp": claims["exp"]}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jwt.warnings.InsecureKeyLengthWarning)
        return [jwt.encode(vnpy, "test", "HS256"), jwt.encode(claims, "test", "HS256")]
