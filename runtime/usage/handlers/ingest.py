"""`POST /v1/usage` (docs/protocol.md §4.2), a route of the license API.

Included into the license function, whose global middleware has verified the VS1 signature
before this route runs: the caller is `current_principal(router)`, the body the exact bytes
that were signed. Usage is accepted whatever the subscription's state: an unsubscribing
customer's last hours are still billable, and metering decides what Marketplace accepts.
"""

from __future__ import annotations

from functools import lru_cache

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.metrics import MetricUnit

from license.handlers.auth import current_principal, signed_body
from shared.config import get_config
from shared.errors import ValidationError
from shared.http import json_response, parse_body
from shared.timestamps import utcnow
from usage.dal.attribution import ActivationAttributor, activation_store
from usage.dal.usage_store import UsageStore
from usage.logic.ingest import ingest
from usage.models import UsageRequest

router = Router()
logger = Logger(child=True)
metrics = Metrics()  # shares its metric set with the license function's, which flushes it


@lru_cache(maxsize=1)
def usage_store() -> UsageStore:
    config = get_config()
    return UsageStore(config.tables["data"], retention_days=config.audit_retention_days)


@lru_cache(maxsize=1)
def attributor() -> ActivationAttributor:
    return ActivationAttributor(activation_store(get_config().tables["data"]))


@router.post("/v1/usage")
def report_usage() -> Response:
    params = router.current_event.multi_value_query_string_parameters or {}
    if params:
        raise ValidationError(f"Query parameter '{sorted(params)[0][:64]}': unknown parameter.")
    principal = current_principal(router)
    request = parse_body(signed_body(router), UsageRequest)
    attribution = attributor().attribute(principal.customer_id, principal.access_key)
    result = ingest(usage_store(), principal.customer_id, attribution, request, get_config(), utcnow())
    metrics.add_metric(name="UsageRecordsAccepted", unit=MetricUnit.Count, value=result.accepted)
    metrics.add_metric(name="UsageRecordsDuplicate", unit=MetricUnit.Count, value=result.duplicates)
    metrics.add_metric(name="UsageRecordsRejected", unit=MetricUnit.Count, value=len(result.rejected))
    logger.info(
        "usage reported",
        extra={
            "access_key": principal.access_key,
            "activation_id": attribution.activation_id,
            "accepted": result.accepted,
            "duplicates": result.duplicates,
            "rejected": len(result.rejected),
            "rejected_codes": sorted({r.code for r in result.rejected}),
        },
    )
    return json_response(200, result.document())
