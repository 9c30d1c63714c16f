"""vnpy_webtrader 1.1 with a gateway that fills nothing and answers at once: the reference the
vnpy dialect is measured against. Runs in the bench venv `references.py` makes, in a working
directory holding `.vntrader/web_trader_setting.json`, as two processes (WebTrader's own
split): `python ref_vnpy.py engine REQ PUB` (MainEngine + WebEngine's RPC server) and
`python ref_vnpy.py web PORT` (WebTrader's FastAPI app under uvicorn)."""

import sys
import time
from typing import Any, ClassVar

from vnpy.event import EventEngine
from vnpy.trader.constant import Exchange, Product, Status
from vnpy.trader.engine import MainEngine
from vnpy.trader.gateway import BaseGateway
from vnpy.trader.object import (
    CancelRequest,
    ContractData,
    HistoryRequest,
    OrderRequest,
    SubscribeRequest,
)

SYMBOL = ("600519", Exchange.SSE)


class FakeGateway(BaseGateway):
    """Takes every order (status `SUBMITTING` → `NOTTRADED`) without a broker behind it."""

    default_name = "FAKE"
    default_setting: ClassVar[dict[str, Any]] = {}
    exchanges: ClassVar[list[Exchange]] = [Exchange.SSE]

    def __init__(self, event_engine: EventEngine, gateway_name: str) -> None:
        super().__init__(event_engine, gateway_name)
        self._count = 0

    def connect(self, setting: dict) -> None:
        symbol, exchange = SYMBOL
        self.on_contract(
            ContractData(
                symbol=symbol,
                exchange=exchange,
                name=symbol,
                product=Product.EQUITY,
                size=1,
                pricetick=0.01,
                gateway_name=self.gateway_name,
            )
        )

    def send_order(self, req: OrderRequest) -> str:
        self._count += 1
        order = req.create_order_data(str(self._count), self.gateway_name)
        order.status = Status.NOTTRADED
        self.on_order(order)
        return order.vt_orderid

    def close(self) -> None:
        pass

    def subscribe(self, req: SubscribeRequest) -> None:
        pass

    def cancel_order(self, req: CancelRequest) -> None:
        pass

    def query_account(self) -> None:
        pass

    def query_position(self) -> None:
        pass

    def query_history(self, req: HistoryRequest) -> list:
        return []


def engine(req_address: str, pub_address: str) -> None:
    from vnpy_webtrader.engine import WebEngine

    main_engine = MainEngine(EventEngine())
    main_engine.add_gateway(FakeGateway)
    main_engine.connect({}, "FAKE")
    web_engine = main_engine.add_engine(WebEngine)
    web_engine.start_server(req_address, pub_address)
    while True:
        time.sleep(1)


def web(port: int) -> None:
    import uvicorn

    uvicorn.run("vnpy_webtrader.web:app", host="127.0.0.1", port=port, log_level="warning")


if __name__ == "__main__":
    if sys.argv[1] == "engine":
        engine(sys.argv[2], sys.argv[3])
    else:
        web(int(sys.argv[2]))
