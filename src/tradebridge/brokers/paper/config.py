"""Settings of a paper account (`[accounts.paper]`): cash, market, fees, extra contracts."""

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import Field, field_validator

from tradebridge.domain.errors import ValidationFailed
from tradebridge.domain.symbols import parse_symbol
from tradebridge.sections import Section


class ContractRow(Section):
    """An instrument added to, or overriding one of, the paper broker's built-in universe.

    A row for a new CN/HK/US stock needs `symbol` and `pre_close` (HK also `lot_size`); the
    rest follows from its venue and board. A row for a new futures contract needs
    `multiplier`, `tick_size`, `margin_rate` and `pre_close`, and `price_limit_pct` unless
    its product is in the built-in table. A row for a built-in symbol overrides only the
    fields it gives.
    """

    symbol: str
    """Canonical `TICKER.VENUE`; the venue may be written in any case."""
    name: str | None = None
    currency: str | None = None
    """Must be the venue's currency if given."""
    lot_size: int | None = Field(default=None, ge=1)
    """Buys are multiples of this (HK board lot; 100 on SH/SZ main board, ChiNext, funds)."""
    tick_size: Decimal | None = Field(default=None, gt=0)
    """Fixed price tick; HK and US follow their venue's price ladder instead."""
    price_limit_pct: Annotated[Decimal, Field(gt=0, lt=100)] | Literal["none"] | None = None
    """Daily limit, percent of `pre_close` either side; `"none"` for no limit."""
    t_plus: Literal[0, 1] | None = None
    """1: shares bought today can be sold from the next trading day; 0: at once."""
    multiplier: Decimal | None = Field(default=None, gt=0)
    """Futures: units per lot (5 t of copper, 300 CNY per CSI 300 index point)."""
    margin_rate: Decimal | None = Field(default=None, gt=0, le=1)
    """Futures: the share of the notional frozen as margin."""
    pre_close: Decimal | None = Field(default=None, gt=0)
    """Previous close: the first quote and the base of the daily price limits."""
    min_qty: int | None = Field(default=None, ge=1)
    """Smallest buy (STAR 200, BJ 100, where any whole number above it is allowed)."""
    max_qty: int | None = Field(default=None, ge=1)
    """Largest single order (main board 1,000,000 shares, ChiNext 300,000, STAR 100,000)."""
    max_market_qty: int | None = Field(default=None, ge=1)
    """Largest single market order where it is below `max_qty` (STAR 50,000, ChiNext
    150,000)."""

    @field_validator("symbol")
    @classmethod
    def _canonical_symbol(cls, value: str) -> str:
        """Spaces around a symbol in the operator's own file are forgiven (the API's input
        is not)."""
        try:
            return parse_symbol(value.strip())
        except ValidationFailed as exc:  # pydantic reports ValueErrors with the key's path
            raise ValueError(exc.message) from None


def _default_cash() -> dict[str, Decimal]:
    return {"CNY": Decimal(1_000_000), "HKD": Decimal(1_000_000), "USD": Decimal(1_000_000)}


Rate = Annotated[Decimal, Field(ge=0, lt=1)]
"""A fee rate: a fraction of the fill's notional (0.00025 is 0.025%)."""
Amount = Annotated[Decimal, Field(ge=0)]
"""An amount of money in the market's currency."""


class CnStockFees(Section):
    """China A-share fees (SH, SZ, BJ), in CNY. Defaults: MARKET_RULES.md."""

    commission_rate: Rate = Decimal("0.00025")
    """Broker commission, both sides: 0.025%."""
    min_commission: Amount = Decimal(5)
    """Smallest commission of one order."""
    stamp_duty_rate: Rate = Decimal("0.0005")
    """Stamp duty, sells only: 0.05%."""
    transfer_fee_rate: Rate = Decimal("0.00001")
    """Share transfer fee, both sides: 0.001%."""


class CnBondFees(Section):
    """China convertible bond fees (SH 11xxxx, SZ 12xxxx), in CNY. Defaults: MARKET_RULES.md
    (no stamp duty, no transfer fee)."""

    commission_rate: Rate = Decimal("0.0001")
    """Broker commission, both sides: 0.01%."""
    min_commission: Amount = Decimal(1)
    """Smallest commission of one order."""


class HkStockFees(Section):
    """Hong Kong stock fees, in HKD. Defaults: MARKET_RULES.md."""

    commission_rate: Rate = Decimal("0.0003")
    """Broker commission, both sides: 0.03%."""
    min_commission: Amount = Decimal(3)
    """Smallest commission of one order."""
    stamp_duty_rate: Rate = Decimal("0.001")
    """Stamp duty, both sides: 0.1%."""
    trading_fee_rate: Rate = Decimal("0.0000565")
    """HKEX trading fee, both sides: 0.00565%."""
    sfc_levy_rate: Rate = Decimal("0.000027")
    """SFC transaction levy, both sides: 0.0027%."""


class UsStockFees(Section):
    """US stock fees, in USD. Defaults: MARKET_RULES.md (commission-free broker)."""

    commission_rate: Rate = Decimal(0)
    """Broker commission, both sides."""
    min_commission: Amount = Decimal(0)
    """Smallest commission of one order."""
    regulatory_fee_rate: Rate = Decimal("0.0000278")
    """Regulatory fee on sells only (the SEC fee): 0.00278% of the sell notional."""


class CnFuturesFees(Section):
    """China futures fees, in CNY."""

    commission_rate: Rate = Decimal("0.00005")
    """Commission on the notional (price x qty x multiplier), every open and close: 0.005%."""


class PaperFees(Section):
    """Fee schedules of a paper account, one per market. Each component of a fee is rounded
    half up to the cent; minimums apply per order."""

    cn_stock: CnStockFees = Field(default_factory=CnStockFees)
    """SH, SZ and BJ stocks and funds."""
    cn_bond: CnBondFees = Field(default_factory=CnBondFees)
    """SH and SZ convertible bonds."""
    hk_stock: HkStockFees = Field(default_factory=HkStockFees)
    """HK stocks and funds."""
    us_stock: UsStockFees = Field(default_factory=UsStockFees)
    """US stocks and ETFs."""
    cn_futures: CnFuturesFees = Field(default_factory=CnFuturesFees)
    """SHFE, DCE, CZCE, CFFEX, INE and GFEX futures."""


class PaperSettings(Section):
    cash: dict[str, Annotated[Decimal, Field(ge=0)]] = Field(default_factory=_default_cash)
    market: Literal["random_walk", "manual"] = "random_walk"
    """`random_walk`: a seeded walk moves every price several times a second; `manual`:
    prices move only through `POST /paper/{id}/quotes`."""
    market_hours: Literal["always_open", "exchange"] = "always_open"
    seed: int = 42
    contracts: list[ContractRow] = Field(default_factory=list)
    fees: PaperFees = Field(default_factory=PaperFees)
    """`[accounts.paper.fees.cn_stock]`, `.cn_bond`, `.hk_stock`, `.us_stock`,
    `.cn_futures`."""
