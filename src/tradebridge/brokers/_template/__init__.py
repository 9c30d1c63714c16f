"""The folder every broker adapter copies: `brokers/<name>/` with exactly these files.

| file          | what it holds                                                          |
|---------------|------------------------------------------------------------------------|
| `__init__.py` | `create(account, sink)`: imports the adapter (and so the SDK) lazily    |
| `config.py`   | `<Name>Settings`: the `[accounts.<name>]` table; imports no SDK          |
| `mapping.py`  | `brokers.mapping.Table`s both ways: status, side, type, venue, ...      |
| `adapter.py`  | the `Broker` subclass: connect/reconnect, orders, queries, quotes       |
| `reports.py`  | SDK callbacks (on SDK threads) -> `OrderUpdate`/`Fill`/... on the loop  |

Required and optional `Broker` methods: the table in `brokers/base.py`'s docstring.

To add broker `<name>`: copy this folder; add `class <Name>Account(AccountBase)` and
`Annotated[<Name>Account, Tag("<name>")]` to
`config.AccountSettings` and the name to `config.BROKER_NAMES`; add
`BrokerEntry("tradebridge.brokers.<name>", sdk=..., extra="<name>")` to
`registry.BROKERS` (with `files=True`, `create` also gets a directory of its own under the
data dir, for what the SDK writes, e.g. its logs); add the extra (the SDK, pinned) to
`pyproject.toml`; a local fake of the broker's server under `tests/brokers/<name>/`.

Nothing imports this folder at run time; `tests/brokers/test_template.py` keeps it honest
(it type-checks with the rest of `src/` and drives the adapter against an in-process SDK).
"""

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tradebridge.brokers._template.config import TemplateAccount
    from tradebridge.brokers.base import Broker, BrokerSink


def create(account: "TemplateAccount", sink: "BrokerSink") -> "Broker":
    from tradebridge.brokers._template.adapter import TemplateBroker

    return TemplateBroker(account.id, account.template, sink)
