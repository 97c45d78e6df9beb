"""The one place where the project's errors become HTTP responses (docs/protocol.md §1).

Every API function builds its resolver with `make_resolver()`, so routes, error bodies,
the 64 KiB body limit and strict JSON parsing behave the same on every route.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import TypeVar

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, CORSConfig, Response
from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError

from shared.config import cors_origins
from shared.errors import ApiError, NotFound, PayloadTooLarge, ValidationError

Model = TypeVar("Model", bound=BaseModel)
JSON = "application/json"


def json_response(status: int, body: dict | None, headers: dict[str, str] | None = None) -> Response:
    return Response(
        status_code=status,
        content_type=JSON,
        body=json.dumps(body, separators=(",", ":")) if body is not None else "",
        headers=headers or {},
    )


def make_resolver(logger: Logger) -> APIGatewayRestResolver:
    origins = cors_origins()
    cors = (
        CORSConfig(
            allow_origin=origins[0],
            extra_origins=list(origins[1:]),
            allow_headers=["Authorization", "Content-Type"],
            max_age=300,
        )
        if origins
        else None
    )
    app = APIGatewayRestResolver(cors=cors)

    @app.exception_handler(ApiError)
    def _api_error(exc: ApiError) -> Response:
        level = logger.warning if exc.status >= 500 else logger.info
        level("request refused", extra={"error_code": exc.code, "status": exc.status})
        return json_response(exc.status, exc.body(), exc.headers)

    @app.not_found
    def _not_found(_exc: Exception) -> Response:
        return json_response(404, NotFound("No such route.").body())

    return app


def raw_body(app: APIGatewayRestResolver, limit: int) -> bytes:
    """The exact bytes the client sent (what a signature covers); over `limit` is a 413."""
    event = app.current_event
    body = event.body or ""
    if event.is_base64_encoded:  # decode to bytes directly: a UTF-8 round trip would alter binary bodies
        try:
            data = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise ValidationError("Request body is not valid base64.") from None
    else:
        data = body.encode("utf-8")
    if len(data) > limit:
        raise PayloadTooLarge(f"Request body is {len(data)} bytes; the limit is {limit} bytes.")
    return data


def parse_body(data: bytes, model: type[Model]) -> Model:
    """Strict JSON into a pydantic model (models forbid unknown fields): errors name the field."""
    try:
        document = json.loads(data.decode("utf-8")) if data else None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValidationError(f"Request body is not valid JSON ({exc.__class__.__name__}).") from None
    if not isinstance(document, dict):
        raise ValidationError("Request body must be a JSON object.")
    try:
        return model.model_validate(document)
    except PydanticValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "body"
        raise ValidationError(f"Field '{where}': {_describe(first)}") from None


def _describe(error: dict) -> str:
    if error.get("type") == "extra_forbidden":
        return "unknown field."
    if error.get("type") == "missing":
        return "is required."
    return str(error.get("msg", "is invalid.")).rstrip(".") + "."
