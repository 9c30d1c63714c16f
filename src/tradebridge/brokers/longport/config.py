"""Settings of a `longport` account: the `[accounts.longport]` table (API.md §7). Imports no
SDK.

The app key, app secret and access token come from LongPort's developer site. The secret and
the token are read from owner-only files; the app key (sent in clear in every request's
`X-Api-Key` header, not a secret) may be given inline as API.md shows, or as a file."""

from typing import Any, Protocol, Self

from pydantic import Field, field_validator, model_validator

from tradebridge.sections import SecretFile, Section


class LongportSettings(Section):
    app_key: str = ""
    app_key_file: SecretFile | None = None
    """The app key in an owner-only file, instead of `app_key`."""
    app_secret_file: SecretFile
    access_token_file: SecretFile
    http_url: str = ""
    """"": the SDK's default (LongPort's servers); tests point it at a local server."""
    quote_ws_url: str = ""
    trade_ws_url: str = ""
    request_timeout_s: float = Field(default=15.0, gt=0, le=120)
    """How long one SDK call may take before it counts as unanswered."""

    @field_validator("app_key_file", mode="before")
    @classmethod
    def _empty_is_none(cls, value: Any) -> Any:
        return None if value == "" else value

    @model_validator(mode="after")
    def _one_app_key(self) -> Self:
        if bool(self.app_key) == (self.app_key_file is not None):
            raise ValueError("give the LongPort app key as app_key or as app_key_file (one)")
        return self


class LongportAccountSettings(Protocol):
    """What `create` reads of the account (`config.LongportAccount`)."""

    @property
    def id(self) -> str: ...

    @property
    def base_currency(self) -> str: ...

    @property
    def longport(self) -> LongportSettings: ...
