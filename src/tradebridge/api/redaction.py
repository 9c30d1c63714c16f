"""Secrets kept out of logs and of the audit log: tokens, keys and passwords in query strings.

A client may put a credential in a URL (`?token=` for the WebSocket, `?api_key=` out of
habit); the path is then written to the access log, uvicorn's own log lines and the audit
table. Every one of them goes through `redact_secrets` first.
"""

import logging
import re

REDACTED = "[redacted]"

_SECRET_VALUE = re.compile(
    r"((?:token|api_?key|key|password|passwd|secret)=)[^&\s\"']+", re.IGNORECASE
)
"""A `name=value` whose name ends in one of these words (`access_token`, `x-api-key`...)."""


def redact_secrets(text: str) -> str:
    """`text` with the value of every secret-looking `name=value` replaced by `[redacted]`."""
    if "=" not in text:
        return text
    return _SECRET_VALUE.sub(rf"\1{REDACTED}", text)


REDACTED_ALREADY = {"tradebridge_redacted": True}
"""`extra` of a record whose message was built from redacted parts: `RedactTokens` passes it
without formatting and searching it again."""


class RedactTokens(logging.Filter):
    """Redacts secrets in the formatted message of every record of the logger it is on."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "tradebridge_redacted", False):
            return True
        text = record.getMessage()
        redacted = redact_secrets(text)
        if redacted != text:
            record.msg = redacted
            record.args = None
        return True


ACCESS_LOGGER = "tradebridge.access"
"""Where the web writes one line per request (`access_log = true`)."""

_LOGGERS_WITH_PATHS = ("uvicorn.error", "uvicorn.access", ACCESS_LOGGER)
"""The loggers that write request paths: uvicorn's (WebSocket lines; request lines when its
own access log is on) and ours."""


def install_token_redaction() -> None:
    """Add `RedactTokens` to every logger that writes request paths (idempotent).

    A filter on a logger sees only that logger's own records, so each is named here."""
    for name in _LOGGERS_WITH_PATHS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactTokens) for f in logger.filters):
            logger.addFilter(RedactTokens())
