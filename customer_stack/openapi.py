"""`docs/openapi.json`: an OpenAPI 3.1 document of every route the synthesized vendor template
deploys, generated so it cannot drift from what is deployed.

The routes, their methods, their API Gateway authorization and the function each one invokes come
from the template (`AWS::ApiGateway::Method` → `AWS::ApiGateway::Resource` path →
`AWS::Lambda::Function` handler). What a route means (summary, request and response bodies) comes
from `ROUTE_DOCS` below; request bodies are the JSON Schemas of the pydantic models the functions
parse with. A template route without an entry here, or an entry without a template route, stops
the generator, and `tests/infra/test_openapi.py` fails on any disagreement with the committed file.

    make openapi                     # make synth, then this module
    .venv/bin/python -m customer_stack.openapi [--template T] [--out docs/openapi.json] [--check]

CORS preflight methods (`OPTIONS`, mock integrations that API Gateway answers itself) are not
routes of the product and are left out. The license routes have `AuthorizationType: NONE` in the
template because API Gateway cannot check an HMAC over the body: the function verifies the VS1
signature first (docs/protocol.md §4), which the document states with the `vs1` scheme.
AWS docs: "x-amazon-apigateway-authtype property"
(https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-swagger-extensions-authtype.html):
IAM authorization is an `apiKey` scheme on `Authorization` with `x-amazon-apigateway-authtype: awsSigv4`.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
_RUNTIME = str(ROOT / "runtime")
if _RUNTIME not in sys.path:  # the request models are the ones the functions parse with
    sys.path.insert(0, _RUNTIME)

from pydantic import BaseModel  # noqa: E402

from activations.bodies import ActivationRequest  # noqa: E402
from admin.bodies import SuspendRequest  # noqa: E402
from keys.bodies import CreateKeyRequest  # noqa: E402
from license.models import TokenRequest  # noqa: E402
from subscriptions.bodies import RegistrationRequest  # noqa: E402
from teams.bodies import InvitationRequest  # noqa: E402
from teams.models import INVITABLE_ROLES, ROLES  # noqa: E402
from usage.bodies import UsageRequest  # noqa: E402
from usage.models import MAX_QUANTITY, MAX_RECORDS  # noqa: E402

DEFAULT_TEMPLATE = ROOT / "cdk.out" / "VendstackVendorPlatform.template.json"
DEFAULT_OUT = ROOT / "docs" / "openapi.json"
PROTOCOL_VERSION = "1.0.0"

# Which API Gateway AuthorizationType each documented scheme must have in the template.
TEMPLATE_AUTH = {"none": "NONE", "vs1": "NONE", "cognito": "COGNITO_USER_POOLS", "iam": "AWS_IAM"}

SECURITY_SCHEMES: dict[str, dict[str, Any]] = {
    "cognito": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "The Cognito user pool's ID token (docs/protocol.md §2), checked by API Gateway.",
    },
    "vs1": {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": "`VS1-HMAC-SHA256 Credential=<access key>, Signature=<hex>` with the `X-Vs-Date` "
        "and `X-Vs-Nonce` headers (docs/protocol.md §4), verified by the function before anything else.",
    },
    "iam": {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "x-amazon-apigateway-authtype": "awsSigv4",
        "description": "AWS Signature Version 4 (service `execute-api`), checked by API Gateway.",
    },
}


class OpenApiError(Exception):
    """The template and `ROUTE_DOCS` disagree, or the template is not a vendor template."""


# ------------------------------------------------------------------------------ schema helpers


def _obj(properties: dict[str, Any], required: Sequence[str] | None = None) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties if required is None else required),
    }


STRING = {"type": "string"}
TIMESTAMP = {
    "type": "string",
    "format": "date-time",
    "description": "RFC 3339 UTC, e.g. 2026-11-22T13:00:00Z",
}
NULLABLE_TIMESTAMP = {"anyOf": [TIMESTAMP, {"type": "null"}]}
NULLABLE_STRING = {"type": ["string", "null"]}
COUNT = {"type": "integer", "minimum": 0}
ACCESS_KEY = {"type": "string", "pattern": "^VSAK[A-Z2-7]{16}$"}
KEY_STATUS = {"type": "string", "enum": ["active", "expired", "revoked"]}
SUBSCRIPTION_STATUS = {
    "type": "string",
    "enum": ["active", "pending", "unsubscribe-pending", "grace", "inactive", "pending-approval"],
}
CUSTOMER_STATUS = {"type": "string", "enum": [*SUBSCRIPTION_STATUS["enum"], "suspended"]}
ARTIFACT = _obj(
    {
        "name": {"type": "string", "pattern": "^[a-z][a-z0-9_-]{0,62}$"},
        "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
        "size": COUNT,
    }
)

ROLE = {"type": "string", "enum": list(ROLES)}
INVITATION = _obj(
    {
        "invitation_id": {"type": "string", "pattern": "^inv-[a-z2-7]{26}$"},
        "email": STRING,
        "role": {"type": "string", "enum": list(INVITABLE_ROLES)},
        "expires_at": TIMESTAMP,
    }
)

RESPONSE_SCHEMAS: dict[str, dict[str, Any]] = {
    "Error": _obj({"error": _obj({"code": STRING, "message": STRING})}),
    "Health": _obj({"status": {"const": "ok"}, "product": STRING, "version": STRING}),
    "Product": _obj(
        {
            "product": STRING,
            "version": STRING,
            "dimensions": {
                "type": "array",
                "items": _obj(
                    {
                        "name": STRING,
                        "unit": STRING,
                        "description": STRING,
                        "price_per_unit": {"type": "string", "description": "a decimal number as a string"},
                    }
                ),
            },
            "grace_days": COUNT,
        }
    ),
    "CreatedKey": _obj(
        {
            "access_key": ACCESS_KEY,
            "secret_key": {"type": "string", "description": "shown in this response only, never again"},
            "label": NULLABLE_STRING,
            "created_at": TIMESTAMP,
            "expires_at": TIMESTAMP,
            "status": {"const": "active"},
        }
    ),
    "KeyList": _obj(
        {
            "keys": {
                "type": "array",
                "items": _obj(
                    {
                        "access_key": ACCESS_KEY,
                        "label": NULLABLE_STRING,
                        "created_at": TIMESTAMP,
                        "expires_at": TIMESTAMP,
                        "status": KEY_STATUS,
                        "last_used_at": NULLABLE_TIMESTAMP,
                        "created_by": {"type": "string", "description": "email of the member who made it"},
                        "stacks": {
                            "type": "array",
                            "description": "the customer stacks still activated with this key",
                            "items": _obj(
                                {
                                    "stack_id": STRING,
                                    "stack_name": STRING,
                                    "aws_account_id": {"type": "string", "pattern": "^\\d{12}$"},
                                    "region": STRING,
                                    "version": STRING,
                                    "activated_at": TIMESTAMP,
                                }
                            ),
                        },
                    }
                ),
            }
        }
    ),
    "Team": _obj(
        {
            "team_id": {"type": "string", "description": "the customer id every record is keyed by"},
            "role": ROLE,
            "members": {
                "type": "array",
                "items": _obj({"sub": STRING, "email": STRING, "role": ROLE, "joined_at": TIMESTAMP}),
            },
            "invitations": {"type": "array", "items": INVITATION},
        }
    ),
    "Invitation": INVITATION,
    "Membership": _obj({"team_id": STRING, "role": ROLE}),
    "Launch": _obj(
        {
            "version": STRING,
            "launch_url": {
                "type": "string",
                "format": "uri",
                "description": "CloudFormation quick-create link with a presigned template URL",
            },
            "expires_at": TIMESTAMP,
        }
    ),
    "UsageHistory": _obj(
        {
            "usage": {
                "type": "array",
                "items": _obj(
                    {"date": {"type": "string", "format": "date"}, "dimension": STRING, "quantity": COUNT}
                ),
            }
        }
    ),
    "Registration": _obj(
        {
            "status": SUBSCRIPTION_STATUS,
            "aws_account_id": {"type": "string", "pattern": "^\\d{12}$"},
            "product_code": STRING,
        }
    ),
    "Subscription": _obj(
        {
            "status": SUBSCRIPTION_STATUS,
            "grace_until": NULLABLE_TIMESTAMP,
            "aws_account_id": {"type": ["string", "null"], "pattern": "^\\d{12}$"},
        }
    ),
    "WhoAmI": _obj({"customer_id": STRING, "access_key": ACCESS_KEY, "expires_at": TIMESTAMP}),
    "LicenseToken": _obj(
        {
            "token": {
                "type": "string",
                "pattern": "^[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+$",
                "description": "compact JWS, RS256, verified offline with VendorPublicKey",
            },
            "expires_at": TIMESTAMP,
        }
    ),
    "Activation": _obj(
        {
            "activation_id": {"type": "string", "pattern": "^act-[A-Za-z0-9_-]{1,128}$"},
            "manifest": _obj(
                {
                    "product": STRING,
                    "version": STRING,
                    "issued_at": TIMESTAMP,
                    "activation_id": STRING,
                    "account_id": {"type": "string", "pattern": "^\\d{12}$"},
                    "stack_id": {"type": "string", "description": "the stack ARN of the request it answers"},
                    "request_nonce": {
                        "type": "string",
                        "description": "the X-Vs-Nonce of the request it answers",
                    },
                    "artifacts": {"type": "array", "items": ARTIFACT},
                }
            ),
            "manifest_signature": {"type": "string", "description": "base64; RSASSA-PKCS1-v1_5 SHA-256"},
            "signature_algorithm": {"const": "RSASSA_PKCS1_V1_5_SHA_256"},
            "downloads": {
                "type": "object",
                "description": "artifact name → presigned GET of that object version (at most 15 minutes)",
                "additionalProperties": _obj(
                    {"url": {"type": "string", "format": "uri"}, "expires_at": TIMESTAMP}
                ),
            },
        }
    ),
    "AdminCustomer": _obj(
        {
            "team_id": STRING,
            "owner_email": NULLABLE_STRING,
            "status": CUSTOMER_STATUS,
            "aws_account_id": {"type": ["string", "null"], "pattern": "^\\d{12}$"},
            "keys_active": COUNT,
            "last_usage_at": NULLABLE_TIMESTAMP,
            "suspension_reason": NULLABLE_STRING,
        }
    ),
    "AdminCustomers": _obj(
        {
            "customers": {"type": "array", "items": {"$ref": "#/components/schemas/AdminCustomer"}},
            "next_token": {"type": ["string", "null"], "description": "pass it back for the next page"},
        }
    ),
    "AdminUsage": _obj(
        {
            "from": {"type": "string", "format": "date"},
            "to": {"type": "string", "format": "date"},
            "usage": {
                "type": "array",
                "items": _obj(
                    {"team_id": STRING, "dimension": STRING, "quantity": COUNT, "metered_quantity": COUNT}
                ),
            },
        }
    ),
    "DisputeReport": _obj(
        {
            "team_id": STRING,
            "from": {"type": "string", "format": "date"},
            "to": {"type": "string", "format": "date"},
            "days": {
                "type": "array",
                "items": _obj(
                    {
                        "date": {"type": "string", "format": "date"},
                        "usage": {"type": "object", "additionalProperties": COUNT},
                        "calls": COUNT,
                        "success": COUNT,
                        "client_error": COUNT,
                        "server_error": COUNT,
                        "errors": {"type": "object", "additionalProperties": COUNT},
                        "operations": {"type": "object", "additionalProperties": COUNT},
                    }
                ),
            },
            "metering_records": {
                "type": "array",
                "items": _obj(
                    {
                        "hour": TIMESTAMP,
                        "dimension": STRING,
                        "quantity": COUNT,
                        "status": STRING,
                        "metering_record_id": NULLABLE_STRING,
                        "metered_at": NULLABLE_STRING,
                        "error": NULLABLE_STRING,
                    }
                ),
            },
        }
    ),
    "UsageResult": _obj(
        {
            "accepted": COUNT,
            "duplicates": COUNT,
            "rejected": {
                "type": "array",
                "items": _obj({"id": NULLABLE_STRING, "code": STRING, "message": STRING}),
            },
        }
    ),
}

# What each record of `POST /v1/usage` should hold. The model takes any value so that a bad record
# is rejected on its own (docs/protocol.md §4.2) instead of failing the whole request.
USAGE_RECORD_FIELDS = {
    "id": {"type": "string", "minLength": 1, "maxLength": 64, "description": "idempotency key per customer"},
    "dimension": {"type": "string", "description": "one of the product's dimensions (GET /v1/product)"},
    "quantity": {"type": "integer", "minimum": 0, "maximum": MAX_QUANTITY},
    "timestamp": TIMESTAMP,
}


# ------------------------------------------------------------------------------ what each route means


@dataclass(frozen=True)
class RouteDoc:
    summary: str
    auth: str  # a key of SECURITY_SCHEMES, or "none"
    ok: tuple[int, str | None]  # success status, response schema name (None: no body)
    request: type | None = None  # the pydantic model the function parses the body with
    query: tuple[tuple[str, str, str], ...] = ()  # (name, format, description), all required
    errors: tuple[int, ...] = ()
    tags: tuple[str, ...] = field(default=())


_COGNITO_ERRORS = (401,)
_ROLE_ERRORS = (403,)  # a team member whose role does not allow the action (docs/protocol.md §3.2)
_SIGNED_ERRORS = (401, 402, 403, 413)
_IAM_ERRORS = (403,)
_PERIOD = (
    ("from", "date", "first day, YYYY-MM-DD"),
    ("to", "date", "last day, YYYY-MM-DD (at most 366 days)"),
)

ROUTE_DOCS: dict[tuple[str, str], RouteDoc] = {
    ("GET", "/v1/health"): RouteDoc("Health of the platform", "none", (200, "Health"), tags=("public",)),
    ("GET", "/v1/product"): RouteDoc(
        "What is sold: dimensions and prices", "none", (200, "Product"), tags=("public",)
    ),
    ("POST", "/v1/keys"): RouteDoc(
        "Create an API key pair (the secret is shown once)",
        "cognito",
        (201, "CreatedKey"),
        request=CreateKeyRequest,
        errors=(400, *_COGNITO_ERRORS, *_ROLE_ERRORS, 409, 413),
        tags=("developer",),
    ),
    ("GET", "/v1/keys"): RouteDoc(
        "The team's API keys, newest first, each with who made it",
        "cognito",
        (200, "KeyList"),
        errors=_COGNITO_ERRORS,
        tags=("developer",),
    ),
    ("DELETE", "/v1/keys/{access_key}"): RouteDoc(
        "Revoke one of the team's API keys (?confirm=true when live stacks use it, else 409 naming them)",
        "cognito",
        (204, None),
        errors=(400, *_COGNITO_ERRORS, *_ROLE_ERRORS, 404, 409),
        tags=("developer",),
    ),
    ("GET", "/v1/team"): RouteDoc(
        "The caller's team: its id, the caller's role, members and pending invitations",
        "cognito",
        (200, "Team"),
        errors=_COGNITO_ERRORS,
        tags=("developer",),
    ),
    ("POST", "/v1/team/invitations"): RouteDoc(
        "Invite someone to the team by email (owner, admin); expires in 7 days",
        "cognito",
        (201, "Invitation"),
        request=InvitationRequest,
        errors=(400, *_COGNITO_ERRORS, *_ROLE_ERRORS, 409, 413, 503),
        tags=("developer",),
    ),
    ("POST", "/v1/team/invitations/{invitation_id}/accept"): RouteDoc(
        "Accept an invitation (the signed-in invitee, by verified email)",
        "cognito",
        (200, "Membership"),
        errors=(400, *_COGNITO_ERRORS, 404, 409),
        tags=("developer",),
    ),
    ("DELETE", "/v1/team/members/{sub}"): RouteDoc(
        "Remove a member from the team (owner, admin; never the owner); their access stops at once",
        "cognito",
        (204, None),
        errors=(*_COGNITO_ERRORS, *_ROLE_ERRORS, 404),
        tags=("developer",),
    ),
    ("GET", "/v1/usage"): RouteDoc(
        "The caller's usage per day and dimension",
        "cognito",
        (200, "UsageHistory"),
        query=(
            ("from", "date", "first day, YYYY-MM-DD"),
            ("to", "date", "last day, YYYY-MM-DD (at most 366 days)"),
        ),
        errors=(400, *_COGNITO_ERRORS),
        tags=("developer",),
    ),
    ("POST", "/v1/marketplace/registrations"): RouteDoc(
        "Link an AWS Marketplace subscription to the caller's team (owner, admin)",
        "cognito",
        (200, "Registration"),
        request=RegistrationRequest,
        errors=(400, *_COGNITO_ERRORS, *_ROLE_ERRORS, 409, 413),
        tags=("developer",),
    ),
    ("GET", "/v1/launch"): RouteDoc(
        "The Launch stack link of the current release",
        "cognito",
        (200, "Launch"),
        errors=(*_COGNITO_ERRORS, 503),
        tags=("developer",),
    ),
    ("POST", "/v1/marketplace/fulfillment"): RouteDoc(
        "AWS Marketplace's fulfillment form POST (x-amzn-marketplace-token): 303 to the developer page "
        "with the token in the URL fragment",
        "none",
        (303, None),
        errors=(400,),
        tags=("public",),
    ),
    ("GET", "/v1/subscription"): RouteDoc(
        "The caller's subscription state",
        "cognito",
        (200, "Subscription"),
        errors=_COGNITO_ERRORS,
        tags=("developer",),
    ),
    ("GET", "/v1/whoami"): RouteDoc(
        "Check a key pair without side effects",
        "vs1",
        (200, "WhoAmI"),
        errors=_SIGNED_ERRORS,
        tags=("license",),
    ),
    ("POST", "/v1/activations"): RouteDoc(
        "Activate a customer stack: a signed manifest and download URLs of its release",
        "vs1",
        (200, "Activation"),
        request=ActivationRequest,
        errors=(400, *_SIGNED_ERRORS, 503),
        tags=("license",),
    ),
    ("DELETE", "/v1/activations/{activation_id}"): RouteDoc(
        "Deactivate a customer stack (idempotent)",
        "vs1",
        (204, None),
        errors=(*_SIGNED_ERRORS, 404),
        tags=("license",),
    ),
    ("POST", "/v1/license-token"): RouteDoc(
        "A license token: the subscription's entitlements, signed, for offline checks",
        "vs1",
        (200, "LicenseToken"),
        request=TokenRequest,
        errors=(400, *_SIGNED_ERRORS, 402, 503),
        tags=("license",),
    ),
    ("POST", "/v1/usage"): RouteDoc(
        "Report usage records (idempotent per record id)",
        "vs1",
        (200, "UsageResult"),
        request=UsageRequest,
        errors=(400, *_SIGNED_ERRORS),
        tags=("license",),
    ),
}

ROUTE_DOCS.update(
    {
        ("GET", "/v1/admin/customers"): RouteDoc(
            "Operators: customers with status, owner, account, active keys and last usage (paginated; "
            "optional query status, limit 1-100, next_token)",
            "iam",
            (200, "AdminCustomers"),
            errors=(400, *_IAM_ERRORS),
            tags=("admin",),
        ),
        ("POST", "/v1/admin/customers/{team_id}/approve"): RouteDoc(
            "Operators: approve a subscription waiting in pending-approval",
            "iam",
            (200, "AdminCustomer"),
            errors=(400, *_IAM_ERRORS, 404, 409),
            tags=("admin",),
        ),
        ("POST", "/v1/admin/customers/{team_id}/suspend"): RouteDoc(
            "Operators: suspend a customer (signed calls and developer writes answer 403 AccountSuspended)",
            "iam",
            (200, "AdminCustomer"),
            request=SuspendRequest,
            errors=(400, *_IAM_ERRORS, 404, 413),
            tags=("admin",),
        ),
        ("POST", "/v1/admin/customers/{team_id}/resume"): RouteDoc(
            "Operators: lift a suspension",
            "iam",
            (200, "AdminCustomer"),
            errors=(400, *_IAM_ERRORS, 404),
            tags=("admin",),
        ),
        ("GET", "/v1/admin/customers/{team_id}/dispute"): RouteDoc(
            "Operators: one customer's dispute report (per-day usage, metering records, call summary)",
            "iam",
            (200, "DisputeReport"),
            query=_PERIOD,
            errors=(400, *_IAM_ERRORS),
            tags=("admin",),
        ),
        ("GET", "/v1/admin/usage"): RouteDoc(
            "Operators: usage per customer and dimension, and how much was metered",
            "iam",
            (200, "AdminUsage"),
            query=_PERIOD,
            errors=(400, *_IAM_ERRORS),
            tags=("admin",),
        ),
    }
)

_ERROR_TEXT = {
    400: "Validation error: the message names the field",
    401: "Not authenticated (see docs/protocol.md §1 for the codes)",
    402: "The key owner's subscription does not allow this, or awaits the vendor's approval",
    403: (
        "Refused: Forbidden (the caller's team role does not allow it), AccountSuspended"
        " (the vendor suspended this customer), or API Gateway's IAM check"
    ),
    404: "No such resource, or it belongs to someone else",
    409: "State conflict",
    413: "Body over 64 KiB",
    503: "A dependency failed, or no release is published yet; retry later",
}


# ------------------------------------------------------------------------------ the template's routes


@dataclass(frozen=True)
class TemplateRoute:
    method: str
    path: str
    authorization: str  # the method's AuthorizationType
    handler: str | None  # Handler of the Lambda function it integrates, when it integrates one


def _function_logical_id(node: Any, functions: set[str]) -> str | None:
    if isinstance(node, dict):
        target = node.get("Fn::GetAtt")
        if isinstance(target, list) and target and target[0] in functions:
            return target[0]
        nodes = list(node.values())
    elif isinstance(node, list):
        nodes = node
    else:
        return None
    for child in nodes:
        found = _function_logical_id(child, functions)
        if found:
            return found
    return None


def template_routes(template: dict[str, Any]) -> list[TemplateRoute]:
    """Every non-OPTIONS method of the template's REST API, with its full path."""
    resources = template.get("Resources") or {}
    functions = {k for k, v in resources.items() if v.get("Type") == "AWS::Lambda::Function"}

    def path_of(ref: Any) -> str:
        if not (isinstance(ref, dict) and "Ref" in ref):
            return ""  # Fn::GetAtt <RestApi>.RootResourceId
        props = resources[ref["Ref"]]["Properties"]
        return f"{path_of(props['ParentId'])}/{props['PathPart']}"

    routes = []
    for resource in resources.values():
        if resource.get("Type") != "AWS::ApiGateway::Method":
            continue
        props = resource["Properties"]
        if props["HttpMethod"] == "OPTIONS":
            continue
        function = _function_logical_id(props.get("Integration", {}).get("Uri"), functions)
        handler = resources[function]["Properties"].get("Handler") if function else None
        routes.append(
            TemplateRoute(
                props["HttpMethod"],
                path_of(props["ResourceId"]) or "/",
                props.get("AuthorizationType", "NONE"),
                handler,
            )
        )
    return sorted(routes, key=lambda r: (r.path, r.method))


def _stage(template: dict[str, Any]) -> str:
    stages = [
        r["Properties"]["StageName"]
        for r in (template.get("Resources") or {}).values()
        if r.get("Type") == "AWS::ApiGateway::Stage"
    ]
    if len(stages) != 1:
        raise OpenApiError(f"expected one API Gateway stage in the vendor template, found {len(stages)}")
    return stages[0]


# ------------------------------------------------------------------------------ the document


def _model_schema(model: type[BaseModel], schemas: dict[str, Any]) -> dict[str, Any]:
    """The model's JSON Schema (2020-12, which OpenAPI 3.1 uses), nested models as components.
    Docstrings are for the code's readers, so model descriptions are dropped."""
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, nested in schema.pop("$defs", {}).items():
        nested.pop("description", None)
        schemas[name] = nested
    schema.pop("description", None)
    schemas[schema["title"]] = schema
    return {"$ref": f"#/components/schemas/{schema['title']}"}


def _operation(route: TemplateRoute, doc: RouteDoc, schemas: dict[str, Any]) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "summary": doc.summary,
        "tags": list(doc.tags),
        "operationId": route.method.lower()
        + "".join(w.title() for w in re.split(r"[/{}_-]+", route.path) if w),
        "security": [] if doc.auth == "none" else [{doc.auth: []}],
        "x-vendstack-handler": route.handler,
    }
    parameters = [
        {"name": part[1:-1], "in": "path", "required": True, "schema": STRING}
        for part in route.path.split("/")
        if part.startswith("{")
    ]
    parameters += [
        {
            "name": name,
            "in": "query",
            "required": True,
            "description": text,
            "schema": {"type": "string", "format": fmt},
        }
        for name, fmt, text in doc.query
    ]
    if parameters:
        operation["parameters"] = parameters
    if doc.request is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _model_schema(doc.request, schemas)}},
        }
    status, schema_name = doc.ok
    ok: dict[str, Any] = {"description": "OK" if status != 204 else "Done, no body"}
    if schema_name:
        ok["content"] = {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema_name}"}}}
    responses = {str(status): ok}
    for code in doc.errors:
        responses[str(code)] = {
            "description": _ERROR_TEXT[code],
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        }
    operation["responses"] = responses
    return operation


def build_document(template: dict[str, Any]) -> dict[str, Any]:
    routes = template_routes(template)
    if not routes:
        raise OpenApiError("the template has no API Gateway methods: is it the vendor platform template?")
    deployed = {(r.method, r.path) for r in routes}
    undocumented = sorted(deployed - ROUTE_DOCS.keys())
    stale = sorted(ROUTE_DOCS.keys() - deployed)
    problems = [f"{m} {p} is deployed but has no entry in ROUTE_DOCS" for m, p in undocumented]
    problems += [f"{m} {p} is in ROUTE_DOCS but the template does not deploy it" for m, p in stale]
    for route in routes:
        doc = ROUTE_DOCS.get((route.method, route.path))
        if doc and TEMPLATE_AUTH.get(doc.auth) != route.authorization:
            problems.append(
                f"{route.method} {route.path}: documented as {doc.auth!r} but the template's "
                f"AuthorizationType is {route.authorization}"
            )
    if problems:
        raise OpenApiError(
            "; ".join(problems) + " (edit customer_stack/openapi.py ROUTE_DOCS, then `make openapi`)"
        )

    schemas: dict[str, Any] = {}
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(
            route, ROUTE_DOCS[(route.method, route.path)], schemas
        )
    if "RawRecord" in schemas:
        schemas["RawRecord"]["properties"] = USAGE_RECORD_FIELDS
    schemas.update(RESPONSE_SCHEMAS)
    used = {doc.auth for doc in ROUTE_DOCS.values()} - {"none"}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "vendstack vendor platform API",
            "version": PROTOCOL_VERSION,
            "description": "Generated from the synthesized vendor template by `make openapi`; do not edit. "
            "The protocol in words: docs/protocol.md. Request bodies larger than 64 KiB are refused (413); "
            f"unknown fields are refused (400); `POST /v1/usage` takes 1-{MAX_RECORDS} records.",
        },
        "servers": [
            {
                "url": "https://{api_id}.execute-api.{region}.amazonaws.com/" + _stage(template),
                "variables": {"api_id": {"default": "api_id"}, "region": {"default": "us-east-1"}},
            }
        ],
        "paths": {path: dict(sorted(methods.items())) for path, methods in sorted(paths.items())},
        "components": {
            "securitySchemes": {name: SECURITY_SCHEMES[name] for name in sorted(used)},
            "schemas": dict(sorted(schemas.items())),
        },
    }


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def disagreements(document: dict[str, Any], template: dict[str, Any]) -> list[str]:
    """What a committed OpenAPI document says differently from the template: a route in one and
    not the other, another authorization, another function."""
    schemes = document.get("components", {}).get("securitySchemes", {})
    documented: dict[tuple[str, str], dict[str, Any]] = {
        (method.upper(), path): operation
        for path, methods in document.get("paths", {}).items()
        for method, operation in methods.items()
    }
    problems = []
    for route in template_routes(template):
        operation = documented.pop((route.method, route.path), None)
        if operation is None:
            problems.append(f"{route.method} {route.path} is deployed but not in the document")
            continue
        names = [name for requirement in operation.get("security", []) for name in requirement]
        auth = names[0] if len(names) == 1 and names[0] in schemes else ("none" if not names else "?")
        if TEMPLATE_AUTH.get(auth) != route.authorization:
            problems.append(
                f"{route.method} {route.path}: the document says {auth!r}, the template {route.authorization}"
            )
        if operation.get("x-vendstack-handler") != route.handler:
            problems.append(
                f"{route.method} {route.path}: the document and the template name different functions"
            )
    problems += [
        f"{m} {p} is in the document but the template does not deploy it" for m, p in sorted(documented)
    ]
    return problems


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def main(argv: Sequence[str] | None = None, *, prog: str = "python -m customer_stack.openapi") -> int:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Write docs/openapi.json from the synthesized vendor template (run `make synth` first).",
    )
    parser.add_argument("--template", type=Path, default=DEFAULT_TEMPLATE, help="vendor template (cdk.out/…)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where to write (docs/openapi.json)")
    parser.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 if the file is out of date"
    )
    args = parser.parse_args(argv)
    try:
        template = json.loads(args.template.read_text())
    except (OSError, ValueError) as exc:
        parser.exit(
            2,
            f"error: cannot read the template {args.template} ({exc.__class__.__name__}); run `make synth`\n",
        )
    try:
        text = render(build_document(template))
    except OpenApiError as exc:
        parser.exit(2, f"error: {exc}\n")
    if args.check:
        current = args.out.read_text() if args.out.exists() else ""
        if current != text:
            print(f"{_shown(args.out)} is out of date: run `make openapi`", file=sys.stderr)
            return 1
        print(f"{_shown(args.out)} is up to date")
        return 0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(f"wrote {_shown(args.out)} ({len(json.loads(text)['paths'])} paths)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
