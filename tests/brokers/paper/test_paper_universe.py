"""The built-in universe, venue defaults and configured contract rows."""

from decimal import Decimal

import pydantic
import pytest

from tradebridge.brokers.paper.broker import PaperBroker
from tradebridge.brokers.paper.config import ContractRow, PaperSettings
from tradebridge.brokers.paper.universe import BUILT_IN, CnBoard, build_universe, cn_board
from tradebridge.domain.errors import ValidationFailed


@pytest.mark.parametrize(
    ("symbol", "board"),
    [
        ("600519.SH", CnBoard.MAIN),
        ("605001.SH", CnBoard.MAIN),
        ("688981.SH", CnBoard.STAR),
        ("510300.SH", CnBoard.FUND),
        ("000001.SZ", CnBoard.MAIN),
        ("300750.SZ", CnBoard.CHINEXT),
        ("159915.SZ", CnBoard.FUND),
        ("161725.SZ", CnBoard.FUND),
        ("430047.BJ", CnBoard.BJ),
        ("920001.BJ", CnBoard.BJ),
        ("113025.SH", CnBoard.CONVERTIBLE),
        ("118003.SH", CnBoard.CONVERTIBLE),
        ("128136.SZ", CnBoard.CONVERTIBLE),
        ("123107.SZ", CnBoard.CONVERTIBLE),
        ("900901.SH", None),
    ],
)
def test_cn_board_by_code(symbol: str, board: CnBoard | None) -> None:
    assert cn_board(symbol) == board


def test_built_in_universe() -> None:
    universe = build_universe([])
    assert list(universe) == [row.symbol for row in BUILT_IN]
    assert len(universe) == 24
    moutai = universe["600519.SH"].contract
    assert (moutai.name, moutai.currency, moutai.lot_size) == ("贵州茅台", "CNY", 100)
    assert (moutai.tick_size, moutai.price_limit_pct, moutai.t_plus) == (
        Decimal("0.01"),
        Decimal(10),
        1,
    )
    assert universe["300750.SZ"].contract.price_limit_pct == Decimal(20)
    assert universe["688981.SH"].contract.price_limit_pct == Decimal(20)
    for etf in ("510300.SH", "159915.SZ"):
        contract = universe[etf].contract
        assert (contract.tick_size, contract.lot_size) == (Decimal("0.001"), 100)
    tencent, hsbc = universe["00700.HK"].contract, universe["00005.HK"].contract
    assert (tencent.lot_size, tencent.currency, tencent.tick_size) == (100, "HKD", Decimal("0.2"))
    assert (hsbc.lot_size, hsbc.tick_size, hsbc.price_limit_pct) == (400, Decimal("0.05"), None)
    tracker, baba = universe["02800.HK"].contract, universe["09988.HK"].contract
    assert (tracker.lot_size, tracker.tick_size) == (500, Decimal("0.05"))
    assert (baba.lot_size, baba.tick_size) == (100, Decimal("0.1"))
    for us in ("QQQ.US", "TSLA.US"):
        assert (universe[us].contract.lot_size, universe[us].contract.currency) == (1, "USD")


@pytest.mark.parametrize(
    ("symbol", "lot", "min_qty", "max_qty", "max_market_qty", "limit"),
    [
        ("600519.SH", 100, None, 1_000_000, None, 10),
        ("000001.SZ", 100, None, 1_000_000, None, 10),
        ("300750.SZ", 100, None, 300_000, 150_000, 20),
        ("688981.SH", 1, 200, 100_000, 50_000, 20),
        ("430047.BJ", 1, 100, 1_000_000, None, 30),
        ("510300.SH", 100, None, None, None, 10),
    ],
)
def test_board_defaults(symbol, lot, min_qty, max_qty, max_market_qty, limit) -> None:
    instrument = build_universe([])[symbol]
    contract = instrument.contract
    assert (contract.lot_size, contract.min_qty, contract.max_qty) == (lot, min_qty, max_qty)
    assert instrument.max_market_qty == max_market_qty
    assert (contract.price_limit_pct, contract.t_plus) == (Decimal(limit), 1)


def test_us_defaults() -> None:
    universe = build_universe([])
    apple = universe["AAPL.US"].contract
    assert (apple.lot_size, apple.currency, apple.tick_size, apple.t_plus) == (
        1,
        "USD",
        Decimal("0.01"),
        0,
    )


def test_row_with_symbol_name_pre_close_takes_venue_defaults() -> None:
    universe = build_universe(
        [
            ContractRow(symbol="601398.sh", name="工商银行", pre_close=Decimal("5.80")),
            ContractRow(symbol="512880.SH", name="证券ETF", pre_close=Decimal("1.105")),
            ContractRow(symbol="NVDA.US", pre_close=Decimal("0.5001")),
        ]
    )
    icbc = universe["601398.SH"].contract
    assert (icbc.name, icbc.currency, icbc.lot_size, icbc.tick_size, icbc.t_plus) == (
        "工商银行",
        "CNY",
        100,
        Decimal("0.01"),
        1,
    )
    assert universe["512880.SH"].contract.tick_size == Decimal("0.001")
    nvda = universe["NVDA.US"].contract
    assert (nvda.name, nvda.tick_size, nvda.lot_size) == ("NVDA.US", Decimal("0.0001"), 1)


def test_row_overrides_only_the_fields_it_gives() -> None:
    universe = build_universe(
        [
            ContractRow(symbol="600519.SH", pre_close=Decimal("1600.00"), price_limit_pct="none"),
            ContractRow(symbol="00700.HK", lot_size=200),
        ]
    )
    moutai = universe["600519.SH"].contract
    assert (moutai.name, moutai.pre_close, moutai.price_limit_pct, moutai.lot_size) == (
        "贵州茅台",
        Decimal("1600.00"),
        None,
        100,
    )
    tencent = universe["00700.HK"]
    assert (tencent.contract.lot_size, tencent.contract.tick_size) == (200, Decimal("0.2"))
    assert tencent.ticks.tick_at(Decimal("5")) == Decimal("0.01")


@pytest.mark.parametrize(
    ("row", "problem"),
    [
        (ContractRow(symbol="900901.SH", pre_close=Decimal(1)), "known board"),
        (ContractRow(symbol="00700.HK", tick_size=Decimal("0.5")), "price ladder"),
        (ContractRow(symbol="AAPL.US", tick_size=Decimal("0.05")), "price ladder"),
        (ContractRow(symbol="601398.SH"), "pre_close is required"),
        (ContractRow(symbol="00941.HK", pre_close=Decimal(80)), "lot_size is required"),
        (ContractRow(symbol="601398.SH", pre_close=Decimal("5.805")), "not on the 0.01 tick"),
        (ContractRow(symbol="00700.HK", pre_close=Decimal("480.1")), "not on the 0.2 tick"),
        (ContractRow(symbol="600519.SH", currency="USD"), "currency USD"),
        (ContractRow(symbol="600519.SH", multiplier=Decimal(10)), "futures only"),
    ],
)
def test_impossible_rows_are_refused_naming_the_symbol(row: ContractRow, problem: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        build_universe([row])
    assert row.symbol in caught.value.message
    assert problem in caught.value.message
    assert caught.value.details["symbol"] == row.symbol


def test_unknown_venue_row_is_refused_naming_the_symbol() -> None:
    with pytest.raises(pydantic.ValidationError, match=r"ABC\.XX"):
        ContractRow(symbol="ABC.XX", pre_close=Decimal(1))


@pytest.mark.anyio
async def test_broker_trades_configured_rows(sink) -> None:
    settings = PaperSettings(
        contracts=[ContractRow(symbol="601398.SH", name="工商银行", pre_close=Decimal("5.80"))]
    )
    broker = PaperBroker("paper", settings, sink)
    symbols = [contract.symbol for contract in await broker.contracts(None, None)]
    assert symbols[-1] == "601398.SH"
    (quote,) = await broker.quotes(["601398.SH"])
    assert (quote.last, quote.bid, quote.ask) == (Decimal("5.80"), Decimal("5.79"), Decimal("5.81"))


def test_broker_refuses_impossible_configuration(sink) -> None:
    settings = PaperSettings(contracts=[ContractRow(symbol="601398.SH")])
    with pytest.raises(ValidationFailed, match=r"601398\.SH"):
        PaperBroker("paper", settings, sink)
