"""`POST /v1/license-token` (docs/protocol.md §4.3): a short-lived signed token that the running
solution verifies offline, so a stack whose subscription ended stops being served.

Included into the license function, whose global middleware has verified the VS1 signature
before this route runs. The audit middleware records the call like every license-API call; the
token's id (`jti`) and expiry are logged, never the token.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import lru_cache

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router

from license.dal.token_signer import TokenSigner
from license.logic.tokens import claims_for, compact_jws, entitlements_for, key_id_of, latest_expiry
from shared.callers import current_principal, signed_body
from shared.config import get_config
from shared.errors import SubscriptionInactive, ValidationError
from shared.http import json_response, parse_body
from shared.timestamps import format_timestamp, utcnow
from subscriptions.dal.store import SubscriptionStore

router = Router()
logger = Logger(child=True)
NO_STORE = {"Cache-Control": "no-store"}  # a token is a bearer proof of payment until it expires


@lru_cache(maxsize=1)
def signer() -> TokenSigner:
    return TokenSigner(get_config().keys.manifest)


@lru_cache(maxsize=1)
def subscriptions() -> SubscriptionStore:
    return SubscriptionStore(get_config().tables.data)


def issuer() -> str:
    """The API's base URL as API Gateway names it: `https://<domain>/<stage>`."""
    context = router.current_event.raw_event.get("requestContext") or {}
    return f"https://{context.get('domainName', '')}/{context.get('stage', '')}"


@router.post("/v1/license-token")
def issue() -> Response:
    if router.current_event.multi_value_query_string_parameters:
        raise ValidationError("POST /v1/license-token takes no query parameters.")
    from license.models import TokenRequest  # pydantic loads on first use, not at cold start

    parse_body(signed_body(router), TokenRequest)
    principal = current_principal(router)
    config = get_config()
    now = utcnow()
    sub = subscriptions().get(principal.customer_id)
    if sub is None or not sub.allows_activation(now):
        raise SubscriptionInactive(
            "Your subscription is not active, so no license token is issued; renew or subscribe, then retry."
        )
    claims = claims_for(
        issuer=issuer(),
        team_id=principal.customer_id,
        aws_account_id=sub.aws_account_id,
        entitlements=entitlements_for(
            dimensions=config.dimension_names(),
            features=config.features,
            pricing_model=config.pricing_model,
            contract=sub.entitlements,
            now=now,
        ),
        now=now,
        lifetime=timedelta(seconds=config.token_lifetime_seconds),
        not_after=latest_expiry(
            status=sub.status_at(now),
            grace_until=sub.grace_until,
            ending_since=sub.last_event_time,
            now=now,
            grace=timedelta(days=config.grace_days),
        ),
    )
    key_arn = config.keys.manifest
    token = compact_jws(claims, kid=key_id_of(key_arn), sign=signer().sign)
    expires_at = format_timestamp(datetime.fromtimestamp(claims["exp"], UTC))
    logger.info(
        "license token issued",
        extra={"jti": claims["jti"], "expires_at": expires_at, "entitlements": claims["entitlements"]},
    )
    return json_response(200, {"token": token, "expires_at": expires_at}, NO_STORE)
