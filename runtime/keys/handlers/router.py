"""The key vault's routes (docs/protocol.md §3): `POST /v1/keys`, `GET /v1/keys`,
`DELETE /v1/keys/{access_key}`.

A Powertools `Router` included by the developer API's entry point (`apis.developer_api`), whose
middleware has identified the caller (`shared.callers.current_caller`) and checked their role
and standing before any of these routes runs.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.metrics import MetricUnit

from audit.middleware import current_audit
from keys.dal.key_store import KeyStore
from keys.dal.secrets import SecretDeriver
from keys.dal.stacks import stacks_by_key
from keys.logic.keys import create_key, list_keys, revoke_key
from shared.callers import current_caller
from shared.config import get_config
from shared.errors import ValidationError
from shared.http import json_response, parse_body, raw_body, refuse_query
from shared.observability import logger, metrics, tracer
from shared.timestamps import utcnow

if TYPE_CHECKING:
    from activations.dal.activation_store import ActivationStore

router = Router()
NO_STORE = {"Cache-Control": "no-store"}


@lru_cache(maxsize=1)
def key_store() -> KeyStore:
    config = get_config()
    return KeyStore(config.tables.keys, retention_days=config.audit_retention_days)


@lru_cache(maxsize=1)
def activation_store() -> ActivationStore:
    """The activations' store, passed to `keys.dal.stacks` (which stacks use each key)."""
    from activations.dal.activation_store import ActivationStore  # for the key list (see "Cold start")

    return ActivationStore(get_config().tables.data)


@lru_cache(maxsize=1)
def secret_deriver() -> SecretDeriver:
    return SecretDeriver(get_config().keys.secrets)


@router.post("/v1/keys")
@tracer.capture_method(capture_response=False)  # the response carries the secret
def create() -> Response:
    config = get_config()
    refuse_query(router)
    from keys.bodies import CreateKeyRequest  # pydantic loads on first use, not at cold start

    request = parse_body(raw_body(router, config.body_limit_bytes), CreateKeyRequest)
    created = create_key(key_store(), secret_deriver(), current_caller(router), request, config, utcnow())
    record = current_audit(router)
    if record is not None:
        record.access_key = created.key.access_key
    metrics.add_metric(name="KeysCreated", unit=MetricUnit.Count, value=1)
    logger.info("key created", extra={"access_key": created.key.access_key})
    return json_response(201, created.document(), NO_STORE)


@router.get("/v1/keys")
@tracer.capture_method
def list_() -> Response:
    refuse_query(router)
    caller = current_caller(router)
    stacks = stacks_by_key(activation_store(), caller.customer_id)
    return json_response(200, {"keys": list_keys(key_store(), caller, utcnow(), stacks)}, NO_STORE)


def _confirmed() -> bool:
    """`?confirm=true` (or `false`) is the one query `DELETE /v1/keys/{access_key}` takes."""
    params = router.current_event.multi_value_query_string_parameters or {}
    unknown = sorted(set(params) - {"confirm"})
    if unknown:
        raise ValidationError(f"Query parameter '{unknown[0][:64]}': unknown parameter.")
    values = params.get("confirm") or []
    if len(values) > 1 or any(v not in ("true", "false") for v in values):
        raise ValidationError("Query parameter 'confirm': must be true or false, once.")
    return values == ["true"]


@router.delete("/v1/keys/<access_key>")
@tracer.capture_method
def revoke(access_key: str) -> Response:
    record = current_audit(router)
    if record is not None:
        record.access_key = access_key[:32]
    caller = current_caller(router)
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
