"""The longport adapter against a fake LongPort, in a process of its own (so a test can trace
every connection it opens): connect, books, an order filled on a push, a quote, and a call the
fake holds while the loop keeps a 10 ms ticker going. Prints one JSON line of what it saw.

`python -m tests.brokers.longport.drive_adapter PORT CONTROL_PORT SECRETS_DIR`"""

import asyncio
import json
import sys
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import httpx
from tests.brokers.longport.fake_longport import ACCESS_TOKEN, APP_KEY, APP_SECRET
from tests.brokers.sinks import RecordingSink

from tradebridge.brokers.longport.adapter import LongportBroker
from tradebridge.brokers.longport.config import LongportSettings
from tradebridge.brokers.longport.sdk import load_sdk
from tradebridge.domain.enums import OrderStatus, OrderType, Side, TimeInForce
from tradebridge.domain.orders import Order

HOLD_S = 1.0


def settings(port: int, secrets: Path) -> LongportSettings:
    secrets.mkdir(parents=True, exist_ok=True)
    for name, value in (("secret", APP_SECRET), ("token", ACCESS_TOKEN)):
        (secrets / name).write_text(value)
        (secrets / name).chmod(0o600)
    base = f"127.0.0.1:{port}"
    return LongportSettings(
        app_key=APP_KEY,
        app_secret_file=secrets / "secret",
        access_token_file=secrets / "token",
        http_url=f"http://{base}",
        quote_ws_url=f"ws://{base}/v2/quote",
        trade_ws_url=f"ws://{base}/v2/trade",
        request_timeout_s=5,
    )


def order(order_id: str) -> Order:
    now = datetime.now(UTC)
    return Order(
        id=order_id,
        client_order_id="drive-1",
        account="lp",
        symbol="00700.HK",
        side=Side.BUY,
        offset=None,
        type=OrderType.LIMIT,
        time_in_force=TimeInForce.DAY,
        qty=100,
        limit_price=Decimal("370"),
        filled_qty=0,
        avg_fill_price=None,
        status=OrderStatus.PENDING_NEW,
        reject_reason=None,
        broker_order_id=None,
        created_at=now,
        updated_at=now,
    )


async def main(port: int, control: int, secrets: Path) -> None:
    sink = RecordingSink()
    broker = LongportBroker("lp", settings(port, secrets), sink, load_sdk(), base_currency="HKD")
    seen: dict[str, object] = {}
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{control}") as fake:
        await broker.connect()
        seen["connected"] = await broker.ping()
        seen["cash"] = str((await broker.query_account()).cash)
        seen["positions"] = [(p.symbol, p.qty) for p in await broker.query_positions()]
        placed = order("01JD5RVE000000000000000001")
        await broker.place_order(placed)
        broker_id = next(
            o["order_id"]
            for o in (await fake.post("/state")).json()["orders"].values()
            if o["remark"] == placed.id
        )
        await fake.post("/fill", json={"order_id": broker_id, "qty": 100})
        for _ in range(100):
            if any(kind == "fill" for kind, _ in sink.calls):
                break
            await asyncio.sleep(0.05)
        seen["fills"] = [(f.trade_id, f.qty, f.order_id) for k, f in sink.calls if k == "fill"]
        seen["quote"] = str((await broker.quotes(["00700.HK"]))[0].last)

        ticks = 0

        async def tick() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        ticker = asyncio.create_task(tick())
        await fake.post("/hold", json={"seconds": HOLD_S})
        await broker.query_account()
        ticker.cancel()
        await fake.post("/hold", json={"seconds": 0})
        seen["ticks_while_held"] = ticks
        await broker.close()
    print(json.dumps(seen))


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3])))
