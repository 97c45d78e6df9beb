"""How the reporter reports: one JSON log line per event, and errors that never hold a secret."""

from __future__ import annotations

import json
import logging
import urllib.error
from typing import Any

logger = logging.getLogger("vendstack.usage.reporter")
logger.setLevel(logging.INFO)


class ReporterError(Exception):
    """Configuration or key problem: the run stops before touching the queue. Never holds a secret."""


def log(level: int, message: str, **fields: Any) -> None:
    logger.log(level, json.dumps({"message": message, **fields}, separators=(",", ":"), default=str))


def error_name(exc: BaseException) -> str:
    """The SDK's error code or the exception's class: never str(exc)."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict) and response.get("Error", {}).get("Code"):
        return str(response["Error"]["Code"])
    if isinstance(exc, urllib.error.URLError) and isinstance(exc.reason, BaseException):
        return type(exc.reason).__name__
    return type(exc).__name__
