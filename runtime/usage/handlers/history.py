"""`GET /v1/usage?from=…&to=…` (docs/protocol.md §3), a route of the developer API.

Included into the developer API (`apis.developer_api`), whose `identify_caller` middleware has
turned the Cognito claims into a `Caller` (fail closed) before this route runs: only the caller's
own usage is read.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router

from shared.callers import current_caller
from shared.config import get_config
from shared.http import json_response

if TYPE_CHECKING:
    from usage.dal.usage_store import UsageStore

router = Router()


@lru_cache(maxsize=1)
def usage_store() -> UsageStore:
    from usage.dal.usage_store import UsageStore  # with the route's first use (see "Cold start")

    config = get_config()
    return UsageStore(config.tables.data, retention_days=config.audit_retention_days)


@router.get("/v1/usage")
def usage() -> Response:
    from usage.logic.history import parse_range, usage_history

    caller = current_caller(router)
    first, last = parse_range(router.current_event.multi_value_query_string_parameters)
    return json_response(200, usage_history(usage_store(), caller.customer_id, first, last))
