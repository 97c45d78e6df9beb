"""The lifecycle translator: a DynamoDB stream batch in, lifecycle events on the bus out.

Invoked by the event source mappings of the data and keys tables' streams. A batch that cannot be
published raises: Lambda retries it (and bisects it) and finally sends its description to the
dead-letter queue, so nothing is dropped silently; events repeated by a retry carry the same
`event_id`.
"""

from __future__ import annotations

from functools import lru_cache

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from events.dal.bus import LifecycleBus
from events.logic.translate import translate
from shared.config import get_config
from shared.observability import logger, metrics


@lru_cache(maxsize=1)
def bus() -> LifecycleBus:
    return LifecycleBus(get_config().event_bus)


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
def handler(event: dict, context: LambdaContext) -> dict:
    found = [lifecycle for record in event.get("Records", []) for lifecycle in translate(record)]
    published = bus().publish(found) if found else 0
    metrics.add_metric(name="LifecycleEventsPublished", unit=MetricUnit.Count, value=published)
    if found:
        logger.info("lifecycle events published", extra={"types": sorted({e.detail_type for e in found})})
    return {"records": len(event.get("Records", [])), "published": published}
