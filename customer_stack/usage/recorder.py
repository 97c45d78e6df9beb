"""Records what a paid solution function is billed, on an SQS queue in the customer's own account.

The queue, not the vendor, is the first stop, so no usage is lost while the vendor is unreachable;
the hourly reporter (`reporter/`) drains it. Within one invocation usage is pre-aggregated per
dimension and hour and sent at the end with SendMessageBatch (10 events a call), so a typical call
costs one SQS request. Standard library + boto3 (present in every Lambda Python runtime); boto3 is
imported and its client created on the first send, so importing this module is cheap.

    with record_usage() as usage:          # sent when the block ends, even if it raised
        usage.add("requests")
        usage.add("characters", 3)

    record({"requests": 1, "characters": 3})          # one-shot

    @metered(lambda event, result: result.get("usage"))  # amounts from the handler's result
    def handler(event, context): ...

A failure to enqueue never reaches the caller: it is logged at ERROR as `usage_not_enqueued` with
the events themselves (dimension, quantity, timestamp, event_id: no secrets, enough to replay),
so an alarm on that word finds it. Invalid arguments to `add` (negative quantity, naive datetime,
empty dimension) are programming errors and raise ValueError; `metered` catches even those.

Message body (one per event): {"dimension", "quantity" (int >= 0), "timestamp" (RFC 3339, UTC, Z:
when the usage happened; the first use in its hour), "event_id" (uuid4 hex, the reporter dedupes
and derives record ids from it)}. Env: USAGE_QUEUE_URL. IAM: sqs:SendMessage on that queue.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

QUEUE_URL_ENV = "USAGE_QUEUE_URL"
MAX_BATCH = 10  # SendMessageBatch limit
MAX_DIMENSION_LENGTH = 128
_TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%SZ"

logger = logging.getLogger("vendstack.usage.recorder")

_client: Any = None
_client_lock = threading.Lock()


def _sqs() -> Any:
    """One client per container, created on first use: short timeouts, because this runs inside
    the customer's request and a slow queue must not become a slow API."""
    global _client
    if _client is None:
        with _client_lock:
            if _client is None:
                import boto3
                from botocore.config import Config

                _client = boto3.client(
                    "sqs",
                    config=Config(
                        connect_timeout=1, read_timeout=3, retries={"max_attempts": 2, "mode": "standard"}
                    ),
                )
    return _client


def reset_client() -> None:
    """Forgets the cached client (tests that move AWS_ENDPOINT_URL between emulators)."""
    global _client
    with _client_lock:
        _client = None


def _hour(at: datetime) -> datetime:
    return at.replace(minute=0, second=0, microsecond=0)


class Usage:
    """What one invocation used, summed per (dimension, hour) until `flush`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # (dimension, hour start) -> [quantity, time of first use]
        self._buckets: dict[tuple[str, datetime], list[Any]] = {}

    def add(self, dimension: str, quantity: int = 1, *, at: datetime | None = None) -> None:
        if not isinstance(dimension, str) or not 1 <= len(dimension) <= MAX_DIMENSION_LENGTH:
            raise ValueError(f"dimension must be a string of 1 to {MAX_DIMENSION_LENGTH} characters")
        if type(quantity) is not int or quantity < 0:
            raise ValueError("quantity must be an integer >= 0")
        if at is None:
            at = datetime.now(UTC)
        elif at.tzinfo is None:
            raise ValueError("at must be timezone-aware")
        at = at.astimezone(UTC).replace(microsecond=0)
        key = (dimension, _hour(at))
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                self._buckets[key] = [quantity, at]
            else:
                bucket[0] += quantity

    def add_all(self, amounts: Mapping[str, int], *, at: datetime | None = None) -> None:
        for dimension, quantity in amounts.items():
            self.add(dimension, quantity, at=at)

    def __len__(self) -> int:
        return len(self._buckets)

    def take_events(self) -> list[dict]:
        """The pre-aggregated events (quantity 0 carries no charge and is left out), each with a
        fresh event_id; the usage is emptied, so a second flush sends nothing twice."""
        with self._lock:
            buckets, self._buckets = self._buckets, {}
        return [
            {
                "dimension": dimension,
                "quantity": quantity,
                "timestamp": first.strftime(_TIMESTAMP_FORMAT),
                "event_id": uuid.uuid4().hex,
            }
            for (dimension, _), (quantity, first) in sorted(buckets.items())
            if quantity > 0
        ]


def _error_name(exc: BaseException) -> str:
    """The SDK's error code or the exception's class: never str(exc), which may carry a URL."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        code = response.get("Error", {}).get("Code")
        if code:
            return str(code)
    return type(exc).__name__


def _log_lost(events: Sequence[dict], reason: str) -> None:
    logger.error(
        json.dumps(
            {
                "level": "ERROR",
                "message": "usage_not_enqueued",
                "reason": reason,
                "count": len(events),
                "events": list(events),
            },
            separators=(",", ":"),
        )
    )


def enqueue(events: Sequence[dict], *, queue_url: str | None = None, client: Any = None) -> int:
    """Puts events on the usage queue, 10 per SendMessageBatch; returns how many were enqueued.
    Never raises: what could not be enqueued is logged loudly (see the module docstring)."""
    if not events:
        return 0
    queue_url = queue_url or os.environ.get(QUEUE_URL_ENV)
    if not queue_url:
        _log_lost(events, f"{QUEUE_URL_ENV} is not set")
        return 0
    sent = 0
    for start in range(0, len(events), MAX_BATCH):
        chunk = list(events[start : start + MAX_BATCH])
        try:
            sqs = client if client is not None else _sqs()
            sent += _send_batch(sqs, queue_url, chunk)
        except Exception as exc:  # the customer's request must go on; the loss is logged
            _log_lost(chunk, _error_name(exc))
    return sent


def _send_batch(sqs: Any, queue_url: str, chunk: list[dict]) -> int:
    """Sends up to 10 events; entries that failed on the server's side get one more try."""
    pending = {f"e{i}": event for i, event in enumerate(chunk)}
    sent = 0
    for attempt in (1, 2):
        entries = [
            {"Id": entry_id, "MessageBody": json.dumps(event, separators=(",", ":"))}
            for entry_id, event in pending.items()
        ]
        response = sqs.send_message_batch(QueueUrl=queue_url, Entries=entries)
        failed = {f.get("Id"): f for f in response.get("Failed") or [] if f.get("Id") in pending}
        sent += len(pending) - len(failed)
        retry = {k: pending[k] for k, f in failed.items() if attempt == 1 and not f.get("SenderFault")}
        lost = [k for k in failed if k not in retry]
        if lost:
            codes = sorted({str(failed[k].get("Code") or "Failed") for k in lost})
            _log_lost([pending[k] for k in lost], ",".join(codes))
        if not retry:
            break
        pending = retry
    return sent


def flush(usage: Usage, *, queue_url: str | None = None, client: Any = None) -> int:
    return enqueue(usage.take_events(), queue_url=queue_url, client=client)


@contextmanager
def record_usage(*, queue_url: str | None = None, client: Any = None) -> Iterator[Usage]:
    """Yields a Usage; what was added is enqueued when the block ends, also when it raised (the
    work was done, so it is billed). The block's own exception propagates; enqueueing never raises."""
    usage = Usage()
    try:
        yield usage
    finally:
        flush(usage, queue_url=queue_url, client=client)


def record(
    amounts: Mapping[str, int],
    *,
    at: datetime | None = None,
    queue_url: str | None = None,
    client: Any = None,
) -> int:
    """One-shot: `record(usage_for(text))`. Returns how many events were enqueued."""
    usage = Usage()
    usage.add_all(amounts, at=at)
    return flush(usage, queue_url=queue_url, client=client)


UsageOf = Callable[[Any, Any], "Mapping[str, int] | None"]


def metered(usage_of: UsageOf, *, queue_url: str | None = None, client: Any = None) -> Callable:
    """Decorates a Lambda handler: after it returns, `usage_of(event, result)` says what the call is
    billed ({dimension: quantity}, or None for nothing). A handler that raises is not billed; a
    usage_of that fails is logged and the response still goes out."""

    def decorate(handler: Callable) -> Callable:
        @functools.wraps(handler)
        def wrapper(event: Any, context: Any = None) -> Any:
            result = handler(event, context)
            try:
                amounts = usage_of(event, result)
                if amounts:
                    record(amounts, queue_url=queue_url, client=client)
            except Exception as exc:
                logger.error(
                    json.dumps(
                        {"level": "ERROR", "message": "usage_not_recorded", "reason": _error_name(exc)},
                        separators=(",", ":"),
                    )
                )
            return result

        return wrapper

    return decorate
