"""Fee schedules (MARKET_RULES.md defaults, per-account settings), to the cent."""

from decimal import Decimal
from pathlib import Path

import pytest

from tradebridge.brokers.paper.broker import PaperBroker
from tradebridge.brokers.paper.config import CnStockFees, HkStockFees, PaperFees, PaperSettings
from tradebridge.brokers.paper.fees import fee_schedules
from tradebridge.config import ConfigError, load_settings
from tradebridge.domain.enums import Side
from tradebridge.domain.symbols import Market

D = Decimal
DEFAULTS = fee_schedules(PaperFees())
BUY, SELL = Side.BUY, Side.SELL


@pytest.mark.parametrize(
    ("market", "side", "notional", "fee", "why"),
    [
        # CN: commission 0.025% (min 5) + transfer 0.001% each side, stamp duty 0.05% on sells
        (Market.CN_STOCK, BUY, "150001.00", "39.00", "37.50 + 1.50"),
        (Market.CN_STOCK, SELL, "149999.00", "114.00", "37.50 + 1.50 + 75.00"),
        (Market.CN_STOCK, BUY, "1000.00", "5.01", "minimum 5 + 0.01"),
        (Market.CN_STOCK, SELL, "1000.00", "5.51", "minimum 5 + 0.01 + 0.50"),
        (Market.CN_STOCK, BUY, "149000.00", "38.74", "37.25 + 1.49"),
        (Market.CN_STOCK, BUY, "20000.00", "5.20", "minimum 5 + 0.20"),
        (Market.CN_STOCK, BUY, "30000.00", "7.80", "7.50 + 0.30"),
        # HK: commission 0.03% (min 3), stamp duty 0.1%, trading fee 0.00565%, SFC levy 0.0027%
        (Market.HK_STOCK, BUY, "48020.0", "66.44", "14.41 + 48.02 + 2.71 + 1.30"),
        (Market.HK_STOCK, SELL, "48020.0", "66.44", "the same on sells"),
        (Market.HK_STOCK, BUY, "13000.00", "17.98", "3.90 + 13.00 + 0.73 + 0.35"),
        (Market.HK_STOCK, BUY, "5000.00", "8.42", "minimum 3 + 5.00 + 0.28 + 0.14"),
        # US: no commission, SEC fee 0.00278% on sells
        (Market.US_STOCK, BUY, "2300.10", "0", "nothing on buys"),
        (Market.US_STOCK, SELL, "919.96", "0.03", "0.0256 rounds up"),
        (Market.US_STOCK, SELL, "100000.00", "2.78", "0.00278%"),
        (Market.US_STOCK, SELL, "100.00", "0.00", "0.00278 rounds to nothing"),
        # CN futures: 0.005% of price x qty x multiplier
        (Market.CN_FUTURES, BUY, "860100", "43.01", "2 cu at 86010 x 5 t: 43.005"),
        (Market.CN_FUTURES, SELL, "1380000.0", "69.00", "1 IF at 4600.0 x 300"),
    ],
)
def test_default_schedules_to_the_cent(market, side, notional, fee, why) -> None:
    assert DEFAULTS[market].total(side, D(notional)) == D(fee), why


def test_nothing_traded_costs_nothing() -> None:
    assert DEFAULTS[Market.CN_STOCK].total(BUY, D(0)) == 0


def test_minimums_apply_per_order_so_fills_add_up_to_the_order_fee() -> None:
    cn = DEFAULTS[Market.CN_STOCK]
    fills = [D("1151.00"), D("1151.00"), D("27265.00"), D("5755.00")]
    charged, before = [], D(0)
    for notional in fills:
        charged.append(cn.increment(BUY, before, notional))
        before += notional
    assert charged == [D("5.01"), D("0.01"), D("2.67"), D("1.49")]
    assert sum(charged) == cn.total(BUY, sum(fills)) == D("9.18")


@pytest.mark.anyio
async def test_worked_example_buy_then_sell_moutai(broker, sink, make_order) -> None:
    await broker.place_order(make_order("600519.SH", "buy", 100, "1500.01"))
    (fill,) = sink.of("fill")
    assert (fill.price, fill.fee) == (D("1500.01"), D("39.00"))
    assert (await broker.query_account()).cash == D(1_000_000) - D("150040.00")

    broker.roll_day()
    await broker.place_order(make_order("600519.SH", "sell", 100, "1499.99"))
    sell = sink.of("fill")[-1]
    assert (sell.price, sell.fee) == (D("1499.99"), D("114.00"))
    assert (await broker.query_account()).cash == D(1_000_000) - D("150040.00") + D("149885.00")
    assert [t.fee for t in await broker.query_trades()] == [D("39.00"), D("114.00")]


@pytest.mark.anyio
async def test_each_partial_fill_is_charged_what_the_order_fee_grew_by(
    broker, sink, make_order
) -> None:
    broker.set_quote("000001.SZ", last=D("11.50"), ask_size=100)
    await broker.place_order(make_order("000001.SZ", "buy", 300, "11.51"))
    broker.set_quote("000001.SZ", last=D("11.50"))
    broker.set_quote("000001.SZ", last=D("11.50"))
    assert [(f.qty, f.fee) for f in sink.of("fill")] == [
        (100, D("5.01")),  # the minimum commission, on the first fill
        (100, D("0.01")),  # transfer fee 0.02302 -> 0.02 in all
        (100, D("0.01")),
    ]
    summary = await broker.query_account()
    assert (summary.cash, summary.frozen) == (D(1_000_000) - D("3453.00") - D("5.03"), 0)


@pytest.mark.anyio
async def test_hk_and_us_fees_are_charged_in_their_currency(broker, make_order) -> None:
    await broker.place_order(make_order("00700.HK", "buy", 100, "480.2"))
    await broker.place_order(make_order("AAPL.US", "buy", 10, "230.01"))
    await broker.place_order(make_order("AAPL.US", "sell", 10, "229.99"))  # US: T+0
    balances = {b.currency: b.cash for b in (await broker.query_account()).balances}
    assert balances["HKD"] == D(500_000) - D("48020.0") - D("66.44")
    # bought at 230.01, sold at 229.99 less the SEC fee on 2299.90
    assert balances["USD"] == D(100_000) - D("0.20") - D("0.06")


@pytest.mark.anyio
async def test_rates_are_account_settings(sink, make_order) -> None:
    fees = PaperFees(
        cn_stock=CnStockFees(commission_rate=D("0.0003"), min_commission=D(0)),
        hk_stock=HkStockFees(stamp_duty_rate=D(0)),
    )
    broker = PaperBroker("paper", PaperSettings(fees=fees), sink)
    await broker.place_order(make_order("600519.SH", "buy", 100, "1500.01"))
    assert sink.of("fill")[0].fee == D("45.00") + D("1.50")  # 0.03% commission + transfer


def test_fee_settings_from_the_config_file(tmp_path: Path) -> None:
    path = tmp_path / "fees.toml"
    path.write_text(
        '[[accounts]]\nid = "paper"\n'
        "[accounts.paper.fees.cn_stock]\ncommission_rate = 0.0002\nmin_commission = 0\n"
        "[accounts.paper.fees.us_stock]\nregulatory_fee_rate = 0.0000278\n"
        "[accounts.paper.fees.cn_futures]\ncommission_rate = 0.0001\n"
    )
    fees = load_settings(path).accounts[0].paper.fees
    assert (fees.cn_stock.commission_rate, fees.cn_stock.min_commission) == (D("0.0002"), 0)
    assert fees.cn_stock.stamp_duty_rate == D("0.0005")  # default kept
    assert fees.us_stock.regulatory_fee_rate == D("0.0000278")
    assert fees.cn_futures.commission_rate == D("0.0001")


@pytest.mark.parametrize(
    ("table", "problem"),
    [
        ("[accounts.paper.fees.cn_stock]\ncommision_rate = 0.0002\n", "commision_rate"),
        ("[accounts.paper.fees.hk_stock]\nstamp_duty_rate = -0.001\n", "stamp_duty_rate"),
        ("[accounts.paper.fees.us_stock]\ncommission_rate = 1.5\n", "commission_rate"),
        ("[accounts.paper.fees.crypto]\ncommission_rate = 0.001\n", "crypto"),
    ],
)
def test_bad_fee_settings_name_the_key(tmp_path: Path, table: str, problem: str) -> None:
    path = tmp_path / "fees.toml"
    path.write_text('[[accounts]]\nid = "paper"\n' + table)
    with pytest.raises(ConfigError, match=problem):
        load_settings(path)
