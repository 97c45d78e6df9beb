"""The metering function (`metering.handlers.job.handler`), run hourly by an EventBridge schedule.

The job's clock is the event's `time` (the scheduled time), clamped to the real time: a late
invocation still meters the hours it was scheduled for, but a principal allowed to invoke the
function cannot hand it a future time and make it flag hours as expired. Only the sandbox,
whose jobs run at a chosen `now` (`POST /_sandbox/jobs/metering {"now": …}`), trusts the
event's time as it is: its worker environment alone carries `SANDBOX_CLOCK_VARIABLE` (the
synthesized template never does; `tests/infra` checks it). Returns the run's summary.
"""

from __future__ import annotations

from datetime import timedelta
from functools import lru_cache
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from metering.dal.aggregates import MeterStore
from metering.dal.marketplace import BatchMeter
from metering.dal.subscriptions import SubscriptionReader
from metering.logic.job import MeteringJob, Summary
from shared.config import get_config
from shared.job_clock import job_clock
from shared.observability import logger, metrics, tracer
from subscriptions.dal.sdk_models import require_license_arn

WORKERS = 8


@lru_cache(maxsize=1)
def stores() -> tuple[MeterStore, SubscriptionReader]:
    table = get_config().tables.data
    return MeterStore(table, workers=WORKERS), SubscriptionReader(table)


def emit(summary: Summary) -> None:
    count = MetricUnit.Count
    metrics.add_metric(name="MeteringRecordsMetered", unit=count, value=summary.metered)
    metrics.add_metric(name="MeteringDuplicateRecord", unit=count, value=summary.duplicate)
    metrics.add_metric(
        name="MeteringFailures", unit=count, value=summary.failures + (summary.stopped is not None)
    )
    metrics.add_metric(name="MeteringCustomerNotSubscribed", unit=count, value=summary.not_subscribed)
    metrics.add_metric(name="MeteringExpired", unit=count, value=summary.expired)
    metrics.add_metric(name="MeteringRecordFailed", unit=count, value=summary.failed)
    metrics.add_metric(name="MeteringAwaitingSubscription", unit=count, value=summary.awaiting_subscription)
    metrics.add_metric(name="MeteringPendingLeft", unit=count, value=summary.pending_left + summary.deferred)
    metrics.add_metric(name="MeteringThrottled", unit=count, value=summary.throttled)
    metrics.add_metric(name="MeteringSdkRefused", unit=count, value=summary.sdk_refused)


def _time_left(context: Any) -> Any:
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    return (lambda: remaining() / 1000) if callable(remaining) else (lambda: float("inf"))


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def handler(event: dict, context: LambdaContext) -> dict:
    require_license_arn()  # refuse to run with an SDK that would drop or refuse LicenseArn (checked once)
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
