"""The metering function (`metering.handlers.job.handler`), run hourly by an EventBridge schedule.

The job's clock is the event's `time` (the scheduled time; the sandbox's
`POST /_sandbox/jobs/metering {"now": …}` sends that time), so a run is reproducible and
a late invocation still meters the hours it was scheduled for. Returns the run's summary.
"""

from __future__ import annotations

from datetime import timedelta
from functools import lru_cache
from typing import Any

from aws_lambda_powertools import Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from audit.redaction import make_logger
from metering.dal.aggregates import MeterStore
from metering.dal.marketplace import BatchMeter
from metering.dal.subscriptions import SubscriptionReader
from metering.logic.job import MeteringJob, Summary
from shared.config import get_config
from shared.timestamps import parse_timestamp, utcnow

logger = make_logger()
tracer = Tracer(patch_modules=["botocore"])  # AWS calls only: patch_all would import requests & co.
metrics = Metrics()
WORKERS = 8


@lru_cache(maxsize=1)
def stores() -> tuple[MeterStore, SubscriptionReader]:
    table = get_config().tables["data"]
    return MeterStore(table, workers=WORKERS), SubscriptionReader(table)


def job_clock(event: Any) -> Any:
    """The EventBridge event's `time`; a manual invocation without one runs at the current time."""
    value = event.get("time") if isinstance(event, dict) else None
    if value is None:
        return utcnow()
    try:
        return parse_timestamp(str(value).replace("+00:00", "Z"))
    except ValueError:
        raise ValueError("the event's 'time' must be an RFC 3339 UTC timestamp") from None


def emit(summary: Summary) -> None:
    count = MetricUnit.Count
    metrics.add_metric(name="MeteringRecordsMetered", unit=count, value=summary.metered + summary.duplicate)
    metrics.add_metric(
        name="MeteringFailures", unit=count, value=summary.failures + (summary.stopped is not None)
    )
    metrics.add_metric(name="MeteringCustomerNotSubscribed", unit=count, value=summary.not_subscribed)
    metrics.add_metric(name="MeteringExpired", unit=count, value=summary.expired)
    metrics.add_metric(name="MeteringRecordFailed", unit=count, value=summary.failed)
    metrics.add_metric(name="MeteringAwaitingSubscription", unit=count, value=summary.awaiting_subscription)
    metrics.add_metric(name="MeteringPendingLeft", unit=count, value=summary.pending_left + summary.deferred)
    metrics.add_metric(name="MeteringThrottled", unit=count, value=summary.throttled)


def _time_left(context: Any) -> Any:
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    return (lambda: remaining() / 1000) if callable(remaining) else (lambda: float("inf"))


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def handler(event: dict, context: LambdaContext) -> dict:
    config = get_config()
    now = job_clock(event)
    store, subscriptions = stores()
    job = MeteringJob(
        store,
        subscriptions,
        BatchMeter(),
        window=timedelta(hours=config.usage_window_hours),
        workers=WORKERS,
        time_left=_time_left(context),
    )
    summary = job.run(now)
    emit(summary)
    document = summary.document()
    level = logger.error if summary.stopped else logger.warning if summary.failures else logger.info
    level("metering run finished", extra={"summary": document})
    return document
