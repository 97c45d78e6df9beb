"""The one place where the project's errors become HTTP responses (docs/protocol.md §1).

Every API function builds its resolver with `make_resolver()`, so routes, error bodies,
the 64 KiB body limit and strict JSON parsing behave the same on every route.

Hostile bodies answer 400 `ValidationError` (413 over the size limit), never 5xx, and are
refused before any model or storage sees them (`parse_json`): bytes that are not UTF-8, nesting
deeper than MAX_DEPTH (Python's parser would raise RecursionError), numbers longer than
MAX_NUMBER_CHARS (Python refuses int conversion past 4300 digits with a ValueError, and a long
literal costs quadratic time before that), NaN/Infinity (not JSON), duplicate keys (which one
would win is parser-dependent: fail closed), NUL characters and lone surrogates (which cannot be
stored or encoded as UTF-8 further down). Routes that take no body never read one.

API Gateway without `binaryMediaTypes` hands a Lambda proxy integration the body as a UTF-8
string (AWS docs: Amazon API Gateway Developer Guide, "Content type conversions in API Gateway",
https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-payload-encodings-workflow.html),
so bytes that were not UTF-8 arrive already replaced by U+FFFD; `raw_body` also accepts a
base64-encoded body, as a binary media type would send it.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from typing import TYPE_CHECKING, Any, TypeVar

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, CORSConfig, Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware

from shared.config import cors_origins
from shared.errors import ApiError, NotFound, PayloadTooLarge, ValidationError

if TYPE_CHECKING:  # pydantic is imported by the request bodies, on the first request that parses one
    from pydantic import BaseModel

Model = TypeVar("Model", bound="BaseModel")
JSON = "application/json"
MAX_DEPTH = 32  # the contract's documents nest 3 deep
MAX_NUMBER_CHARS = 32  # the largest number the contract carries is a 10-digit quantity
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)


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


def refuse_query(app: Any) -> None:
    """A route that takes no query string refuses one (400, naming the first parameter)."""
    params = app.current_event.multi_value_query_string_parameters or {}
    if params:
        raise ValidationError(f"Query parameter '{sorted(params)[0][:64]}': unknown parameter.")


def raw_body(app: APIGatewayRestResolver | Router, limit: int) -> bytes:
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


BODYLESS_METHODS = frozenset({"GET", "HEAD", "DELETE"})


def refuse_body_on_reads(app: APIGatewayRestResolver, next_middleware: NextMiddleware) -> Response:
    """Routes that take no body refuse one (fail closed, like unknown fields): a client that sends
    a body to GET or DELETE is confused or probing, and ignoring it would answer 2xx to hostile
    input. Runs after authentication, so a signed body is still checked against its signature."""
    event = app.current_event
    if event.http_method in BODYLESS_METHODS and event.body:
        raise ValidationError(f"{event.http_method} {event.resource} takes no request body.")
    return next_middleware(app)


def parse_body(data: bytes, model: type[Model]) -> Model:
    """Strict JSON into a pydantic model (models forbid unknown fields): errors name the field."""
    document = parse_json(data)
    if not isinstance(document, dict):
        raise ValidationError("Request body must be a JSON object.")
    from pydantic import ValidationError as PydanticValidationError  # already loaded by `model`

    try:
        return model.model_validate(document)
    except PydanticValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p)[:64] for p in first.get("loc", ())) or "body"
        raise ValidationError(f"Field '{where}': {_describe(first)}") from None


class _Refused(Exception):
    """Raised from inside the JSON parser's hooks; becomes a ValidationError."""


def parse_json(data: bytes) -> Any:
    """The body as JSON, or a 400 that says what is wrong with it; never any other exception."""
    if not data:
        raise ValidationError("Request body must be a JSON object.")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ValidationError("Request body is not valid UTF-8.") from None
    if _depth(text) > MAX_DEPTH:
        raise ValidationError(f"Request body nests deeper than {MAX_DEPTH} levels.")
    try:
        document = json.loads(
            text,
            object_pairs_hook=_unique_keys,
            parse_int=_bounded_int,
            parse_float=_bounded_float,
            parse_constant=_no_constant,
        )
    except _Refused as exc:
        raise ValidationError(str(exc)) from None
    except (ValueError, RecursionError) as exc:  # JSONDecodeError is a ValueError
        raise ValidationError(f"Request body is not valid JSON ({exc.__class__.__name__}).") from None
    _check_strings(document)
    return document


def _depth(text: str) -> int:
    """How deep arrays and objects nest, counted without recursion (strings taken out first)."""
    deepest = level = 0
    for char in _STRING.sub("", text):
        if char in "[{":
            level += 1
            deepest = max(deepest, level)
        elif char in "]}":
            level -= 1
    return deepest


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: set[str] = set()
    for key, _value in pairs:
        if key in seen:
            raise _Refused(f"Field '{_printable(key)}': appears more than once.")
        seen.add(key)
    return dict(pairs)


def _bounded_int(literal: str) -> int:
    if len(literal) > MAX_NUMBER_CHARS:
        raise _Refused(f"A number in the request body is longer than {MAX_NUMBER_CHARS} characters.")
    return int(literal)


def _bounded_float(literal: str) -> float:
    if len(literal) > MAX_NUMBER_CHARS:
        raise _Refused(f"A number in the request body is longer than {MAX_NUMBER_CHARS} characters.")
    value = float(literal)
    if not math.isfinite(value):
        raise _Refused("A number in the request body is out of range.")
    return value


def _no_constant(name: str) -> float:
    raise _Refused(f"'{name}' is not a JSON value.")


def _check_strings(document: Any) -> None:
    """Every key and string value: no NUL, and encodable as UTF-8 (no lone surrogate escapes).
    Iterative; the depth was bounded before parsing."""
    stack = [document]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            for key, value in node.items():
                _check_string(key)
                stack.append(value)
        elif isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, str):
            _check_string(node)


def _check_string(value: str) -> None:
    if "\x00" in value:
        raise ValidationError("Request body contains a NUL character.")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValidationError("Request body contains an unpaired UTF-16 surrogate escape.") from None


def _printable(value: str) -> str:
    return "".join(c if c.isprintable() else "?" for c in value[:64])


def _describe(error: Any) -> str:
    if error.get("type") == "extra_forbidden":
        return "unknown field."
    if error.get("type") == "missing":
        return "is required."
    return str(error.get("msg", "is invalid.")).rstrip(".") + "."
