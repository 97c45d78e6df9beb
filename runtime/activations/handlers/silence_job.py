"""The hourly silent-usage job: counts active activations that reported no usage for
`silent_usage.after_hours` (metric `SilentActivations`, service `activations`, with an alarm in
`constructs/silent_usage.py`) and logs each one for the vendor (no secret, no token)."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import lru_cache

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from activations.dal.activation_store import ActivationStore
from activations.logic.silence import silent_activations
from shared.config import get_config
from shared.job_clock import job_clock
from shared.observability import logger, metrics


@lru_cache(maxsize=1)
def store() -> ActivationStore:
    return ActivationStore(get_config().tables.data)


def run(now: datetime) -> dict:
    config = get_config()
    silent = silent_activations(store().all_active(), now, timedelta(hours=config.silent_after_hours))
    metrics.add_metric(name="SilentActivations", unit=MetricUnit.Count, value=len(silent))
    for item in silent:
        logger.warning("active stack reported no usage", extra=item)
    return {
        "silent": len(silent),
        "after_hours": config.silent_after_hours,
        "activation_ids": [item["activation_id"] for item in silent],
    }


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
def handler(event: dict, context: LambdaContext) -> dict:
    """An EventBridge Scheduled Event; its `time` is the job's clock (the sandbox sets it)."""
    return run(job_clock(event))
