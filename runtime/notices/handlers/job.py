"""The daily notices job (`notices.handlers.job.handler`), run by an EventBridge schedule.

The job's clock is the Scheduled Event's `time` (the sandbox's `POST /_sandbox/jobs/notices
{"now": …}` sends exactly that), so a run is reproducible and testable at any date.
"""

from __future__ import annotations

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from notices.dal.expiring_keys import ExpiringKeys
from notices.dal.mailer import Mailer
from notices.dal.notice_store import NoticeStore
from notices.logic.notices import Sources, run_notices
from shared.config import get_config
from shared.job_clock import job_clock
from shared.observability import logger, metrics, tracer
from subscriptions.dal.store import SubscriptionStore
from teams.dal.team_store import TeamStore


def sources() -> Sources:
    config = get_config()
    if not config.notices_sender:
        raise RuntimeError("function environment is missing VS_NOTICES_SENDER")
    return Sources(
        keys=ExpiringKeys(config.tables.keys),
        subscriptions=SubscriptionStore(config.tables.data),
        records=NoticeStore(config.tables.data),
        mailer=Mailer(config.notices_sender),
        teams=TeamStore(config.tables.data),
    )


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict, context: LambdaContext) -> dict:
    config = get_config()
    now = job_clock(event)
    summary = run_notices(sources(), now, product=config.product_name, page_url=config.developer_page_url)
    for name in ("sent", "skipped", "failed"):
        metrics.add_metric(name=f"Notices_{name}", unit=MetricUnit.Count, value=summary[name])
    logger.info("notices job finished", extra=summary)
    return summary
