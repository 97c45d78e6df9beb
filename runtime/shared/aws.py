"""Lazily built, cached boto3 clients.

Built on first use, never at import: boto3 then honours `AWS_ENDPOINT_URL` (the sandbox's
local emulator) and `AWS_REGION` from the function's environment, and tests can reset them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from functools import cache
from typing import Any

# boto3 and botocore's client modules are imported on first use, not at a handler's import: they
# are most of a cold start (see "Benchmarks" in the README).
# botocore's DEBUG logs print whole response bodies, and a GenerateMac response *is* a secret
# key. Whatever log level someone turns on, those records are dropped at the source.
_WIRE_LOGGERS = (
    "botocore.parsers",
    "botocore.endpoint",
    "botocore.hooks",
    "botocore.httpchecksum",
    "urllib3",
)


class DropMacResponses(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno > logging.DEBUG:
            return True
        try:
            text = record.getMessage()
        except Exception:  # a record that cannot be formatted carries nothing we can vet
            return False
        # ... and a PutDeploymentParameter request *carries* one (Quick Launch's deployment key).
        return '"Mac"' not in text and "'Mac'" not in text and "secretString" not in text


_FILTER = DropMacResponses()
for _name in _WIRE_LOGGERS:
    logging.getLogger(_name).addFilter(_FILTER)


def sdk_config(**settings: Any) -> Any:
    """A `botocore.config.Config`, imported on first use."""
    from botocore.config import Config

    return Config(**settings)


def new_client(service: str, **options: Any) -> Any:
    """A new boto3 client, traced; boto3 is imported here, on first use, never at a handler's import."""
    import boto3

    from shared.observability import trace_sdk_calls

    trace_sdk_calls()
    return boto3.client(service, **options)


@cache
def client(service: str) -> Any:
    retries = {"max_attempts": 3, "mode": "standard"}
    return new_client(service, config=sdk_config(connect_timeout=2, read_timeout=5, retries=retries))


def all_items(ddb: Any, operation: str, request: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every raw item of a DynamoDB `query` or `scan`, following `LastEvaluatedKey` page by page.
    SDK errors surface while iterating, so callers consume it inside their own error mapping."""
    request = dict(request)
    while True:
        answer = getattr(ddb, operation)(**request)
        yield from answer.get("Items", [])
        if "LastEvaluatedKey" not in answer:
            return
        request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]
