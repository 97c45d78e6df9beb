"""`POST /v1/usage`: per-record checks, then idempotent, atomic counting (docs/protocol.md §4.2).

Order: the body's shape was checked by the model (unknown or missing fields → 400, nothing
written); then each record on its own (a rejected record never blocks the rest); then the
valid ones are committed in transactions of at most 100 items. A transaction is cancelled as
a whole when any record id is already stored (a duplicate) or an hour is already sealed for
Marketplace; the cancellation says which, those records are taken out or moved, and the rest
is committed again.

A record whose hour was already sent to Marketplace (possible only for an unsubscribing
customer, metered early, or at month end) is added to the current hour instead, so it is still
billed; if even the current hour is sealed, it is rejected as `HourClosed`.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta

from shared.config import RuntimeConfig
from shared.errors import ServiceError
from usage.dal.usage_store import Entry, UsageStore, chunk_entries
from usage.models import (
    HOUR_CLOSED,
    Attribution,
    IngestResult,
    Rejection,
    UsageRecord,
    UsageRequest,
    check_record,
    hour_key,
)

MAX_COMMIT_ATTEMPTS = 6


def validate(
    request: UsageRequest, config: RuntimeConfig, now: datetime
) -> tuple[list[UsageRecord], int, list[Rejection]]:
    """(valid records, duplicates within the request, rejections), in request order."""
    window = timedelta(hours=config.usage_window_hours)
    dimensions = config.dimension_names()
    valid: list[UsageRecord] = []
    rejected: list[Rejection] = []
    seen: set[str] = set()
    repeats = 0
    for raw in request.records:
        checked = check_record(raw, dimensions=dimensions, window=window, now=now)
        if isinstance(checked, Rejection):
            rejected.append(checked)
        elif checked.id in seen:
            repeats += 1  # the same id twice in one request: counted once, the rest are duplicates
        else:
            seen.add(checked.id)
            valid.append(checked)
    return valid, repeats, rejected


def ingest(
    store: UsageStore,
    customer_id: str,
    attribution: Attribution,
    request: UsageRequest,
    config: RuntimeConfig,
    now: datetime,
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> IngestResult:
    valid, repeats, rejected = validate(request, config, now)
    result = IngestResult(duplicates=repeats, rejected=rejected)
    current = hour_key(now)
    entries = [Entry(record, record.hour) for record in valid]
    for chunk in chunk_entries(entries):
        _commit(store, customer_id, attribution, chunk, current, now, result, sleep)
    return result


def _commit(
    store: UsageStore,
    customer_id: str,
    attribution: Attribution,
    chunk: list[Entry],
    current_hour: str,
    now: datetime,
    result: IngestResult,
    sleep: Callable[[float], None],
) -> None:
    for attempt in range(MAX_COMMIT_ATTEMPTS):
        if not chunk:
            return
        outcome = store.commit(customer_id, chunk, attribution, now)
        if outcome.committed:
            result.accepted += len(chunk)
            return
        if outcome.duplicates:
            result.duplicates += sum(1 for e in chunk if e.record.id in outcome.duplicates)
            chunk = [e for e in chunk if e.record.id not in outcome.duplicates]
        if outcome.sealed:
            moved: list[Entry] = []
            for entry in chunk:
                if (entry.billed_hour, entry.record.dimension) not in outcome.sealed:
                    moved.append(entry)
                elif entry.billed_hour != current_hour:
                    moved.append(replace(entry, billed_hour=current_hour))
                else:
                    result.rejected.append(
                        Rejection(
                            entry.record.id,
                            HOUR_CLOSED,
                            "usage for this hour was already sent to AWS Marketplace.",
                        )
                    )
            chunk = moved
        if outcome.contention:
            sleep(min(1.0, 0.05 * 2**attempt) * (0.5 + random.random() / 2))  # noqa: S311 - jitter
    raise ServiceError("Usage could not be recorded (write contention); retry the request.")
