"""`POST /v1/usage`: per-record checks, then idempotent, atomic counting (docs/protocol.md §4.2).

Order: the body's shape was checked by the model (unknown or missing fields → 400, nothing
written); then each record on its own (a rejected record never blocks the rest); then the
valid ones are committed in transactions of at most 100 items. A transaction is cancelled as
a whole when any record id is already stored (a duplicate) or an hour is already sealed for
Marketplace; the cancellation says which, those records are taken out or moved, and the rest
is committed again.

A record whose hour was already sent to Marketplace (possible only for an unsubscribing
customer, metered early, or at month end) is added to the current hour instead, so it is still
billed. The metering job seals an hour only once it has ended by the job's own clock, so the
current hour can be sealed only when that clock runs ahead of this function's: seconds of skew
at an hour boundary on AWS, or a metering run dated ahead in the sandbox. Such a record is
counted in the next hour, which the job sends only after it has ended (so Marketplace never
gets a timestamp in the future: "BatchMeterUsage", AWS Marketplace Metering Service API
reference). If that hour is sealed too, the record is rejected as `HourClosed`.

An hourly aggregate is metered as one BatchMeterUsage record, whose quantity cannot pass
MAX_QUANTITY; an hour that went past it could not be billed at all. So a record that would take
its hour's total past it is rejected on its own (`HourlyTotalExceeded`), in request order, and
the rest still count. The ceiling is enforced by the transaction's condition (so concurrent
requests cannot race past it); this module only decides which records to leave out, from the
stored total that a refused condition reports, and commits again.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from shared.backoff import equal_jitter
from shared.config import RuntimeConfig
from shared.errors import ServiceError
from usage.dal.usage_store import Entry, UsageStore, chunk_entries
from usage.models import (
    HOUR_CLOSED,
    HOUR_FULL,
    MAX_QUANTITY,
    Attribution,
    IngestResult,
    Rejection,
    UsageRecord,
    check_record,
    hour_key,
)

if TYPE_CHECKING:
    from usage.bodies import UsageRequest

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
    following = hour_key(now + timedelta(hours=1))
    entries = [Entry(record, record.hour) for record in valid]
    totals: dict[tuple[str, str], int] = {}  # stored hourly totals as last learnt (unknown: 0)
    for chunk in chunk_entries(entries):
        _commit(store, customer_id, attribution, chunk, (current, following), now, result, totals, sleep)
    return result


def fit_hours(chunk: list[Entry], totals: dict[tuple[str, str], int], result: IngestResult) -> list[Entry]:
    """The entries that fit under MAX_QUANTITY per (billed hour, dimension), given the totals
    believed stored; each that does not is rejected by itself, and later smaller ones may fit."""
    running = dict(totals)
    kept: list[Entry] = []
    for entry in chunk:
        key = (entry.billed_hour, entry.record.dimension)
        total = running.get(key, 0)
        if total + entry.record.quantity > MAX_QUANTITY:
            result.rejected.append(
                Rejection(
                    entry.record.id,
                    HOUR_FULL,
                    f"the hour's total for this dimension would exceed {MAX_QUANTITY}, the most AWS "
                    "Marketplace accepts in one record; report the excess in a later hour.",
                )
            )
            continue
        running[key] = total + entry.record.quantity
        kept.append(entry)
    return kept


def _later_hour(billed_hour: str, open_hours: tuple[str, str]) -> str | None:
    """Where a record of a sealed hour is counted instead: the current hour, or the next one
    when the current hour itself is sealed; None when there is no later hour to take it."""
    current, following = open_hours
    if billed_hour < current:
        return current
    if billed_hour == current:
        return following
    return None


def _commit(
    store: UsageStore,
    customer_id: str,
    attribution: Attribution,
    chunk: list[Entry],
    open_hours: tuple[str, str],
    now: datetime,
    result: IngestResult,
    totals: dict[tuple[str, str], int],
    sleep: Callable[[float], None],
) -> None:
    for attempt in range(MAX_COMMIT_ATTEMPTS):
        chunk = fit_hours(chunk, totals, result)
        if not chunk:
            return
        outcome = store.commit(customer_id, chunk, attribution, now)
        if outcome.committed:
            result.accepted += len(chunk)
            for entry in chunk:
                key = (entry.billed_hour, entry.record.dimension)
                totals[key] = totals.get(key, 0) + entry.record.quantity
            return
        totals.update(outcome.full)
        if outcome.duplicates:
            result.duplicates += sum(1 for e in chunk if e.record.id in outcome.duplicates)
            chunk = [e for e in chunk if e.record.id not in outcome.duplicates]
        if outcome.sealed:
            moved: list[Entry] = []
            for entry in chunk:
                later = _later_hour(entry.billed_hour, open_hours)
                if (entry.billed_hour, entry.record.dimension) not in outcome.sealed:
                    moved.append(entry)
                elif later is not None:
                    moved.append(replace(entry, billed_hour=later))
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
            sleep(equal_jitter(attempt, base=0.05, cap=1.0))
    raise ServiceError("Usage could not be recorded (write contention); retry the request.")
