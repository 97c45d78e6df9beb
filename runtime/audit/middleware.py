"""Wraps a resolver so that every call, answered or failed, leaves one audit record.

The record is written synchronously before the response is returned; a failure to write it
is logged and counted but never turns a good answer into an error.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.metrics import MetricUnit

from audit.log import AuditLog
from audit.record import AuditRecord
from shared.errors import ApiError

CONTEXT_KEY = "audit"


def current_audit(app: APIGatewayRestResolver | Router) -> AuditRecord | None:
    """The record of the call being served, for routes and middlewares to fill in."""
    return app.context.get(CONTEXT_KEY)


def run_audited(
    app: APIGatewayRestResolver,
    event: dict,
    context: Any,
    *,
    api: str,
    audit_log: Callable[[], AuditLog],
    logger: Logger,
    metrics: Metrics | None = None,
) -> dict:
    record = AuditRecord.start(api, event)
    app.append_context(**{CONTEXT_KEY: record})
    started = time.perf_counter()
    try:
        response = app.resolve(event, context)
    except Exception:
        logger.exception("unhandled error")
        response = {
            "statusCode": 500,
            "headers": {"Content-Type": "application/json"},
            "body": json.dumps(ApiError("Internal error; retry later.").body(), separators=(",", ":")),
            "isBase64Encoded": False,
        }
    record.finish(response, (time.perf_counter() - started) * 1000)
    if metrics is not None:
        metrics.add_metric(name="Calls", unit=MetricUnit.Count, value=1)
    try:
        audit_log().write(record)
    except Exception:  # an audit failure must not fail the call; it is logged and counted
        logger.exception("audit record not written", extra={"operation": record.operation})
        if metrics is not None:
            metrics.add_metric(name="AuditWriteFailures", unit=MetricUnit.Count, value=1)
    return response
