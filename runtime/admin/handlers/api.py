"""Vendor admin API (docs/protocol.md §5.1): the vendor's operators, over IAM (SigV4).

API Gateway's `AWS_IAM` authorization and the API's resource policy admit only the principals
named in `cdk.json` (`admin.principals`) before this function runs; the operator's identity
is the caller ARN API Gateway passes (`requestContext.identity.userArn`), and every call,
answered or refused, is audit-logged with it (`operator`), under the team it acted on.
"""

from __future__ import annotations

from functools import lru_cache

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from admin.dal.directory import Directory
from admin.dal.standing import StandingStore
from admin.logic.customers import customer_row, list_customers, parse_list_query
from admin.logic.dispute import dispute_report
from admin.logic.standing import change_standing
from admin.logic.usage import usage_document
from admin.models import check_team_id
from audit.log import AuditLog
from audit.middleware import current_audit, run_audited
from shared.config import get_config
from shared.errors import MissingAuthentication, NotFound
from shared.http import json_response, make_resolver, parse_body, raw_body, refuse_body_on_reads, refuse_query
from shared.observability import logger, metrics, tracer
from shared.timestamps import utcnow
from subscriptions.dal.store import SubscriptionStore
from subscriptions.logic.approval import approve_customer
from usage.dal.usage_store import UsageStore
from usage.logic.history import parse_range
from usage.report import hourly_items

app = make_resolver(logger)
NO_STORE = {"Cache-Control": "no-store"}
ADMIN_AUDIT_CUSTOMER = "vendor-admin"  # audit partition of calls that act on no one team


@lru_cache(maxsize=1)
def audit_log() -> AuditLog:
    config = get_config()
    return AuditLog(config.tables.audit, retention_days=config.audit_retention_days)


@lru_cache(maxsize=1)
def standing_store() -> StandingStore:
    return StandingStore(get_config().tables.data)


@lru_cache(maxsize=1)
def directory() -> Directory:
    config = get_config()
    return Directory(config.tables.data, config.tables.keys)


def operator_of(event: dict) -> str:
    """The IAM caller API Gateway verified; fail closed when it is absent."""
    identity = (event.get("requestContext") or {}).get("identity") or {}
    arn = identity.get("userArn")
    if not isinstance(arn, str) or not arn.startswith("arn:aws"):
        raise MissingAuthentication("This API takes requests signed with AWS Signature Version 4.")
    return arn


def identify_operator(app: APIGatewayRestResolver, next_middleware: NextMiddleware) -> Response:
    record = current_audit(app)
    operator = operator_of(app.current_event.raw_event)
    if record is not None:
        record.operator = operator
        record.customer_id = ADMIN_AUDIT_CUSTOMER
    app.append_context(operator=operator)
    return next_middleware(app)


app.use(middlewares=[identify_operator, refuse_body_on_reads])


def _operator() -> str:
    return app.context["operator"]


def _team(team_id: str) -> str:
    check_team_id(team_id)
    record = current_audit(app)
    if record is not None:
        record.customer_id = team_id
    return team_id


def _empty_body() -> None:
    body = raw_body(app, get_config().body_limit_bytes)
    if body.strip():
        from admin.bodies import EmptyRequest  # pydantic loads on first use, not at cold start

        parse_body(body, EmptyRequest)


def _row(team_id: str) -> dict:
    directory_ = directory()
    sub_item = directory_.subscription(team_id)
    keyset = directory_.keyset(team_id)
    if sub_item is None and keyset is None and not standing_store().get(team_id).version:
        raise NotFound("No such customer.")
    return customer_row(directory_, standing_store(), team_id, sub_item, keyset, utcnow())


@app.get("/v1/admin/customers")
@tracer.capture_method
def customers() -> Response:
    status, token, limit = parse_list_query(app.current_event.multi_value_query_string_parameters)
    page = list_customers(directory(), standing_store(), status, token, limit, utcnow())
    return json_response(200, page, NO_STORE)


@app.post("/v1/admin/customers/<team_id>/approve")
@tracer.capture_method
def approve(team_id: str) -> Response:
    team = _team(team_id)
    refuse_query(app)
    _empty_body()
    approve_customer(SubscriptionStore(get_config().tables.data), team, _operator(), utcnow())
    logger.info("subscription approved", extra={"team_id": team, "operator": _operator()})
    return json_response(200, _row(team), NO_STORE)


@app.post("/v1/admin/customers/<team_id>/suspend")
@tracer.capture_method
def suspend(team_id: str) -> Response:
    team = _team(team_id)
    refuse_query(app)
    from admin.bodies import SuspendRequest  # pydantic loads on first use, not at cold start

    request = parse_body(raw_body(app, get_config().body_limit_bytes), SuspendRequest)
    if directory().subscription(team) is None and directory().keyset(team) is None:
        raise NotFound("No such customer.")
    _, changed = change_standing(
        standing_store(), team, suspend=True, reason=request.reason, operator=_operator(), now=utcnow()
    )
    logger.info("customer suspended", extra={"team_id": team, "operator": _operator(), "changed": changed})
    return json_response(200, _row(team), NO_STORE)


@app.post("/v1/admin/customers/<team_id>/resume")
@tracer.capture_method
def resume(team_id: str) -> Response:
    team = _team(team_id)
    refuse_query(app)
    _empty_body()
    _, changed = change_standing(
        standing_store(), team, suspend=False, reason=None, operator=_operator(), now=utcnow()
    )
    logger.info("customer resumed", extra={"team_id": team, "operator": _operator(), "changed": changed})
    return json_response(200, _row(team), NO_STORE)


@app.get("/v1/admin/usage")
@tracer.capture_method
def usage() -> Response:
    first, last = parse_range(app.current_event.multi_value_query_string_parameters)
    items = hourly_items(directory().client, get_config().tables.data, first, last, None)
    return json_response(200, usage_document(items, first, last), NO_STORE)


@app.get("/v1/admin/customers/<team_id>/dispute")
@tracer.capture_method
def dispute(team_id: str) -> Response:
    team = _team(team_id)
    first, last = parse_range(app.current_event.multi_value_query_string_parameters)
    config = get_config()
    usage_store = UsageStore(config.tables.data, retention_days=config.audit_retention_days)
    return json_response(200, dispute_report(usage_store, audit_log(), team, first, last), NO_STORE)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, log_event=False)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def handler(event: dict, context: LambdaContext) -> dict:
    return run_audited(app, event, context, api="admin", audit_log=audit_log, logger=logger, metrics=metrics)
