"""China convertible bonds (MARKET_RULES.md): SH 11xxxx and SZ 12xxxx, quoted per bond, lots
of 10, tick 0.001, ±20% a day, T+0, commission 0.01% (minimum 1 CNY) and nothing else."""

from decimal import Decimal
from pathlib import Path

import pytest

from tradebridge.brokers.paper.broker import PaperBroker
from tradebridge.brokers.paper.config import CnBondFees, ContractRow, PaperFees, PaperSettings
from tradebridge.brokers.paper.fees import FeeTable, fee_schedules
from tradebridge.brokers.paper.universe import build_universe
from tradebridge.config import load_settings
from tradebridge.domain.enums import RejectReason, Side
from tradebridge.domain.errors import OrderRejected

D = Decimal
MINGTAI = "113025.SH"  # document 003's example bond, pre_close 305.000 here
BOND_FEES = fee_schedules(PaperFees())[FeeTable.CN_BOND]


@pytest.mark.parametrize("symbol", ["113025.SH", "113050.SH", "128136.SZ"])
def test_built_in_bonds_have_the_bond_rules(symbol: str) -> None:
    instrument = build_universe([])[symbol]
    contract = instrument.contract
    assert (contract.currency, contract.lot_size, contract.tick_size) == ("CNY", 10, D("0.001"))
    assert (contract.price_limit_pct, contract.t_plus) == (D(20), 0)
    assert (contract.min_qty, contract.max_qty, contract.multiplier) == (None, None, 1)
    assert instrument.fee_table is FeeTable.CN_BOND


def test_a_configured_bond_takes_the_bond_defaults() -> None:
    """A ChiNext convertible (SZ 123xxx) given only its code and previous close."""
    (bond,) = [
        i
        for s, i in build_universe(
            [ContractRow(symbol="123107.sz", pre_close=D("118.250"))]
        ).items()
        if s == "123107.SZ"
    ]
    assert (bond.contract.lot_size, bond.contract.tick_size, bond.contract.t_plus) == (
        10,
        D("0.001"),
        0,
    )
    assert bond.fee_table is FeeTable.CN_BOND


def test_a_bond_row_may_override_its_limit_and_settlement() -> None:
    row = ContractRow(symbol=MINGTAI, price_limit_pct=D("57.3"), t_plus=1)
    contract = build_universe([row])[MINGTAI].contract
    assert (contract.price_limit_pct, contract.t_plus, contract.name) == (D("57.3"), 1, "明泰转债")


@pytest.mark.anyio
async def test_bonds_trade_in_lots_of_ten(broker, make_order) -> None:
    with pytest.raises(OrderRejected) as caught:
        await broker.place_order(make_order(MINGTAI, "buy", 15, "305.001"))
    assert caught.value.reason is RejectReason.INVALID_LOT_SIZE
    assert caught.value.message == f"buy 15 {MINGTAI}: not a multiple of its lot of 10 bonds"
    await broker.place_order(make_order(MINGTAI, "buy", 10, "305.001"))
    await broker.place_order(make_order(MINGTAI, "buy", 30, "305.001"))


@pytest.mark.anyio
async def test_bond_prices_are_on_the_tenth_of_a_cent(broker, make_order) -> None:
    with pytest.raises(OrderRejected) as caught:
        await broker.place_order(make_order(MINGTAI, "buy", 10, "305.0005"))
    assert caught.value.reason is RejectReason.INVALID_TICK_SIZE
    assert caught.value.details["tick_size"] == "0.001"
    await broker.place_order(make_order(MINGTAI, "buy", 10, "304.999"))


@pytest.mark.anyio
async def test_bond_limits_are_twenty_percent_of_the_previous_close(broker, make_order) -> None:
    assert broker._market.band(MINGTAI) == (D("244.000"), D("366.000"))
    for price in ("366.001", "243.999"):
        with pytest.raises(OrderRejected) as caught:
            await broker.place_order(make_order(MINGTAI, "buy", 10, price))
        assert caught.value.reason is RejectReason.PRICE_OUT_OF_LIMITS
        assert (caught.value.details["lower_limit"], caught.value.details["upper_limit"]) == (
            "244.000",
            "366.000",
        )
    await broker.place_order(make_order(MINGTAI, "buy", 10, "244.000"))  # rests at the limit


@pytest.mark.anyio
async def test_bonds_bought_today_can_be_sold_today(broker, sink, make_order) -> None:
    buy = make_order(MINGTAI, "buy", 20, "305.001")
    await broker.place_order(buy)
    position = sink.of("position")[-1]
    assert (position.qty, position.available_qty) == (20, 20)
    sell = make_order(MINGTAI, "sell", 20, "304.999")
    await broker.place_order(sell)
    assert [(f.order_id, f.qty) for f in sink.of("fill")] == [(buy.id, 20), (sell.id, 20)]
    assert [p for p in await broker.query_positions() if p.symbol == MINGTAI] == []


@pytest.mark.parametrize(
    ("side", "notional", "fee", "why"),
    [
        (Side.BUY, "3050.01", "1.00", "0.31 of commission: the minimum 1"),
        (Side.SELL, "3049.99", "1.00", "no stamp duty on sells"),
        (Side.BUY, "305001.000", "30.50", "0.01% of 305001"),
        (Side.SELL, "305001.000", "30.50", "the same on sells: no transfer fee"),
    ],
)
def test_bond_fees_to_the_cent(side: Side, notional: str, fee: str, why: str) -> None:
    assert BOND_FEES.total(side, D(notional)) == D(fee), why


@pytest.mark.anyio
async def test_a_round_trip_in_bonds_pays_commission_only(broker, make_order) -> None:
    await broker.place_order(make_order(MINGTAI, "buy", 1000, "305.001"))
    await broker.place_order(make_order(MINGTAI, "sell", 1000, "304.999"))
    assert [t.fee for t in await broker.query_trades()] == [D("30.50"), D("30.50")]
    summary = await broker.query_account()
    assert summary.cash == D(1_000_000) - D("305001.000") - D("30.50") + D("304999.000") - D(
        "30.50"
    )


@pytest.mark.anyio
async def test_bond_fees_are_account_settings(sink, make_order) -> None:
    fees = PaperFees(cn_bond=CnBondFees(commission_rate=D("0.0002"), min_commission=D(0)))
    broker = PaperBroker("paper", PaperSettings(fees=fees), sink)
    await broker.place_order(make_order(MINGTAI, "buy", 10, "305.001"))
    assert sink.of("fill")[0].fee == D("0.61")  # 0.02% of 3050.01, no minimum


def test_bond_fee_settings_from_the_config_file(tmp_path: Path) -> None:
    path = tmp_path / "fees.toml"
    path.write_text(
        '[[accounts]]\nid = "paper"\n'
        "[accounts.paper.fees.cn_bond]\ncommission_rate = 0.00005\nmin_commission = 0.1\n"
    )
    bond = load_settings(path).accounts[0].paper.fees.cn_bond
    assert (bond.commission_rate, bond.min_commission) == (D("0.00005"), D("0.1"))
