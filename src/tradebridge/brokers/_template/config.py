"""Settings of a `<name>` account: the `[accounts.<name>]` table (where the broker's server
is, which account, credentials as owner-only files, never inline secrets). Imports no SDK.

`config.py` of the project wraps it: `class <Name>Account(AccountBase)` with
`broker: Literal["<name>"]` and `<name>: <Name>Settings` (this module cannot import
`tradebridge.config`, which imports it)."""

from typing import Protocol

from pydantic import Field

from tradebridge.sections import SecretFile, Section


class TemplateSettings(Section):
    host: str = "127.0.0.1"
    port: int = Field(default=7000, ge=1, le=65535)
    account_no: str
    """The account at the broker that this tradebridge account trades."""
    password_file: SecretFile | None = None
    """A file (owner-only) holding the password, if the broker wants one."""
    request_timeout_s: float = Field(default=10.0, gt=0, le=120)
    """How long one SDK call may take before it counts as unanswered."""


class TemplateAccount(Protocol):
    """What `create` reads of the account (a real broker takes its `<Name>Account`)."""

    @property
    def id(self) -> str: ...

    @property
    def template(self) -> TemplateSettings: ...
