"""xtquant's trading API (`xtquant.xttrader`), reproduced over the simulated MiniQMT.

What is kept from the real module, because an adapter depends on it:
- the constructor makes an asyncio event loop and sets it as the constructing thread's loop
  (so a trader built on a thread that runs asyncio would replace that thread's loop);
- `start()` creates one single-thread executor: every push, every order and cancel response and
  (unless relaxed) every query response runs on it, one after the other, in arrival order;
  an exception raised in a callback is lost, as in the real one;
- an order error that arrives before the response to its order is held back and delivered
  right after that response (the same for cancel errors);
- `connect()` connects once (0 on success); a lost connection calls `on_disconnected` and
  nothing reconnects; requests made while disconnected are lost, so a sync call then waits for
  ever (the real ones have no timeout either);
- sync calls made from the callback thread would deadlock the real SDK; here they raise
  `RuntimeError` instead of hanging.
"""

import asyncio
import contextlib
import itertools
import threading
import warnings
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from . import _link, xtconstant, xttype


class XtQuantTraderCallback:
    """The callback class; every method does nothing unless overridden."""

    def on_connected(self):
        """Never called by xtquant (kept because the real class has it)."""

    def on_disconnected(self):
        pass

    def on_account_status(self, status):
        pass

    def on_stock_asset(self, asset):
        pass

    def on_stock_order(self, order):
        pass

    def on_stock_trade(self, trade):
        pass

    def on_stock_position(self, position):
        pass

    def on_order_error(self, order_error):
        pass

    def on_cancel_error(self, cancel_error):
        pass

    def on_order_stock_async_response(self, response):
        pass

    def on_cancel_order_stock_async_response(self, response):
        pass

    def on_smt_appointment_async_response(self, response):
        pass

    def on_bank_transfer_async_response(self, response):
        pass

    def on_ctp_internal_transfer_async_response(self, response):
        pass

    def on_smart_algo_order_async_response(self, response):
        pass

    def on_operate_smart_task_async_response(self, response):
        pass


def _fields(data: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    return {name: data.get(name) for name in names}


_ORDER_FIELDS = (
    "account_id",
    "stock_code",
    "order_id",
    "order_sysid",
    "order_time",
    "order_type",
    "order_volume",
    "price_type",
    "price",
    "traded_volume",
    "traded_price",
    "order_status",
    "status_msg",
    "strategy_name",
    "order_remark",
    "direction",
    "offset_flag",
    "secu_account",
    "instrument_name",
)
_TRADE_FIELDS = (
    "account_id",
    "stock_code",
    "order_type",
    "traded_id",
    "traded_time",
    "traded_price",
    "traded_volume",
    "traded_amount",
    "order_id",
    "order_sysid",
    "strategy_name",
    "order_remark",
    "direction",
    "offset_flag",
    "commission",
    "secu_account",
    "instrument_name",
)
_POSITION_FIELDS = (
    "account_id",
    "stock_code",
    "volume",
    "can_use_volume",
    "open_price",
    "market_value",
    "frozen_volume",
    "on_road_volume",
    "yesterday_volume",
    "avg_price",
    "direction",
    "last_price",
    "profit_rate",
    "secu_account",
    "instrument_name",
)
_ASSET_FIELDS = (
    "account_id",
    "cash",
    "frozen_cash",
    "market_value",
    "total_asset",
    "fetch_balance",
)


def _typed(made: Any, data: dict[str, Any], *extra: str) -> Any:
    """A MiniQMT object: the constructor's attributes, the real account type and `extra`."""
    made.account_type = data.get("account_type", made.__dict__.get("account_type"))
    for name in extra:
        setattr(made, name, data.get(name))
    return made


def _order(data: dict[str, Any]) -> xttype.XtOrder:
    return _typed(xttype.XtOrder(**_fields(data, _ORDER_FIELDS)), data)


def _trade(data: dict[str, Any]) -> xttype.XtTrade:
    return _typed(xttype.XtTrade(**_fields(data, _TRADE_FIELDS)), data)


def _position(data: dict[str, Any]) -> xttype.XtPosition:
    made = xttype.XtPosition(**_fields(data, _POSITION_FIELDS))
    return _typed(made, data, "float_profit", "open_date", "position_profit")


def _asset(data: dict[str, Any]) -> xttype.XtAsset:
    return _typed(xttype.XtAsset(**_fields(data, _ASSET_FIELDS)), data)


def _order_error(data: dict[str, Any]) -> xttype.XtOrderError:
    made = xttype.XtOrderError(
        data["account_id"],
        data["order_id"],
        data.get("error_id"),
        data.get("error_msg"),
        data.get("strategy_name"),
        data.get("order_remark"),
    )
    return _typed(made, data, "seq")


def _cancel_error(data: dict[str, Any]) -> xttype.XtCancelError:
    made = xttype.XtCancelError(
        data["account_id"],
        data["order_id"],
        data.get("market"),
        data.get("order_sysid"),
        data.get("error_id"),
        data.get("error_msg"),
    )
    return _typed(made, data)


def _account_status(data: dict[str, Any]) -> xttype.XtAccountStatus:
    return xttype.XtAccountStatus(data["account_id"], data["account_type"], data["status"])


def _first(rows: list[Any] | None, convert: Callable[[dict[str, Any]], Any]) -> Any:
    return convert(rows[0]) if rows else None


_QUERY_ANSWERS: dict[str, Callable[[Any], Any]] = {
    "subscribe": lambda data: data,
    "unsubscribe": lambda data: data,
    "asset": lambda rows: [_asset(r) for r in rows] if rows is not None else None,
    "orders": lambda rows: [_order(r) for r in rows] if rows is not None else None,
    "trades": lambda rows: [_trade(r) for r in rows] if rows is not None else None,
    "positions": lambda rows: [_position(r) for r in rows] if rows is not None else None,
    "account_infos": lambda rows: rows,
    "account_status": lambda rows: [_account_status(r) for r in rows] if rows is not None else None,
}


class XtQuantTrader:
    def __init__(self, path, session, callback=None):
        """`path`: MiniQMT's `userdata_mini` directory; `session`: an id unique among the
        programs connected to that MiniQMT at once."""
        self._path = path
        self._session = session
        self.callback = callback
        self.connected = False

        self.loop = asyncio.new_event_loop()
        if threading.current_thread().name == "MainThread":
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                try:
                    self.oldloop = asyncio.get_event_loop()
                except RuntimeError:
                    self.oldloop = None
        asyncio.set_event_loop(self.loop)

        self.cbs: dict[int, Callable[[Any], None]] = {}
        self.executor: ThreadPoolExecutor | None = None
        self.resp_executor: ThreadPoolExecutor | None = None
        self.relaxed_resp_order_enabled = False
        self.relaxed_resp_executor: ThreadPoolExecutor | None = None

        self.queuing_order_seq: set[int] = set()
        self.handled_async_order_stock_order_id: set[int] = set()
        self.queuing_order_errors_byseq: dict[int, Any] = {}
        self.queuing_order_errors_byid: dict[int, Any] = {}
        self.handled_async_cancel_order_stock_order_id: set[int] = set()
        self.handled_async_cancel_order_stock_order_sys_id: set[str] = set()
        self.queuing_cancel_errors_by_order_id: dict[int, Any] = {}
        self.queuing_cancel_errors_by_order_sys_id: dict[str, Any] = {}

        self._seqs = itertools.count(1)
        self._seq_lock = threading.Lock()
        self._answers: dict[int, str] = {}
        self._link: _link.Link | None = None
        self._callback_thread: int | None = None
        self._relaxed_thread: int | None = None

    def __del__(self):
        if threading.current_thread().name == "MainThread" and hasattr(self, "oldloop"):
            asyncio.set_event_loop(self.oldloop)

    # -- set-up ------------------------------------------------------------------------

    def register_callback(self, callback):
        self.callback = callback

    def start(self):
        self.executor = ThreadPoolExecutor(max_workers=1)
        self.relaxed_resp_executor = ThreadPoolExecutor(max_workers=1)
        self.resp_executor = (
            self.relaxed_resp_executor if self.relaxed_resp_order_enabled else self.executor
        )
        self._callback_thread = self.executor.submit(threading.get_ident).result()
        self._relaxed_thread = self.relaxed_resp_executor.submit(threading.get_ident).result()

    def stop(self):
        if self._link is not None:
            self._link.close()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.executor.shutdown(wait=True)
        self.relaxed_resp_executor.shutdown(wait=True)
        self.loop.close()  # (the real one leaves it open; closing it keeps tests warning-free)

    def connect(self):
        """0 when connected to MiniQMT, non-zero otherwise; once (nothing reconnects)."""
        if self._link is not None and self._link.up:
            return 0
        if self.executor is None:
            return -1
        address = _link.address_in(self._path)
        if address is None:
            return -1
        try:
            link = _link.Link(address, self._on_message, self._on_closed)
            hello = link.request({"op": "hello", "role": "trade", "session": self._session})
        except OSError:
            return -1
        result = int(hello.get("result", -1))
        if result != 0:
            link.close()
            return result
        self._link = link
        link.start(f"xtquant-client-{self._session}")
        self.connected = True
        return 0

    def sleep(self, time):
        async def pause(seconds: float) -> None:
            await asyncio.sleep(seconds)

        asyncio.run_coroutine_threadsafe(pause(time), self.loop).result()

    def run_forever(self):
        import time

        while True:
            time.sleep(2)

    def set_relaxed_response_order_enabled(self, enabled):
        self.relaxed_resp_order_enabled = enabled
        self.resp_executor = (
            self.relaxed_resp_executor if self.relaxed_resp_order_enabled else self.executor
        )

    def set_timeout(self, timeout=0):
        """Passed to the C client in the real SDK, with no visible effect; kept for its name."""

    # -- requests ----------------------------------------------------------------------

    def _next_seq(self) -> int:
        with self._seq_lock:
            return next(self._seqs)

    def _send(self, seq: int, op: str, account: Any = None, **fields: Any) -> None:
        message: dict[str, Any] = {"op": op, "seq": seq, **fields}
        if account is not None:
            message["account_id"] = account.account_id
            message["account_type"] = account.account_type
        if self._link is not None:
            self._link.send(message)  # lost while disconnected, as in the C client

    def _refuse_deadlock(self, *, query: bool) -> None:
        current = threading.get_ident()
        answering = self._relaxed_thread if query and self.relaxed_resp_order_enabled else None
        if current == self._callback_thread and answering is None:
            raise RuntimeError(
                "xtquant stand-in: a sync call from the callback thread would deadlock"
            )

    def _sync(self, seq: int, send: Callable[[], None], *, query: bool) -> Any:
        self._refuse_deadlock(query=query)
        future: Future[Any] = Future()
        self.cbs[seq] = future.set_result
        send()
        return future.result()

    def _async(self, seq: int, send: Callable[[], None], callback: Callable[[Any], None]) -> int:
        self.cbs[seq] = callback
        send()
        return seq

    def _expect(self, what: str) -> int:
        """A new seq whose answer is converted as `what` (see `_QUERY_ANSWERS`)."""
        seq = self._next_seq()
        self._answers[seq] = what
        return seq

    def _query(self, what: str, account: Any, **fields: Any) -> tuple[int, Callable[[], None]]:
        seq = self._expect(what)
        return seq, lambda: self._send(seq, "query", account, what=what, **fields)

    def subscribe(self, account):
        seq = self._expect("subscribe")
        return self._sync(seq, lambda: self._send(seq, "subscribe", account), query=True)

    def unsubscribe(self, account):
        seq = self._expect("unsubscribe")
        return self._sync(seq, lambda: self._send(seq, "unsubscribe", account), query=True)

    def _order_request(self, seq: int, account: Any, **order: Any) -> Callable[[], None]:
        order["order_volume"] = int(order["order_volume"])
        return lambda: self._send(seq, "order", account, **order)

    def order_stock_async(
        self,
        account,
        stock_code,
        order_type,
        order_volume,
        price_type,
        price,
        strategy_name="",
        order_remark="",
    ):
        """The request's seq at once; `on_order_stock_async_response` answers it."""
        seq = self._next_seq()
        self.queuing_order_seq.add(seq)
        self.cbs[seq] = self.callback.on_order_stock_async_response
        self._order_request(
            seq,
            account,
            stock_code=stock_code,
            order_type=order_type,
            order_volume=order_volume,
            price_type=price_type,
            price=price,
            strategy_name=strategy_name,
            order_remark=order_remark,
        )()
        return seq

    def order_stock(
        self,
        account,
        stock_code,
        order_type,
        order_volume,
        price_type,
        price,
        strategy_name="",
        order_remark="",
    ):
        """The order id (-1: refused); blocks until MiniQMT answers."""
        seq = self._next_seq()
        self.queuing_order_seq.add(seq)
        send = self._order_request(
            seq,
            account,
            stock_code=stock_code,
            order_type=order_type,
            order_volume=order_volume,
            price_type=price_type,
            price=price,
            strategy_name=strategy_name,
            order_remark=order_remark,
        )
        return self._sync(seq, send, query=False).order_id

    def _cancel_request(self, seq, account, **target) -> Callable[[], None]:
        return lambda: self._send(seq, "cancel", account, **target)

    def cancel_order_stock(self, account, order_id):
        seq = self._next_seq()
        send = self._cancel_request(seq, account, order_id=order_id)
        return self._sync(seq, send, query=False).cancel_result

    def cancel_order_stock_async(self, account, order_id):
        seq = self._next_seq()
        self.cbs[seq] = self.callback.on_cancel_order_stock_async_response
        self._cancel_request(seq, account, order_id=order_id)()
        return seq

    @staticmethod
    def _market(market) -> tuple[int, str]:
        if isinstance(market, str):
            return xtconstant.MARKET_STR_TO_ENUM_MAPPING.get(market, -1), market
        return market, ""

    def cancel_order_stock_sysid(self, account, market, sysid):
        seq = self._next_seq()
        number, _ = self._market(market)
        send = self._cancel_request(seq, account, market=number, order_sysid=sysid)
        return self._sync(seq, send, query=False).cancel_result

    def cancel_order_stock_sysid_async(self, account, market, sysid):
        seq = self._next_seq()
        number, _ = self._market(market)
        self.cbs[seq] = self.callback.on_cancel_order_stock_async_response
        self._cancel_request(seq, account, market=number, order_sysid=sysid)()
        return seq

    def query_account_infos(self):
        seq, send = self._query("account_infos", None)
        return self._sync(seq, send, query=True)

    query_account_info = query_account_infos

    def query_account_infos_async(self, callback):
        seq, send = self._query("account_infos", None)
        return self._async(seq, send, callback)

    def query_account_status(self):
        seq, send = self._query("account_status", None)
        return self._sync(seq, send, query=True)

    def query_account_status_async(self, callback):
        seq, send = self._query("account_status", None)
        return self._async(seq, send, callback)

    def query_stock_asset(self, account):
        seq, send = self._query("asset", account)
        rows = self._sync(seq, send, query=True)
        return rows[0] if rows else None

    def query_stock_asset_async(self, account, callback):
        seq, send = self._query("asset", account)
        self._async(seq, send, lambda rows: callback(rows[0] if rows else None))

    def query_stock_order(self, account, order_id):
        seq, send = self._query("orders", account, order_id=order_id)
        rows = self._sync(seq, send, query=True)
        return rows[0] if rows else None

    def query_stock_orders(self, account, cancelable_only=False):
        seq, send = self._query("orders", account, cancelable_only=cancelable_only)
        return self._sync(seq, send, query=True)

    def query_stock_orders_async(self, account, callback, cancelable_only=False):
        seq, send = self._query("orders", account, cancelable_only=cancelable_only)
        return self._async(seq, send, callback)

    def query_stock_trades(self, account):
        seq, send = self._query("trades", account)
        return self._sync(seq, send, query=True)

    def query_stock_trades_async(self, account, callback):
        seq, send = self._query("trades", account)
        return self._async(seq, send, callback)

    def query_stock_position(self, account, stock_code):
        seq, send = self._query("positions", account, stock_code=stock_code)
        rows = self._sync(seq, send, query=True)
        return rows[0] if rows else None

    def query_stock_positions(self, account):
        seq, send = self._query("positions", account)
        return self._sync(seq, send, query=True)

    def query_stock_positions_async(self, account, callback):
        seq, send = self._query("positions", account)
        return self._async(seq, send, callback)

    # -- what MiniQMT sends (on the link's reader thread) --------------------------------

    def _push(self, handler: Callable[..., None], *args: Any) -> None:
        """As xtquant's push wrapper: run `handler` on the callback thread."""
        with contextlib.suppress(RuntimeError):  # the executor is shut down: stop() ran
            self.executor.submit(handler, *args)

    def _on_message(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        if kind == "resp":
            seq = message["seq"]
            callback = self.cbs.pop(seq, None)
            convert = _QUERY_ANSWERS[self._answers.pop(seq, "subscribe")]
            if callback is not None:
                with contextlib.suppress(RuntimeError):
                    self.resp_executor.submit(callback, convert(message["data"]))
        elif kind == "order_response":
            self._push(self._on_order_response, message["seq"], message["data"])
        elif kind == "cancel_response":
            self._push(self._on_cancel_response, message["seq"], message["data"])
        elif kind == "push":
            self._on_push(message["kind"], message["data"])

    def _on_push(self, kind: str, data: dict[str, Any]) -> None:
        if kind == "order":
            self._push(lambda order: self.callback.on_stock_order(order), _order(data))
        elif kind == "trade":
            self._push(lambda trade: self.callback.on_stock_trade(trade), _trade(data))
        elif kind == "position":
            self._push(lambda p: self.callback.on_stock_position(p), _position(data))
        elif kind == "asset":
            self._push(lambda asset: self.callback.on_stock_asset(asset), _asset(data))
        elif kind == "account_status":
            self._push(lambda s: self.callback.on_account_status(s), _account_status(data))
        elif kind == "order_error":
            self._push(self._on_order_error, _order_error(data))
        elif kind == "cancel_error":
            self._push(self._on_cancel_error, _cancel_error(data))

    def _on_closed(self) -> None:
        self.connected = False
        self._push(self._on_disconnected)

    def _on_disconnected(self) -> None:
        if self.callback:
            self.callback.on_disconnected()

    def _on_order_response(self, seq: int, data: dict[str, Any]) -> None:
        callback = self.cbs.pop(seq, None)
        if not callback:
            return
        response = xttype.XtOrderResponse(
            data["account_id"],
            data["order_id"],
            data.get("strategy_name", ""),
            data.get("order_remark", ""),
            data.get("error_msg", ""),
            seq,
        )
        response.account_type = data.get("account_type", response.account_type)
        callback(response)
        self.queuing_order_seq.discard(seq)
        held = self.queuing_order_errors_byseq.pop(seq, None)
        if not held:
            held = self.queuing_order_errors_byid.pop(response.order_id, None)
        if held is not None:
            self.callback.on_order_error(held)
        else:
            self.handled_async_order_stock_order_id.add(response.order_id)

    def _on_order_error(self, error: Any) -> None:
        if (
            error.seq not in self.queuing_order_seq
            or error.order_id in self.handled_async_order_stock_order_id
        ):
            self.handled_async_order_stock_order_id.discard(error.order_id)
            self.callback.on_order_error(error)
        else:
            self.queuing_order_errors_byseq[error.seq] = error
            self.queuing_order_errors_byid[error.order_id] = error

    def _on_cancel_response(self, seq: int, data: dict[str, Any]) -> None:
        callback = self.cbs.pop(seq, None)
        if not callback:
            return
        response = xttype.XtCancelOrderResponse(
            data["account_id"],
            data["cancel_result"],
            data["order_id"],
            data.get("order_sysid", ""),
            seq,
            data.get("error_msg", ""),
        )
        callback(response)
        if not response.order_sysid:
            held = self.queuing_cancel_errors_by_order_id.pop(response.order_id, None)
            if held is not None:
                self.handled_async_cancel_order_stock_order_id.discard(response.order_id)
                self.callback.on_cancel_error(held)
            else:
                self.handled_async_cancel_order_stock_order_id.add(response.order_id)
        else:
            held = self.queuing_cancel_errors_by_order_sys_id.pop(response.order_sysid, None)
            if held is not None:
                self.handled_async_cancel_order_stock_order_sys_id.discard(response.order_sysid)
                self.callback.on_cancel_error(held)
            else:
                self.handled_async_cancel_order_stock_order_sys_id.add(response.order_sysid)

    def _on_cancel_error(self, error: Any) -> None:
        if error.order_id in self.handled_async_cancel_order_stock_order_id:
            self.handled_async_cancel_order_stock_order_id.discard(error.order_id)
            self.callback.on_cancel_error(error)
        elif error.order_sysid in self.handled_async_cancel_order_stock_order_sys_id:
            self.handled_async_cancel_order_stock_order_sys_id.discard(error.order_sysid)
            self.callback.on_cancel_error(error)
        else:
            self.queuing_cancel_errors_by_order_id[error.order_id] = error
            self.queuing_cancel_errors_by_order_sys_id[error.order_sysid] = error
