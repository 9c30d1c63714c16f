"""Tables. Every change here comes with an Alembic revision in `migrations/versions/`."""

from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    UniqueConstraint,
)

from tradebridge.store.types import DecimalText, EpochMicros

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("username", String(64), nullable=False, unique=True),
    Column("password_hash", String(200), nullable=False),
    Column("role", String(16), nullable=False),
    Column("created_at", EpochMicros, nullable=False),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(26), primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("prefix", String(16), nullable=False),
    Column("scopes", String(64), nullable=False),
    Column("account", String(32), nullable=True),
    Column("created_at", EpochMicros, nullable=False),
    Column("revoked_at", EpochMicros, nullable=True),
)

orders = Table(
    "orders",
    metadata,
    Column("id", String(26), primary_key=True),
    Column("account", String(32), nullable=False),
    Column("client_order_id", String(64), nullable=True),
    Column("symbol", String(32), nullable=False),
    Column("side", String(8), nullable=False),
    Column("offset", String(16), nullable=True),
    Column("type", String(8), nullable=False),
    Column("time_in_force", String(8), nullable=False),
    Column("qty", BigInteger, nullable=False),
    Column("limit_price", DecimalText, nullable=True),
    Column("filled_qty", BigInteger, nullable=False),
    Column("avg_fill_price", DecimalText, nullable=True),
    Column("status", String(16), nullable=False),
    Column("reject_reason", String(200), nullable=True),
    Column("broker_order_id", String(64), nullable=True),
    Column("created_at", EpochMicros, nullable=False),
    Column("updated_at", EpochMicros, nullable=False),
    UniqueConstraint("account", "client_order_id", name="uq_orders_account_client_order_id"),
    # null `client_order_id`: an order placed outside tradebridge (NULLs never collide)
    Index("ix_orders_account_id", "account", "id"),
    Index("ix_orders_account_status", "account", "status"),
)

trades = Table(
    "trades",
    metadata,
    Column("id", String(26), primary_key=True),
    Column("account", String(32), nullable=False),
    Column("broker_trade_id", String(64), nullable=False),
    Column("order_id", String(26), nullable=False),
    Column("client_order_id", String(64), nullable=True),
    Column("symbol", String(32), nullable=False),
    Column("side", String(8), nullable=False),
    Column("qty", BigInteger, nullable=False),
    Column("price", DecimalText, nullable=False),
    Column("fee", DecimalText, nullable=True),  # null until the broker reports it (on_fee)
    Column("time", EpochMicros, nullable=False),
    UniqueConstraint("account", "broker_trade_id", name="uq_trades_account_broker_trade_id"),
    Index("ix_trades_account_id", "account", "id"),
    Index("ix_trades_order_id", "order_id"),
)

events = Table(
    "events",
    metadata,
    Column("account", String(32), primary_key=True),
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("type", String(16), nullable=False),
    Column("payload", LargeBinary, nullable=False),
    Column("created_at", EpochMicros, nullable=False),
)

broker_state = Table(
    "broker_state",
    metadata,
    Column("account", String(32), primary_key=True),
    Column("key", String(64), primary_key=True),
    Column("value", String, nullable=False),
    Column("updated_at", EpochMicros, nullable=False),
)
"""What an adapter asks the engine to keep for it (`BrokerSink.on_state`), written in the same
transaction as the changes it goes with, and handed back to `Broker.restore` at start."""

account_risk = Table(
    "account_risk",
    metadata,
    Column("account", String(32), primary_key=True),
    Column("key", String(64), primary_key=True),
    Column("value", String, nullable=False),
    Column("updated_at", EpochMicros, nullable=False),
)
"""Risk settings changed through `PUT /accounts/{id}/risk`, one row per setting: `value` is the
JSON of the value (`null` for a cleared limit). They win over `[accounts.risk]` of the config
file; settings without a row take the file's value."""

audit = Table(
    "audit",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("time", EpochMicros, nullable=False),
    Column("actor", String(64), nullable=True),
    Column("role", String(16), nullable=True),
    Column("auth", String(16), nullable=True),
    Column("key_id", String(64), nullable=True),
    Column("client_ip", String(64), nullable=True),
    Column("method", String(8), nullable=False),
    Column("path", String(512), nullable=False),
    Column("action", String(200), nullable=False),
    Column("account", String(32), nullable=True),
    Column("target", String(64), nullable=True),
    Column("status", Integer, nullable=False),
    Column("result", String(64), nullable=False),
    Column("request_id", String(64), nullable=False),
    Index("ix_audit_time", "time"),
    Index("ix_audit_actor_id", "actor", "id"),
)
"""Who did what, when, from where and with what result: every login attempt and every
mutating request of the web (`GET /api/v1/audit`). Never a request body, a password, a token
or a key; query-string secrets in `path` are redacted."""

order_aliases = Table(
    "order_aliases",
    metadata,
    Column("account", String(32), primary_key=True),
    Column("alias", BigInteger, primary_key=True, autoincrement=False),
    Column("order_id", String(26), nullable=False),
    UniqueConstraint("account", "order_id", name="uq_order_aliases_account_order_id"),
)
"""The integer by which the QMT dialects (document 001's service, document 003's xtquant
wrapper) name an order: 1, 2, 3... per account, given the first time a dialect shows it."""

unsettled_placements = Table(
    "unsettled_placements",
    metadata,
    Column("account", String(32), primary_key=True),
    Column("request_key", String(64), primary_key=True),
    Column("client_order_id", String(64), nullable=False),
    Column("created_at", EpochMicros, nullable=False),
    Index("ix_unsettled_placements_account_client_order_id", "account", "client_order_id"),
)
"""Orders placed through a dialect without client order ids whose outcome the caller was not
told (504, or the caller gone before the answer): the client order id the dialect gave
them, by a digest of the caller and the order's parameters, so that the caller's retry of
the same order reuses it and cannot place the order twice."""
