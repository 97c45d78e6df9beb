"""The Quick Launch job (`quicklaunch.handlers.job.handler`), run by an EventBridge schedule.

Every run takes the customers whose marker is due (written at registration and by Marketplace
agreement and licence events, or a scheduled revocation) and reconciles each
(`quicklaunch.logic.deliver`). A customer that fails stays due for the next run; the counts are
metrics (`QuickLaunch_failed` has an alarm). The job's clock is the Scheduled Event's `time`, as
for the other jobs.
"""

from __future__ import annotations

import os
from datetime import datetime
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from keys.dal.key_store import KeyStore
from keys.dal.secrets import SecretDeriver
from quicklaunch.dal.deployment import DeploymentParameters
from quicklaunch.dal.records import DeploymentKeyRecords
from quicklaunch.logic.deliver import Context, reconcile
from shared.config import get_config
from shared.errors import ServiceError
from shared.observability import logger, metrics, tracer
from shared.timestamps import parse_timestamp, utcnow
from subscriptions.dal.store import SubscriptionStore

COUNTS = ("issued", "delivered", "failed", "scheduled", "revoked")
SANDBOX_CLOCK_VARIABLE = "VS_SANDBOX_EVENT_CLOCK"  # set to "1" by the sandbox's workers only


def job_clock(event: Any, env: dict[str, str] | None = None, real_now: datetime | None = None) -> datetime:
    """The Scheduled Event's `time`, never later than the real time outside the sandbox: an
    invocation dated in the future must not revoke a key before its grace has ended."""
    now = real_now or utcnow()
    value = event.get("time") if isinstance(event, dict) else None
    if not isinstance(value, str):
        return now
    try:
        scheduled = parse_timestamp(value.replace("+00:00", "Z"))
    except ValueError:
        logger.warning("scheduled event time unreadable; using the real time")
        return now
    if (os.environ if env is None else env).get(SANDBOX_CLOCK_VARIABLE) == "1":
        return scheduled
    return min(scheduled, now)


def context() -> Context:
    config = get_config()
    return Context(
        subscriptions=SubscriptionStore(config.tables["data"]),
        records=DeploymentKeyRecords(config.tables["data"]),
        keys=KeyStore(config.tables["keys"], retention_days=config.audit_retention_days),
        deriver=SecretDeriver(config.keys["secrets"]),
        deployment=DeploymentParameters(),
        product_id=config.product_id,
        parameter_name=config.deployment_parameter,
        grace_days=config.grace_days,
        key_lifetime_days=config.key_max_lifetime_days,
    )


def run(ctx: Context, now: datetime) -> dict:
    summary = dict.fromkeys((*COUNTS, "customers"), 0)
    if not ctx.product_id:
        logger.error("quick launch job: no Marketplace product id configured (marketplace.product_id)")
        return summary
    for customer_id, seen in ctx.records.due(now):
        summary["customers"] += 1
        try:
            outcome = reconcile(ctx, customer_id, now)
        except ServiceError:
            logger.exception("quick launch: customer not reconciled", extra={"customer_id": customer_id})
            summary["failed"] += 1
            continue  # its marker stays due
        for name in COUNTS:
            summary[name] += getattr(outcome, name)
        ctx.records.settle_due(customer_id, seen, outcome.next_due)
    return summary


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def handler(event: dict, context_: LambdaContext) -> dict:
    summary = run(context(), job_clock(event))
    for name in COUNTS:
        metrics.add_metric(name=f"QuickLaunch_{name}", unit=MetricUnit.Count, value=summary[name])
    logger.info("quick launch job finished", extra=summary)
    return summary
