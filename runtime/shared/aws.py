"""Lazily built, cached boto3 clients.

Built on first use, never at import: boto3 then honours `AWS_ENDPOINT_URL` (the sandbox's
local emulator) and `AWS_REGION` from the function's environment, and tests can reset them.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from functools import wraps
from typing import Any, TypeVar

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


# One lock for making clients, across services and threads. boto3.client() goes through boto3's
# default session, and boto3's "Session" guide says "Session objects are not thread safe and should
# not be shared across threads"; botocore issue #2991: "calling this method inside threads may not
# be safe. The safe approach is to create a client in the parent thread [...] This client can be
# shared", as clients are (boto3's "Low-level clients" guide, "Multithreading or multiprocessing
# with clients"). A `functools.cache` alone is no lock: the metering job's eight threads, starting
# at once on a cold start, each made a client of their own, parsing the same service model eight
# times (about 2 s of CPU instead of 0.12 s for one; `tests/unit/test_client_made_once.py`).
_MAKING = threading.RLock()

Make = TypeVar("Make", bound=Callable[..., Any])


def made_once(make: Make) -> Make:
    """`make`, cached per arguments like `functools.cache`: threads that ask at the same time get
    the one object the first of them made. Only a miss takes the lock, so the calls that find
    their client (every SDK call of a warm function) never wait on one being made. Keeps
    `cache_clear()` (the tests reset clients between environments)."""
    made: dict[tuple[Any, ...], Any] = {}

    @wraps(make)
    def once(*args: Any) -> Any:
        try:
            return made[args]
        except KeyError:
            pass
        with _MAKING:
            if args not in made:  # another thread may have made it while this one waited
                made[args] = make(*args)
            return made[args]

    once.cache_clear = made.clear  # type: ignore[attr-defined]
    return once  # type: ignore[return-value]


def new_client(service: str, **options: Any) -> Any:
    """A new boto3 client, traced; boto3 is imported here, on first use, never at a handler's import.
    Made under the lock above, as boto3's default session is not thread safe."""
    import boto3

    from shared.observability import trace_sdk_calls

    with _MAKING:
        trace_sdk_calls()
        return boto3.client(service, **options)


@made_once
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
