"""The hourly metering job: queued hourly aggregates → AWS Marketplace BatchMeterUsage.

Exactly once, even when a run dies anywhere and runs again:

1. An aggregate is *sealed* before its record is sent: `meter_status=pending`, `sealed_at`, and
   `meter_record` = the exact UsageRecord (timestamp, dimension, quantity, account + licence).
   Ingestion never adds to a sealed aggregate (its increment is conditional on `sealed_at`
   being absent), so the quantity sent is final. Aggregates settled by the usage window are
   sealed by a put written just before the call; ones that may still change (early metering)
   by a conditional update that checks the quantity read.
2. The call is made; each result is stored on its aggregate (`metered`, `duplicate`,
   `not-subscribed`, with the MeteringRecordId) and the aggregate leaves the queue.
3. A run that dies between 1 and 2 leaves `pending` aggregates in the queue. The next run sends
   the stored `meter_record` again, unchanged: Marketplace deduplicates on customer, dimension
   and hour and answers an identical resend with Success (same MeteringRecordId), so the
   aggregate is resolved without a second charge. Nothing is ever sent with a different
   quantity for an hour already sent.
4. `CustomerNotSubscribed` is final: stored, flagged (`METERFLAG#not-subscribed`), counted.
   `DuplicateRecord` means Marketplace kept a different quantity for that hour: flagged
   (`METERFLAG#duplicate`) for reconciliation, counted, never counted as metered.
   An aggregate with no usable subscription stays queued as `awaiting-subscription` and is sent
   once a subscription is linked, while still inside Marketplace's 6 h window; after that it is
   flagged `expired`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from dataclasses import fields as dataclass_fields
from datetime import datetime, timedelta
from typing import Any

from aws_lambda_powertools import Logger

from metering.dal.aggregates import MeterStore
from metering.dal.marketplace import PARAM_VALIDATION, BatchRejected
from metering.dal.subscriptions import SubscriptionReader
from metering.logic.plan import Job, batches, plan_run
from metering.logic.submit import (
    CUSTOMER_NOT_SUBSCRIBED,
    DUPLICATE_RECORD,
    SUCCESS,
    Backoff,
    Outcome,
    PoolGate,
    submit_batch,
)
from shared.timestamps import format_timestamp
from usage.models import (
    AWAITING,
    DUPLICATE,
    EXPIRED,
    FAILED,
    METERED,
    NOT_SUBSCRIBED,
    PENDING,
    flag_pk,
    hour_key,
)

logger = Logger(child=True)
GSI_ATTRIBUTES = ("gsi1pk", "gsi1sk")
TIME_RESERVE_SECONDS = 20.0
# Errors about a record (isolate it: send each record of the batch alone, then flag the bad one).
RECORD_ERRORS = {
    "InvalidLicenseException",
    "TimestampOutOfBoundsException",
    "InvalidCustomerIdentifierException",
    "InvalidUsageAllocationsException",
    "InvalidUsageDimensionException",
    "InvalidTagException",
    "ValidationException",
    PARAM_VALIDATION,  # botocore refused it client-side: a bug, flagged, never retried
}
RECONCILE = "DuplicateRecord: Marketplace holds a different quantity for this hour; reconcile"
# Anything else refuses every call alike (product code, API disabled, credentials): stop the run,
# leave everything queued for the next one.

Meter = Callable[[list[dict[str, Any]], str | None], dict[str, Any]]


@dataclass
class Summary:
    now: str
    queued: int = 0
    not_yet: int = 0
    awaiting_subscription: int = 0
    sealed_early: int = 0
    seal_conflicts: int = 0
    resubmitted: int = 0
    submitted: int = 0
    metered: int = 0
    duplicate: int = 0
    not_subscribed: int = 0
    expired: int = 0
    failed: int = 0
    sdk_refused: int = 0  # ParamValidationError: the SDK's model refused the record (alarmed)
    pending_left: int = 0
    deferred: int = 0
    batches: int = 0
    marketplace_calls: int = 0
    marketplace_retries: int = 0
    throttled: int = 0
    ddb_write_calls: int = 0
    stopped: str | None = None
    seconds: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, **counts: int) -> None:
        with self._lock:
            for name, value in counts.items():
                setattr(self, name, getattr(self, name) + value)

    def document(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in dataclass_fields(self) if not f.name.startswith("_")}
        data["seconds"] = round(self.seconds, 3)
        data["records_per_second"] = round(self.submitted / self.seconds, 1) if self.seconds else 0.0
        return data

    @property
    def failures(self) -> int:
        """What the vendor must look at: not billed (or not as recorded) and not going to be by itself."""
        return self.not_subscribed + self.expired + self.failed + self.duplicate


class MeteringJob:
    def __init__(
        self,
        store: MeterStore,
        subscriptions: SubscriptionReader,
        meter: Meter,
        *,
        window: timedelta,
        workers: int = 8,
        backoff: Backoff | None = None,
        sleep: Callable[[float], None] = time.sleep,
        time_left: Callable[[], float] = lambda: float("inf"),
    ) -> None:
        self._store = store
        self._subs = subscriptions
        self._meter = meter
        self._window = window
        self._workers = max(1, workers)
        self._backoff = backoff or Backoff()
        self._sleep = sleep
        self._time_left = time_left
        self._stop: str | None = None

    def run(self, now: datetime) -> Summary:
        """Load the due aggregates and their subscriptions, decide every one with the pure plan,
        then apply the decisions: marks and early seals, then the batches (pending write, call,
        results), on a bounded pool whose Marketplace calls share one throttle backoff."""
        started = time.perf_counter()
        stamp = format_timestamp(now)
        summary = Summary(now=stamp)
        self._stop = None
        items = self._store.due(hour_key(now))
        subs = self._subs.get_many(item["customer_id"] for item in items)
        plan = plan_run(items, subs, now, self._window, stamp)
        summary.queued, summary.not_yet = len(items), plan.wait
        summary.awaiting_subscription, summary.resubmitted = len(plan.awaiting), plan.resubmitted
        gate = PoolGate(self._backoff, sleep=self._sleep)
        with ThreadPoolExecutor(max_workers=self._workers) as pool:

            def each(function: Callable[..., Any], arguments: list[tuple]) -> list[Any]:
                if self._workers == 1 or len(arguments) <= 1:
                    return [function(*a) for a in arguments]
                # result() re-raises a worker's failure: the run stops, pendings stay queued
                return [f.result() for f in [pool.submit(function, *a) for a in arguments]]

            each(self._mark_awaiting, [(item, stamp, summary) for item in plan.to_mark_awaiting])
            each(self._expire, [(item, reason, stamp, summary) for item, reason in plan.expire])
            sealed = each(self._seal_early, [(*early, summary) for early in plan.seal_early])
            jobs = plan.send + [job for job in sealed if job is not None]
            each(self._process, [(batch, stamp, summary, gate) for batch in batches(jobs)])
        summary.stopped = self._stop
        summary.seconds = time.perf_counter() - started
        return summary

    # ------------------------------------------------------------------ single-item writes

    def _mark_awaiting(self, item: dict[str, Any], stamp: str, summary: Summary) -> None:
        self._store.mark(item, {"meter_status": AWAITING, "flagged_at": stamp}, unsealed=True)
        summary.add(ddb_write_calls=1)
        logger.warning("usage awaits a linked subscription", extra=_where(item))

    def _seal_early(
        self, item: dict[str, Any], fields: dict[str, Any], job: Job, summary: Summary
    ) -> Job | None:
        stored = self._store.seal(item, fields)
        summary.add(ddb_write_calls=1)
        if stored is None:
            summary.add(seal_conflicts=1)  # changed since read: the next run reads it again
            return None
        summary.add(sealed_early=1)
        return Job(stored, job.record, job.product_code, needs_pending_write=False)

    # ------------------------------------------------------------------ one batch

    def _process(self, batch: list[Job], stamp: str, summary: Summary, gate: PoolGate | None = None) -> None:
        if self._stop is not None or self._time_left() < TIME_RESERVE_SECONDS:
            summary.add(deferred=len(batch))
            return
        pending = [job.item for job in batch if job.needs_pending_write]
        if pending:
            summary.add(ddb_write_calls=self._store.put_items(pending))
            for job in batch:
                job.needs_pending_write = False
        summary.add(batches=1, submitted=len(batch))
        product_code = batch[0].product_code
        try:
            sent = submit_batch(
                lambda records: self._meter(records, product_code),
                [job.record for job in batch],
                backoff=self._backoff,
                sleep=self._sleep,
                gate=gate,
            )
        except BatchRejected as exc:
            summary.add(marketplace_calls=1)
            self._rejected(batch, exc, stamp, summary)
            return
        summary.add(marketplace_calls=sent.calls, marketplace_retries=sent.retries, throttled=sent.throttled)
        resolved = []
        for job in batch:
            outcome = sent.outcomes.get(job.key)
            if outcome is None:
                summary.add(pending_left=1)  # still pending: the next run sends it again
                continue
            resolved.append(self._resolution(job.item, outcome, stamp, summary))
        if resolved:
            summary.add(ddb_write_calls=self._store.put_items(resolved))

    def _rejected(self, batch: list[Job], exc: BatchRejected, stamp: str, summary: Summary) -> None:
        if exc.code not in RECORD_ERRORS:
            self._stop = exc.code
            logger.error("Marketplace refused the request; run stopped", extra={"error_code": exc.code})
            summary.add(submitted=-len(batch), pending_left=len(batch))
            return
        if len(batch) > 1:
            summary.add(submitted=-len(batch), batches=-1)
            for job in batch:
                self._process([job], stamp, summary, None)
            return
        item = {
            **batch[0].item,
            "meter_status": FAILED,
            "meter_error": f"{exc.code}: {exc.message}"[:500],
            "flagged_at": stamp,
            "gsi1pk": flag_pk(FAILED),
        }
        summary.add(failed=1, ddb_write_calls=self._store.put_items([item]))
        if exc.code == PARAM_VALIDATION:
            summary.add(sdk_refused=1)
            logger.error("the SDK refused a usage record (a bug, not retried)", extra=_where(item))
            return
        logger.warning("usage record refused by Marketplace", extra={**_where(item), "error_code": exc.code})

    def _resolution(self, item: dict[str, Any], outcome: Outcome, stamp: str, summary: Summary) -> dict:
        done = {k: v for k, v in item.items() if k not in GSI_ATTRIBUTES}
        if outcome.metering_record_id:
            done["metering_record_id"] = outcome.metering_record_id
        if outcome.status == SUCCESS:
            summary.add(metered=1)
            return {**done, "meter_status": METERED, "metered_at": stamp}
        if outcome.status == DUPLICATE_RECORD:
            # Marketplace kept a different quantity for this hour (an identical resend answers
            # Success): billed, but not what was recorded. Flagged for reconciliation.
            summary.add(duplicate=1)
            logger.warning("Marketplace holds another quantity for this hour", extra=_where(item))
            return {
                **item,
                **({"metering_record_id": outcome.metering_record_id} if outcome.metering_record_id else {}),
                "meter_status": DUPLICATE,
                "meter_error": RECONCILE,
                "flagged_at": stamp,
                "gsi1pk": flag_pk(DUPLICATE),
            }
        if outcome.status == CUSTOMER_NOT_SUBSCRIBED:
            summary.add(not_subscribed=1)
            logger.warning("customer not subscribed in Marketplace", extra=_where(item))
            return {
                **item,
                "meter_status": NOT_SUBSCRIBED,
                "meter_error": CUSTOMER_NOT_SUBSCRIBED,
                "flagged_at": stamp,
                "gsi1pk": flag_pk(NOT_SUBSCRIBED),
            }
        summary.add(failed=1)
        return {
            **item,
            "meter_status": FAILED,
            "meter_error": f"unknown status {outcome.status}"[:500],
            "flagged_at": stamp,
            "gsi1pk": flag_pk(FAILED),
        }

    def _expire(self, item: dict[str, Any], reason: str, stamp: str, summary: Summary) -> None:
        fields = {
            "meter_status": EXPIRED,
            "meter_error": reason,
            "flagged_at": stamp,
            "sealed_at": item.get("sealed_at") or stamp,
            "gsi1pk": flag_pk(EXPIRED),
        }
        if self._store.mark(item, fields, unsealed=item.get("meter_status") != PENDING):
            summary.add(expired=1)
            logger.warning("usage not metered: outside Marketplace's window", extra=_where(item))
        summary.add(ddb_write_calls=1)


def _where(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "customer_id": item.get("customer_id"),
        "hour": item.get("hour"),
        "dimension": item.get("dimension"),
        "quantity": int(item.get("quantity", 0)),
    }
