"""The Quick Launch job (`quicklaunch.handlers.job.handler`), run by an EventBridge schedule.

Every run takes the customers whose marker is due (written at registration and by Marketplace
agreement and licence events, or a scheduled revocation) and reconciles each
(`quicklaunch.logic.deliver`). A customer that fails stays due for the next run; the counts are
metrics (`QuickLaunch_failed` has an alarm). The job's clock is the Scheduled Event's `time`, as
for the other jobs.
"""

from __future__ import annotations

from datetime import datetime

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from keys.dal.key_store import KeyStore
from keys.dal.secrets import SecretDeriver
from quicklaunch.dal.deployment import DeploymentParameters
from quicklaunch.dal.records import DeploymentKeyRecords
from quicklaunch.logic.deliver import Context, reconcile
from shared.config import get_config
from shared.errors import ServiceError
from shared.job_clock import job_clock
from shared.observability import logger, metrics, tracer
from subscriptions.dal.store import SubscriptionStore

COUNTS = ("issued", "delivered", "failed", "scheduled", "revoked")


def context() -> Context:
    config = get_config()
    return Context(
        subscriptions=SubscriptionStore(config.tables.data),
        records=DeploymentKeyRecords(config.tables.data),
        keys=KeyStore(config.tables.keys, retention_days=config.audit_retention_days),
        deriver=SecretDeriver(config.keys.secrets),
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
