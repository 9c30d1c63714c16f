"""xtquant's market data API (`xtquant.xtdata`), reproduced over the simulated MiniQMT.

As in the real module the connection is implicit and global: every call goes through
`get_client()`, which connects (again) to the last address `connect()` succeeded with, and
`connect()` without an address tries the default one, 127.0.0.1:58610. Subscription callbacks
run on the client's own (non-asyncio) thread; an exception they raise is printed and swallowed.
A quote pushed for `subscribe_quote` is `{code: [tick, ...]}`, for `subscribe_whole_quote`
`{code: tick}`. Tick fields as the real ones: `time` (epoch ms), `lastPrice`, `lastClose`,
five-level `askPrice`/`bidPrice`/`askVol`/`bidVol` (volumes in lots), `volume`, `pvolume`, ...
"""

import itertools
import threading
import traceback
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from . import _link

enable_hello = True
DEFAULT_ADDRESS = ("127.0.0.1", 58610)
ANSWER_WITHIN_S = 10.0
"""How long a call waits for MiniQMT before it raises (the real client's timeout is not
documented)."""


class _Client:
    def __init__(self, address: tuple[str, int]) -> None:
        self._seqs = itertools.count(1)
        self._waiting: dict[int, Future[Any]] = {}
        self._callbacks: dict[int, tuple[str, Callable[[Any], None]]] = {}
        self._lock = threading.Lock()
        self.link = _link.Link(address, self._on_message, lambda: None)
        hello = self.link.request({"op": "hello", "role": "data"})
        if hello.get("result") != 0:
            self.link.close()
            raise ConnectionError(f"MiniQMT refused the data connection: {hello}")
        self.link.start("xtdata-client")
        self.address = address

    def is_connected(self) -> bool:
        return self.link.up

    def call(self, op: str, **fields: Any) -> Any:
        with self._lock:
            seq = next(self._seqs)
            future: Future[Any] = Future()
            self._waiting[seq] = future
        if not self.link.send({"op": op, "seq": seq, **fields}):
            raise Exception("行情服务连接断开")
        try:
            return future.result(ANSWER_WITHIN_S)
        finally:
            self._waiting.pop(seq, None)

    def subscribe(self, shape: str, callback: Callable[[Any], None] | None, **fields: Any) -> int:
        sub = int(self.call("subscribe_quote", **fields))
        if sub > 0 and callback is not None:
            self._callbacks[sub] = (shape, callback)
        return sub

    def unsubscribe(self, sub: int) -> None:
        self._callbacks.pop(sub, None)
        self.call("unsubscribe_quote", sub=sub)

    def _on_message(self, message: dict[str, Any]) -> None:
        if message["type"] == "resp":
            future = self._waiting.get(message["seq"])
            if future is not None and not future.done():
                future.set_result(message["data"])
        elif message["type"] == "quote":
            found = self._callbacks.get(message["sub"])
            if found is None:
                return
            shape, callback = found
            ticks: dict[str, Any] = message["data"]
            datas = {code: [tick] for code, tick in ticks.items()} if shape == "list" else ticks
            try:
                callback(datas)
            except Exception:
                print("subscribe callback error:", callback)
                traceback.print_exc()


_client: _Client | None = None
_last_spec: tuple[str, Any] = ("", None)


def connect(ip="", port=None, remember_if_success=True):
    global _client, _last_spec
    if _client is not None and _client.is_connected():
        return _client
    if not port and ip not in ("", "127.0.0.1", "localhost"):
        raise Exception("远程地址不支持仅输入IP")
    if isinstance(port, int):
        servers = [(ip, port)] if ip else [("127.0.0.1", port), ("localhost", port)]
    else:
        servers = [DEFAULT_ADDRESS]
    for server in servers:
        try:
            _client = _Client(server)
            break
        except OSError:
            _client = None
    if _client is None:
        raise Exception("无法连接xtquant服务，请检查QMT-投研版或QMT-极简版是否开启")
    if remember_if_success:
        _last_spec = (ip, port)
    hello()
    return _client


def reconnect(ip="", port=None, remember_if_success=True):
    disconnect()
    return connect(ip, port, remember_if_success)


def disconnect():
    global _client
    if _client is not None:
        _client.link.close()
        _client = None


def get_client():
    if _client is None or not _client.is_connected():
        ip, port = _last_spec
        return connect(ip, port, False)
    return _client


def hello():
    if enable_hello:
        address = get_client().address
        print(f"***** xtdata连接成功 *****\n服务地址: {address[0]}:{address[1]}\n")


def get_full_tick(code_list):
    """`{code: tick}` of the codes MiniQMT knows (codes it does not are left out)."""
    return get_client().call("full_tick", codes=list(code_list))


def get_instrument_detail(stock_code, iscomplete=False):
    """The instrument's static data (`InstrumentName`, `PreClose`, `PriceTick`,
    `UpStopPrice`, `DownStopPrice`, ...), or None if MiniQMT does not know `stock_code`."""
    return get_client().call("instrument", code=stock_code)


def subscribe_quote(stock_code, period="1d", start_time="", end_time="", count=0, callback=None):
    """A subscription number (>0), or -1; `callback({code: [data, ...]})` on every update."""
    return get_client().subscribe("list", callback, codes=[stock_code], period=period)


def subscribe_whole_quote(code_list, callback=None):
    """A subscription number (>0), or -1; `callback({code: data, ...})` on every update."""
    return get_client().subscribe("dict", callback, codes=list(code_list), period="tick")


def unsubscribe_quote(seq):
    get_client().unsubscribe(seq)


def run():
    import time

    client = get_client()
    while True:
        time.sleep(3)
        if not client.is_connected():
            raise Exception("行情服务连接断开")
