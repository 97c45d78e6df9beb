"""`GET /v1/whoami`: check a key pair without side effects (docs/protocol.md §4)."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router

from shared.callers import current_principal
from shared.http import json_response

router = Router()


@router.get("/v1/whoami")
def whoami() -> Response:
    return json_response(200, current_principal(router).whoami())
