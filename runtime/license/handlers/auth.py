"""Signature authentication for every license-API route, as one global middleware.

Fail closed: a route added with `app.include_router(...)` is authenticated without asking,
and the caller's standing is checked there too, once for every signed call: a suspended team
answers `403 AccountSuspended`, a subscription awaiting the vendor's approval
`402 SubscriptionPendingApproval` (`admin.logic.standing.check_standing`).
Routes read the verified caller with `shared.callers.current_principal(router)`, and the exact
signed body with `shared.callers.signed_body(router)`.
"""

from __future__ import annotations

from functools import lru_cache

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.metrics import MetricUnit, single_metric

from admin.logic.standing import check_standing
from audit.middleware import current_audit
from keys.dal.key_store import KeyStore
from keys.dal.secrets import SecretDeriver
from license.dal.nonces import NonceStore
from license.logic.verifier import AuthAttempt, Principal, SignedRequest, Verifier
from shared.callers import PRINCIPAL, SIGNED_BODY
from shared.config import get_config
from shared.errors import ApiError
from shared.http import raw_body
from shared.timestamps import utcnow


@lru_cache(maxsize=1)
def verifier() -> Verifier:
    config = get_config()
    table = config.tables.keys
    return Verifier(
        KeyStore(table, retention_days=config.audit_retention_days),
        SecretDeriver(config.keys.secrets),
        NonceStore(table),
    )


def signed_request(app: APIGatewayRestResolver) -> SignedRequest:
    """PATH is the proxy event's `path` (no stage); query pairs are API Gateway's decoded ones."""
    event = app.current_event.raw_event
    pairs = tuple(
        (name, value)
        for name, values in (event.get("multiValueQueryStringParameters") or {}).items()
        for value in (values or ())
    )
    return SignedRequest(
        method=str(event.get("httpMethod", "")),
        path=str(event.get("path", "")),
        query_pairs=pairs,
        body=raw_body(app, get_config().body_limit_bytes),
        headers=event.get("headers") or {},
    )


def authenticate(app: APIGatewayRestResolver) -> Principal:
    request = signed_request(app)
    attempt = AuthAttempt()
    now = utcnow()
    config = get_config()
    try:
        principal = verifier().authenticate(request, now, attempt)
        check_standing(
            config.tables.data, principal.customer_id, now, contact=config.support_contact, signed=True
        )
    except ApiError as exc:
        with single_metric(name="AuthenticationFailures", unit=MetricUnit.Count, value=1) as metric:
            metric.add_dimension(name="code", value=exc.code)
        raise
    finally:
        record = current_audit(app)
        if record is not None:
            record.access_key = attempt.access_key
            record.customer_id = attempt.customer_id or record.customer_id
    app.append_context(**{PRINCIPAL: principal, SIGNED_BODY: request.body})
    return principal


def require_signature(app: APIGatewayRestResolver, next_middleware: NextMiddleware) -> Response:
    authenticate(app)
    return next_middleware(app)
