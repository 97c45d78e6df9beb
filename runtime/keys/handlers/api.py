"""Developer API (docs/protocol.md §3): `POST /v1/keys`, `GET /v1/keys`, `DELETE /v1/keys/{access_key}`.

API Gateway's Cognito authorizer has verified the ID token before this function runs; the
`identify_caller` middleware turns its claims into a `Caller` (the person, their team and
their role) for every route (fail closed) and refuses what the role does not allow (403).
"""

from __future__ import annotations

from functools import lru_cache

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from activations.dal.activation_store import ActivationStore
from activations.handlers import launch as launch_link
from admin.logic.standing import check_standing
from audit.log import AuditLog
from audit.middleware import current_audit, run_audited
from keys.dal.key_store import KeyStore
from keys.dal.secrets import SecretDeriver
from keys.dal.stacks import stacks_by_key
from keys.logic.keys import create_key, list_keys, revoke_key
from keys.models import Caller
from shared.config import get_config
from shared.errors import InvalidToken, ValidationError
from shared.http import json_response, make_resolver, parse_body, raw_body, refuse_body_on_reads
from shared.observability import logger, metrics, tracer
from shared.timestamps import utcnow
from subscriptions.handlers import router as subscriptions
from teams.handlers import router as teams
from teams.handlers.router import team_store
from teams.logic.roles import authorize
from teams.logic.teams import resolve_caller
from usage.handlers import history as usage_history

app = make_resolver(logger)
NO_STORE = {"Cache-Control": "no-store"}


@lru_cache(maxsize=1)
def key_store() -> KeyStore:
    config = get_config()
    return KeyStore(config.tables["keys"], retention_days=config.audit_retention_days)


@lru_cache(maxsize=1)
def activation_store() -> ActivationStore:
    return ActivationStore(get_config().tables["data"])


@lru_cache(maxsize=1)
def secret_deriver() -> SecretDeriver:
    return SecretDeriver(get_config().keys["secrets"])


@lru_cache(maxsize=1)
def audit_log() -> AuditLog:
    config = get_config()
    return AuditLog(config.tables["audit"], retention_days=config.audit_retention_days)


def claims_of(event: dict) -> dict:
    """The ID token's claims as API Gateway's Cognito authorizer passed them (fail closed)."""
    context = event.get("requestContext") or {}
    claims = (context.get("authorizer") or {}).get("claims") or {}
    sub, email = claims.get("sub"), claims.get("email")
    if not isinstance(sub, str) or not sub.strip() or not isinstance(email, str) or not email.strip():
        raise InvalidToken("The ID token is missing or lacks the sub and email claims.")
    if claims.get("token_use", "id") != "id":
        raise InvalidToken("An ID token is required.")
    return claims


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
    app.append_context(caller=caller, claims=claims_of(event.raw_event))
    return next_middleware(app)


READS = frozenset({"GET", "HEAD", "OPTIONS"})


def refuse_suspended_writes(app: APIGatewayRestResolver, next_middleware: NextMiddleware) -> Response:
    """A suspended team may still read (keys, usage, subscription) but changes nothing: every
    write of the developer API answers `403 AccountSuspended`, checked here once."""
    if app.current_event.http_method.upper() not in READS:
        config = get_config()
        check_standing(
            config.tables["data"],
            _caller().customer_id,
            utcnow(),
            contact=config.support_contact,
            signed=False,
        )
    return next_middleware(app)


app.use(middlewares=[identify_caller, refuse_suspended_writes, refuse_body_on_reads])
app.include_router(subscriptions.router)  # POST /v1/marketplace/registrations, GET /v1/subscription
app.include_router(usage_history.router)  # GET /v1/usage
app.include_router(launch_link.router)  # GET /v1/launch
app.include_router(teams.router)  # GET /v1/team, invitations, members


def _caller() -> Caller:
    return app.context["caller"]


def _refuse_query() -> None:
    params = app.current_event.multi_value_query_string_parameters or {}
    if params:
        raise ValidationError(f"Query parameter '{sorted(params)[0][:64]}': unknown parameter.")


@app.post("/v1/keys")
@tracer.capture_method(capture_response=False)  # the response carries the secret
def create() -> Response:
    config = get_config()
    _refuse_query()
    from keys.bodies import CreateKeyRequest  # pydantic loads on first use, not at cold start

    request = parse_body(raw_body(app, config.body_limit_bytes), CreateKeyRequest)
    created = create_key(key_store(), secret_deriver(), _caller(), request, config, utcnow())
    record = current_audit(app)
    if record is not None:
        record.access_key = created.key.access_key
    metrics.add_metric(name="KeysCreated", unit=MetricUnit.Count, value=1)
    logger.info("key created", extra={"access_key": created.key.access_key})
    return json_response(201, created.document(), NO_STORE)


@app.get("/v1/keys")
@tracer.capture_method
def list_() -> Response:
    _refuse_query()
    caller = _caller()
    stacks = stacks_by_key(activation_store(), caller.customer_id)
    return json_response(200, {"keys": list_keys(key_store(), caller, utcnow(), stacks)}, NO_STORE)


def _confirmed() -> bool:
    """`?confirm=true` (or `false`) is the one query `DELETE /v1/keys/{access_key}` takes."""
    params = app.current_event.multi_value_query_string_parameters or {}
    unknown = sorted(set(params) - {"confirm"})
    if unknown:
        raise ValidationError(f"Query parameter '{unknown[0][:64]}': unknown parameter.")
    values = params.get("confirm") or []
    if len(values) > 1 or any(v not in ("true", "false") for v in values):
        raise ValidationError("Query parameter 'confirm': must be true or false, once.")
    return values == ["true"]


@app.delete("/v1/keys/<access_key>")
@tracer.capture_method
def revoke(access_key: str) -> Response:
    record = current_audit(app)
    if record is not None:
        record.access_key = access_key[:32]
    caller = _caller()
    revoke_key(
        key_store(),
        caller,
        access_key,
        utcnow(),
        live_stacks=lambda: stacks_by_key(activation_store(), caller.customer_id).get(access_key, []),
        confirmed=_confirmed(),
    )
    metrics.add_metric(name="KeysRevoked", unit=MetricUnit.Count, value=1)
    logger.info("key revoked", extra={"access_key": access_key})
    return json_response(204, None)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, log_event=False)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def handler(event: dict, context: LambdaContext) -> dict:
    return run_audited(
        app, event, context, api="developer", audit_log=audit_log, logger=logger, metrics=metrics
    )
