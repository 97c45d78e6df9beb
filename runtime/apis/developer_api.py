"""The developer API's entry point (`apis.developer_api.handler`, docs/protocol.md §3): one Lambda
function behind the Cognito-authorized routes of several features.

API Gateway's Cognito authorizer has verified the ID token before this function runs; the
`identify_caller` middleware turns its claims into a `Caller` (the person, their team and
their role) for every route (fail closed) and refuses what the role does not allow (403);
`refuse_suspended_writes` refuses every write of a suspended team. Each feature's routes are a
Powertools `Router` in that feature's `handlers/`, included below: keys, subscriptions, usage
history, the Quick Launch link and teams.
"""

from __future__ import annotations

from functools import lru_cache

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from activations.handlers import launch as launch_link
from admin.logic.standing import check_standing
from audit.log import AuditLog
from audit.middleware import current_audit, run_audited
from keys.handlers import router as keys
from shared.callers import CALLER, Caller, claims_of, current_caller
from shared.config import get_config
from shared.http import make_resolver, refuse_body_on_reads
from shared.observability import logger, metrics, tracer
from shared.timestamps import utcnow
from subscriptions.handlers import router as subscriptions
from teams.handlers import router as teams
from teams.handlers.router import team_store
from teams.logic.roles import authorize
from teams.logic.teams import resolve_caller
from usage.handlers import history as usage_history

app = make_resolver(logger)


@lru_cache(maxsize=1)
def audit_log() -> AuditLog:
    config = get_config()
    return AuditLog(config.tables.audit, retention_days=config.audit_retention_days)


def caller_from_event(event: dict) -> Caller:
    """The person (`sub`), the team they act for and their role in it: one consistent read of
    their membership per request, so a removal takes effect on their very next call."""
    claims = claims_of(event)
    return resolve_caller(team_store(), claims["sub"], claims["email"])


def identify_caller(app: APIGatewayRestResolver, next_middleware: NextMiddleware) -> Response:
    event = app.current_event
    caller = caller_from_event(event.raw_event)
    record = current_audit(app)
    if record is not None:
        record.customer_id = caller.customer_id  # the team: audit records belong to it
    authorize(caller.role, event.http_method, event.resource)
    app.append_context(**{CALLER: caller}, claims=claims_of(event.raw_event))
    return next_middleware(app)


READS = frozenset({"GET", "HEAD", "OPTIONS"})


def refuse_suspended_writes(app: APIGatewayRestResolver, next_middleware: NextMiddleware) -> Response:
    """A suspended team may still read (keys, usage, subscription) but changes nothing: every
    write of the developer API answers `403 AccountSuspended`, checked here once."""
    if app.current_event.http_method.upper() not in READS:
        config = get_config()
        check_standing(
            config.tables.data,
            current_caller(app).customer_id,
            utcnow(),
            contact=config.support_contact,
            signed=False,
        )
    return next_middleware(app)


app.use(middlewares=[identify_caller, refuse_suspended_writes, refuse_body_on_reads])
app.include_router(keys.router)  # POST, GET /v1/keys, DELETE /v1/keys/{access_key}
app.include_router(subscriptions.router)  # POST /v1/marketplace/registrations, GET /v1/subscription
app.include_router(usage_history.router)  # GET /v1/usage
app.include_router(launch_link.router)  # GET /v1/launch
app.include_router(teams.router)  # GET /v1/team, invitations, members


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, log_event=False)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def handler(event: dict, context: LambdaContext) -> dict:
    return run_audited(
        app, event, context, api="developer", audit_log=audit_log, logger=logger, metrics=metrics
    )
