"""Defence in depth for logs: secrets are never logged on purpose, and this catches accidents.

Values under keys that look sensitive are replaced, and strings that look like a secret key,
a signature or a bearer token are masked wherever they appear (messages included).
"""

from __future__ import annotations

import re
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

REDACTED = "[REDACTED]"
SENSITIVE_KEY = re.compile(r"secret|authoriz|token|signature|password|cookie|salt", re.IGNORECASE)
_SENSITIVE_TEXT = (
    (re.compile(r"vsSK_[A-Za-z0-9_-]+"), "vsSK_" + REDACTED),
    (re.compile(r"(Signature=)[0-9A-Fa-f]+"), r"\1" + REDACTED),
    (re.compile(r"(Bearer\s+)\S+", re.IGNORECASE), r"\1" + REDACTED),
    (re.compile(r"eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"), REDACTED),  # a JWT
)


def redact(value: Any, _depth: int = 0) -> Any:
    if _depth > 12:
        return value
    if isinstance(value, dict):
        return {
            k: (REDACTED if isinstance(k, str) and SENSITIVE_KEY.search(k) else redact(v, _depth + 1))
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact(v, _depth + 1) for v in value]
    if isinstance(value, str):
        for pattern, replacement in _SENSITIVE_TEXT:
            value = pattern.sub(replacement, value)
        return value
    return value


class RedactingFormatter(LambdaPowertoolsFormatter):
    def serialize(self, log: Any) -> str:
        return super().serialize(redact(log))


def make_logger(**kwargs: Any) -> Logger:
    """A Powertools Logger (JSON, correlation id) whose every line passes through `redact`."""
    return Logger(logger_formatter=RedactingFormatter(), **kwargs)
