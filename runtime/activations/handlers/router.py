"""`POST /v1/activations` and `DELETE /v1/activations/{activation_id}` (docs/protocol.md §4.1).

Included into the license function, whose global middleware has verified the VS1 signature
before these routes run; the caller is `current_principal(router)`.
"""

from __future__ import annotations

from functools import lru_cache

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.metrics import MetricUnit, single_metric

from activations.dal.activation_store import ActivationStore
from activations.dal.delivery import Downloads, ManifestSigner
from activations.dal.releases import ReleaseStore
from activations.logic.activations import Delivery, activate, deactivate
from shared.callers import current_principal, signed_body
from shared.config import get_config
from shared.http import json_response, parse_body, refuse_query
from shared.timestamps import utcnow
from subscriptions.dal.store import SubscriptionStore

router = Router()
logger = Logger(child=True)
NO_STORE = {"Cache-Control": "no-store"}  # presigned URLs are bearer credentials for 15 minutes


@lru_cache(maxsize=1)
def delivery() -> Delivery:
    config = get_config()
    table = config.tables.data
    bucket = config.buckets.artifacts  # a RuntimeError naming VS_BUCKET_ARTIFACTS when missing
    return Delivery(
        subscriptions=SubscriptionStore(table),
        releases=ReleaseStore(table),
        activations=ActivationStore(table),
        signer=ManifestSigner(config.keys.manifest),
        downloads=Downloads(bucket),
        bucket=bucket,
    )


@router.post("/v1/activations")
def create() -> Response:
    refuse_query(router)
    principal = current_principal(router)
    from activations.bodies import ActivationRequest  # pydantic loads on first use, not at cold start

    request = parse_body(signed_body(router), ActivationRequest)
    answer = activate(
        delivery(),
        product=get_config().product_name,
        customer_id=principal.customer_id,
        access_key=principal.access_key,
        request_nonce=principal.nonce,
        request=request,
        now=utcnow(),
    )
    with single_metric(name="Activations", unit=MetricUnit.Count, value=1) as metric:
        metric.add_dimension(name="service", value="license")
    logger.info(
        "activation issued",
        extra={
            "activation_id": answer["activation_id"],
            "version": answer["manifest"]["version"],
            "account_id": request.account_id,
            "request_type": request.request_type,
            "requested_version": request.version,
        },
    )
    return json_response(200, answer, NO_STORE)


@router.delete("/v1/activations/<activation_id>")
def delete(activation_id: str) -> Response:
    refuse_query(router)
    principal = current_principal(router)
    deactivate(
        delivery().activations, customer_id=principal.customer_id, activation_id=activation_id, now=utcnow()
    )
    logger.info("activation deactivated", extra={"activation_id": activation_id[:160]})
    return json_response(204, None)
