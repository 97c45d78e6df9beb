"""`POST /v1/marketplace/registrations` and `GET /v1/subscription` (docs/protocol.md §3).

Included into the developer API function (`keys.handlers.api`), whose global middleware has
turned the Cognito claims into `context["caller"]` before these routes run.
"""

from __future__ import annotations

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router

from keys.models import Caller
from quicklaunch.dal.records import DeploymentKeyRecords
from shared.config import get_config
from shared.errors import ValidationError
from shared.http import json_response, parse_body, raw_body
from shared.timestamps import utcnow
from subscriptions.dal.marketplace import Marketplace
from subscriptions.dal.store import SubscriptionStore
from subscriptions.logic.events import EventContext
from subscriptions.logic.registration import register
from subscriptions.logic.status import status_document

router = Router()
logger = Logger(child=True)
NO_STORE = {"Cache-Control": "no-store"}


def event_context() -> EventContext:
    config = get_config()
    return EventContext(
        store=SubscriptionStore(config.tables["data"]),
        marketplace=Marketplace(),
        product_code=config.product_code,
        grace_days=config.grace_days,
        has_entitlements=config.has_entitlements,
        product_id=config.product_id,
        require_approval=config.require_approval,
    )


def _caller() -> Caller:
    return router.context["caller"]


def _refuse_query() -> None:
    params = router.current_event.multi_value_query_string_parameters or {}
    if params:
        raise ValidationError(f"Query parameter '{sorted(params)[0][:64]}': unknown parameter.")


@router.post("/v1/marketplace/registrations")
def create_registration() -> Response:
    _refuse_query()
    from subscriptions.bodies import RegistrationRequest  # pydantic loads on first use, not at cold start

    request = parse_body(raw_body(router, get_config().body_limit_bytes), RegistrationRequest)
    caller = _caller()
    answer = register(event_context(), caller, request.registration_token, utcnow())
    # Quick Launch: the job issues and delivers the agreement's deployment key (once the agreement
    # is known). A failure here is a 503: registering again is idempotent and asks again.
    DeploymentKeyRecords(get_config().tables["data"]).mark_due(caller.customer_id, utcnow())
    return json_response(200, answer, NO_STORE)


@router.get("/v1/subscription")
def get_subscription() -> Response:
    _refuse_query()
    ctx = event_context()
    return json_response(200, status_document(ctx.store.get(_caller().customer_id), utcnow()), NO_STORE)
