"""`POST /v1/usage` (docs/protocol.md §4.2), a route of the license API.

Included into the license function, whose global middleware has verified the VS1 signature
before this route runs: the caller is `current_principal(router)`, the body the exact bytes
that were signed. Usage is accepted whatever the subscription's state: an unsubscribing
customer's last hours are still billable, and metering decides what Marketplace accepts.
"""

from __future__ import annotations

import time
from functools import lru_cache

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.metrics import MetricUnit

from activations.dal.activation_store import ActivationStore
from shared.callers import current_principal, signed_body
from shared.config import get_config
from shared.errors import ApiError, ValidationError
from shared.http import json_response, parse_body
from shared.observability import metrics
from shared.timestamps import format_timestamp, utcnow
from usage.dal.attribution import ActivationAttributor
from usage.dal.usage_store import UsageStore
from usage.logic.ingest import ingest
from usage.models import Attribution

router = Router()
logger = Logger(child=True)


@lru_cache(maxsize=1)
def usage_store() -> UsageStore:
    config = get_config()
    return UsageStore(config.tables.data, retention_days=config.audit_retention_days)


def activation_store() -> ActivationStore:
    """The activations' store, passed to the attribution (a DAL does not build another feature's)."""
    return ActivationStore(get_config().tables.data)


@lru_cache(maxsize=1)
def attributor() -> ActivationAttributor:
    return ActivationAttributor(activation_store())


_TOUCH_SECONDS = 900.0
_touched: dict[str, float] = {}


def mark_reporting(customer_id: str, access_key: str, attribution: Attribution) -> None:
    """Stamp `last_usage_at` on the stack(s) this key reports for, at most every 15 minutes per
    activation (the silent-usage check needs hours, not seconds). Two stacks sharing a key cannot
    be told apart, so both are stamped. Never fails the request."""
    store = activation_store()
    if attribution.kind == "key-only":
        return
    try:
        if attribution.activation_id:
            ids = [attribution.activation_id]
        else:
            ids = [
                a.activation_id
                for a in store.for_customer(customer_id)
                if a.access_key == access_key and a.status == "active"
            ]
        clock, now = time.monotonic(), format_timestamp(utcnow())
        for activation_id in ids:
            if clock - _touched.get(activation_id, -_TOUCH_SECONDS) < _TOUCH_SECONDS:
                continue
            store.touch_usage(activation_id, now)
            _touched[activation_id] = clock
    except ApiError:
        logger.warning("last usage time not recorded", extra={"access_key": access_key})


@router.post("/v1/usage")
def report_usage() -> Response:
    params = router.current_event.multi_value_query_string_parameters or {}
    if params:
        raise ValidationError(f"Query parameter '{sorted(params)[0][:64]}': unknown parameter.")
    principal = current_principal(router)
    from usage.bodies import UsageRequest  # pydantic loads on first use, not at cold start

    request = parse_body(signed_body(router), UsageRequest)
    attribution = attributor().attribute(principal.customer_id, principal.access_key)
    result = ingest(usage_store(), principal.customer_id, attribution, request, get_config(), utcnow())
    mark_reporting(principal.customer_id, principal.access_key, attribution)
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
