"""`POST /v1/marketplace/registrations` and `GET /v1/subscription` (docs/protocol.md §3).

Included into the developer API function (`apis.developer_api`), whose global middleware has
turned the Cognito claims into the caller (`shared.callers.current_caller`) before these routes run.
"""

from __future__ import annotations

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router

from shared.callers import current_caller
from shared.config import get_config
from shared.http import json_response, parse_body, raw_body, refuse_query
from shared.timestamps import utcnow
from subscriptions.dal.store import SubscriptionStore
from subscriptions.logic.status import status_document

router = Router()
logger = Logger(child=True)
NO_STORE = {"Cache-Control": "no-store"}


@router.post("/v1/marketplace/registrations")
def create_registration() -> Response:
    refuse_query(router)
    # The registration's machinery (pydantic, the Marketplace client, Quick Launch's records) loads
    # on the first registration, not at the developer function's cold start (see "Cold start").
    from quicklaunch.dal.records import DeploymentKeyRecords
    from subscriptions.bodies import RegistrationRequest
    from subscriptions.context import event_context
    from subscriptions.logic.registration import register

    request = parse_body(raw_body(router, get_config().body_limit_bytes), RegistrationRequest)
    caller = current_caller(router)
    answer = register(event_context(), caller, request.registration_token, utcnow())
    # Quick Launch: the job issues and delivers the agreement's deployment key (once the agreement
    # is known). A failure here is a 503: registering again is idempotent and asks again.
    DeploymentKeyRecords(get_config().tables.data).mark_due(caller.customer_id, utcnow())
    return json_response(200, answer, NO_STORE)


@router.get("/v1/subscription")
def get_subscription() -> Response:
    refuse_query(router)
    sub = SubscriptionStore(get_config().tables.data).get(current_caller(router).customer_id)
    return json_response(200, status_document(sub, utcnow()), NO_STORE)
