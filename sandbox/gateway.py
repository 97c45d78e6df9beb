"""API Gateway (REST, Lambda proxy) as the synthesized template defines it.

Routes, authorizers and gateway responses are read from the template; each request becomes
the REST proxy event API Gateway would send (`tests/fixtures/aws/apigw-rest-proxy-event-
cognito.json`) and goes to the function the method integrates with. Cognito-authorized
methods verify the ID token (RS256 against the pool's JWKS, issuer, audience, expiry,
token_use) before the function is called, and pass its claims as strings, as API Gateway does.

Request bodies reach the function as API Gateway's REST proxy integration passes them: with no
`BinaryMediaTypes` on the RestApi (or a Content-Type that matches none), the payload is treated
as text and handed over as a UTF-8 string, `isBase64Encoded: false` (AWS docs: Amazon API
Gateway Developer Guide, "Content type conversions in API Gateway",
https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-payload-encodings-workflow.html,
and "Binary media types for REST APIs in API Gateway"). Bytes that are not valid UTF-8 become
U+FFFD, as reported of API Gateway's text handling; the AWS page says only "UTF-8 encoded
string". A body whose Content-Type matches a binary media type goes base64-encoded with
`isBase64Encoded: true`. The sandbox therefore never hands a function raw bytes AWS would not.
"""

from __future__ import annotations

import base64
import fnmatch
import json
import re
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from typing import Any

import jwt

from sandbox.iam_auth import DENIED, AuthFailure, IamGate, Principal
from sandbox.lambda_authorizer import DEFAULTS, AuthorizerRequest, Decision, LambdaAuthorizer, render
from sandbox.workers import FunctionError, FunctionWorker


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # as in the template, e.g. /v1/keys/{access_key}
    pattern: re.Pattern[str]
    function: str  # logical id of the integrated function
    authorizer_pool: str | None  # logical id of the user pool, for COGNITO_USER_POOLS methods
    iam: bool = False  # AuthorizationType AWS_IAM: SigV4-signed by an IAM identity
    authorizer: str | None = None  # AuthorizationType CUSTOM: logical id of the Lambda authorizer


@dataclass(frozen=True)
class HttpRequest:
    method: str
    path: str
    query: list[tuple[str, str]]
    headers: dict[str, str]
    body: bytes
    source_ip: str


@dataclass
class GatewayResponse:
    status: int
    body: str
    headers: dict[str, str]


def write_response(handler: BaseHTTPRequestHandler, response: GatewayResponse) -> None:
    """Sends `response` on an HTTP/1.1 connection: JSON by default, the length the body has (a
    function's own Content-Length or Connection header is not passed on), no body for HEAD."""
    data = response.body.encode("utf-8")
    handler.send_response(response.status)
    for name, value in {"Content-Type": "application/json", **response.headers}.items():
        if name.lower() not in {"content-length", "connection"}:
            handler.send_header(name, value)
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    if data and handler.command != "HEAD":
        handler.wfile.write(data)


def _path_pattern(path: str) -> re.Pattern[str]:
    out = ""
    for part in path.strip("/").split("/"):
        if part.endswith("+}"):
            out += f"/(?P<{part[1:-2]}>.+)"
        elif part.startswith("{"):
            out += f"/(?P<{part[1:-1]}>[^/]+)"
        elif part:
            out += "/" + re.escape(part)
    return re.compile(f"^{out or '/'}$")


def function_of(node: Any, functions: set[str]) -> str | None:
    if isinstance(node, dict):
        if "Fn::GetAtt" in node and node["Fn::GetAtt"][0] in functions:
            return node["Fn::GetAtt"][0]
        for value in node.values():
            found = function_of(value, functions)
            if found:
                return found
    if isinstance(node, list):
        for value in node:
            found = function_of(value, functions)
            if found:
                return found
    return None


def routes_from_template(template: dict) -> list[Route]:
    resources = template["Resources"]
    functions = {k for k, v in resources.items() if v["Type"] == "AWS::Lambda::Function"}
    paths: dict[str, str] = {}

    def path_of(ref: Any) -> str:
        if isinstance(ref, dict) and "Fn::GetAtt" in ref:
            return ""  # the API's root resource
        logical = ref["Ref"]
        if logical not in paths:
            props = resources[logical]["Properties"]
            paths[logical] = f"{path_of(props['ParentId'])}/{props['PathPart']}"
        return paths[logical]

    routes = []
    for resource in resources.values():
        if resource["Type"] != "AWS::ApiGateway::Method":
            continue
        props = resource["Properties"]
        integration = props.get("Integration", {})
        if integration.get("Type") != "AWS_PROXY":
            continue  # CORS preflight mocks
        function = function_of(integration.get("Uri"), functions)
        if function is None:
            continue
        path = path_of(props["ResourceId"]) or "/"
        pool = None
        if props.get("AuthorizationType") == "COGNITO_USER_POOLS":
            authorizer = resources[props["AuthorizerId"]["Ref"]]["Properties"]
            pool = function_of(
                authorizer["ProviderARNs"],
                {k for k, v in resources.items() if v["Type"] == "AWS::Cognito::UserPool"},
            )
        iam = props.get("AuthorizationType") == "AWS_IAM"
        custom = props["AuthorizerId"]["Ref"] if props.get("AuthorizationType") == "CUSTOM" else None
        routes.append(Route(props["HttpMethod"], path, _path_pattern(path), function, pool, iam, custom))
    # Literal segments win over parameters, as in API Gateway.
    routes.sort(key=lambda r: (r.path.count("{"), -len(r.path)))
    return routes


def binary_media_types(template: dict) -> tuple[str, ...]:
    """The RestApi's `BinaryMediaTypes` (`~1` is how a `/` is escaped in API Gateway's paths)."""
    found: list[str] = []
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::ApiGateway::RestApi":
            found += [
                t.replace("~1", "/") for t in resource.get("Properties", {}).get("BinaryMediaTypes", [])
            ]
    return tuple(found)


def proxy_body(
    body: bytes, content_type: str | None, binary_types: tuple[str, ...]
) -> tuple[str | None, bool]:
    """(event body, isBase64Encoded) as the REST proxy integration builds them."""
    if not body:
        return None, False
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media and any(fnmatch.fnmatchcase(media, pattern.lower()) for pattern in binary_types):
        return base64.b64encode(body).decode("ascii"), True
    return body.decode("utf-8", "replace"), False


def gateway_responses(template: dict) -> dict[str, GatewayResponse]:
    out = {}
    for resource in template["Resources"].values():
        if resource["Type"] != "AWS::ApiGateway::GatewayResponse":
            continue
        props = resource["Properties"]
        headers = {
            k.removeprefix("gatewayresponse.header."): v.strip("'")
            for k, v in props.get("ResponseParameters", {}).items()
        }
        out[props["ResponseType"]] = GatewayResponse(
            int(props.get("StatusCode", "500")),
            props.get("ResponseTemplates", {}).get("application/json", ""),
            headers,
        )
    return out


def preflight_headers(template: dict) -> dict[str, str]:
    """The CORS headers of the template's OPTIONS mock integrations (`default_cors_preflight_options`
    gives every resource the same ones), without Allow-Origin, which depends on the request."""
    for resource in template["Resources"].values():
        props = resource.get("Properties", {})
        if resource["Type"] != "AWS::ApiGateway::Method" or props.get("HttpMethod") != "OPTIONS":
            continue
        for response in props.get("Integration", {}).get("IntegrationResponses", []):
            return {
                k.removeprefix("method.response.header."): v.strip("'")
                for k, v in response.get("ResponseParameters", {}).items()
                if isinstance(v, str) and not k.endswith("Access-Control-Allow-Origin")
            }
    return {}


def _as_error(kind: tuple[str, str]) -> tuple[str, int, str]:
    """API Gateway's IAM and resource-policy refusals are all 403 (gateway response defaults)."""
    return kind[0], 403, kind[1]


class CognitoVerifier:
    """What a COGNITO_USER_POOLS authorizer checks, with the pool's JWKS from the emulator."""

    def __init__(
        self, endpoint_url: str, region: str, pools: dict[str, str], clients: dict[str, set[str]]
    ) -> None:
        self._endpoint = endpoint_url
        self._region = region
        self._pools = pools  # logical id -> pool id
        self._clients = clients  # pool id -> client ids
        self._jwks: dict[str, jwt.PyJWKClient] = {}

    def claims(self, pool_logical: str, header: str | None) -> dict[str, str] | None:
        if not header:
            return None
        token = header.removeprefix("Bearer ").strip()
        pool_id = self._pools[pool_logical]
        client = self._jwks.setdefault(
            pool_id, jwt.PyJWKClient(f"{self._endpoint}/{pool_id}/.well-known/jwks.json", cache_keys=True)
        )
        try:
            key = client.get_signing_key_from_jwt(token)
            claims = jwt.decode(
                token,
                key.key,
                algorithms=["RS256"],
                audience=list(self._clients.get(pool_id, ())),
                issuer=f"https://cognito-idp.{self._region}.amazonaws.com/{pool_id}",
                options={"require": ["exp", "iat", "sub", "aud", "iss"]},
            )
        except (jwt.PyJWTError, ValueError):
            return None
        if claims.get("token_use") != "id":
            return None
        return {k: _claim_text(k, v) for k, v in claims.items()}


def _claim_text(name: str, value: Any) -> str:
    """API Gateway passes every claim as a string; exp/iat in its own date form."""
    if name in {"exp", "iat"} and isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC).strftime("%a %b %d %H:%M:%S UTC %Y")
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return str(value)


class ApiGateway:
    def __init__(
        self,
        routes: list[Route],
        workers: dict[str, FunctionWorker],
        verifier: CognitoVerifier,
        responses: dict[str, GatewayResponse],
        stage: str,
        preflight: dict[str, str] | None = None,
        binary_types: tuple[str, ...] = (),
        iam: IamGate | None = None,
        authorizers: dict[str, LambdaAuthorizer] | None = None,
        api_identity: tuple[str, str, str] = ("sandbox", "123456789012", "us-east-1"),
    ) -> None:
        self.iam = iam
        self.authorizers = authorizers or {}
        self.api_identity = api_identity  # (api id, account id, region), for method ARNs
        self.preflight_headers = preflight or {}
        self.routes = routes
        self.workers = workers
        self.verifier = verifier
        self.responses = responses
        self.stage = stage
        self.binary_types = binary_types

    def _gateway_error(self, kind: str, fallback_status: int, fallback_message: str) -> GatewayResponse:
        if kind in self.responses:
            return self.responses[kind]
        return GatewayResponse(fallback_status, json.dumps({"message": fallback_message}), {})

    def preflight(self, path: str, origin: str | None, allowed: tuple[str, ...]) -> GatewayResponse:
        """API Gateway's answer to a CORS preflight on a route of the template: 204 with the mock's
        headers, and Access-Control-Allow-Origin only for an allowed origin, as the mock's template does."""
        if not any(route.pattern.match(path) for route in self.routes):
            return self._gateway_error("MISSING_AUTHENTICATION_TOKEN", 403, "Missing Authentication Token")
        headers = dict(self.preflight_headers)
        if origin and origin in allowed:
            headers["Access-Control-Allow-Origin"] = origin
        return GatewayResponse(204, "", headers)

    def handle(self, request: HttpRequest) -> GatewayResponse:
        for route in self.routes:
            match = route.pattern.match(request.path)
            if match and route.method in (request.method, "ANY"):
                return self._invoke(route, match.groupdict(), request)
        # API Gateway answers an unknown path or method like this, before any function runs.
        return self._gateway_error("MISSING_AUTHENTICATION_TOKEN", 403, "Missing Authentication Token")

    def _invoke(self, route: Route, params: dict, request: HttpRequest) -> GatewayResponse:
        principal = self._iam_caller(route, request)
        if isinstance(principal, GatewayResponse):
            return principal
        claims = None
        if route.authorizer_pool:
            auth = next((v for k, v in request.headers.items() if k.lower() == "authorization"), None)
            claims = self.verifier.claims(route.authorizer_pool, auth)
            if claims is None:
                return self._gateway_error("UNAUTHORIZED", 401, "Unauthorized")
        context = None
        if route.authorizer:
            decision = self._authorize(route, params, request)
            if decision.refusal:
                return self._refusal(decision)
            context = decision.context
        event = self._event(route, params, request, claims)
        if context is not None:
            event["requestContext"]["authorizer"] = context
        if principal is not None:
            event["requestContext"]["identity"].update(
                {
                    "accessKey": principal.access_key_id,
                    "accountId": principal.account_id,
                    "caller": principal.caller_arn.rsplit("/", 1)[-1],
                    "user": principal.caller_arn.rsplit("/", 1)[-1],
                    "userArn": principal.caller_arn,
                }
            )
        return self._call(route.function, event)

    def _iam_caller(self, route: Route, request: HttpRequest) -> Principal | GatewayResponse | None:
        """The SigV4 caller of an AWS_IAM method (None for other methods), or the refusal; then
        the RestApi's resource policy."""
        principal: Principal | None = None
        if route.iam:
            if self.iam is None:
                return self._gateway_error(
                    *_as_error(("MISSING_AUTHENTICATION_TOKEN", "No IAM in this sandbox"))
                )
            try:
                principal = self.iam.caller(
                    request.method, request.path, request.query, request.headers, request.body
                )
            except AuthFailure as failure:
                return self._gateway_error(*_as_error(failure.kind))
        if self.iam is not None and not self.iam.policy.allows(
            self.stage,
            route.method,
            request.path,
            principal.principal_arn if principal else None,
        ):
            return self._gateway_error(*_as_error(DENIED))
        return principal

    def _call(self, function: str, event: dict) -> GatewayResponse:
        """The proxy integration: the function's answer as the HTTP response (502 when it fails
        or answers without a status code)."""
        try:
            result = self.workers[function].invoke(event)
        except FunctionError:
            return GatewayResponse(502, json.dumps({"message": "Internal server error"}), {})
        if not isinstance(result, dict) or "statusCode" not in result:
            return GatewayResponse(502, json.dumps({"message": "Internal server error"}), {})
        out_headers = {k: str(v) for k, v in (result.get("headers") or {}).items()}
        for k, values in (result.get("multiValueHeaders") or {}).items():
            out_headers[k] = ",".join(str(v) for v in values)
        text = result.get("body") or ""
        if result.get("isBase64Encoded"):
            text = base64.b64decode(text).decode("utf-8", "replace")
        return GatewayResponse(int(result["statusCode"]), text, out_headers)

    def _authorize(self, route: Route, params: dict, request: HttpRequest) -> Decision:
        authorizer = self.authorizers.get(route.authorizer or "")
        if authorizer is None:
            return Decision("AUTHORIZER_CONFIGURATION_ERROR", message="no such authorizer")
        api_id, account_id, region = self.api_identity
        return authorizer.authorize(
            AuthorizerRequest(
                request.method,
                request.path,
                route.path,
                request.query,
                request.headers,
                params,
                self.stage,
                api_id,
                account_id,
                region,
                request.source_ip,
            )
        )

    def _refusal(self, decision: Decision) -> GatewayResponse:
        """The gateway response for an authorizer's refusal, its template's `$context` filled in."""
        kind = decision.refusal or ""
        if kind in self.responses:
            response = self.responses[kind]
            return GatewayResponse(
                response.status,
                render(response.body, decision.context, decision.message),
                dict(response.headers),
            )
        status, message = DEFAULTS[kind]
        return GatewayResponse(status, json.dumps({"message": message}), {})

    def _event(self, route: Route, params: dict, request: HttpRequest, claims: dict | None) -> dict:
        method, path, headers, body = request.method, request.path, request.headers, request.body
        multi_query: dict[str, list[str]] = {}
        for name, value in request.query:
            multi_query.setdefault(name, []).append(value)
        content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), None)
        text, is_b64 = proxy_body(body, content_type, self.binary_types)
        now = time.time()
        request_id = str(uuid.uuid4())
        return {
            "resource": route.path,
            "path": path,
            "httpMethod": method,
            "headers": dict(headers) or None,
            "multiValueHeaders": {k: [v] for k, v in headers.items()} or None,
            "queryStringParameters": {k: v[-1] for k, v in multi_query.items()} or None,
            "multiValueQueryStringParameters": multi_query or None,
            "pathParameters": params or None,
            "stageVariables": None,
            "requestContext": {
                "resourceId": "sandbox",
                "resourcePath": route.path,
                "httpMethod": method,
                "extendedRequestId": request_id,
                "requestTime": datetime.fromtimestamp(now, UTC).strftime("%d/%b/%Y:%H:%M:%S +0000"),
                "path": f"/{self.stage}{path}",
                "accountId": "123456789012",
                "protocol": "HTTP/1.1",
                "stage": self.stage,
                "domainPrefix": "sandbox",
                "requestTimeEpoch": int(now * 1000),
                "requestId": request_id,
                "identity": {"sourceIp": request.source_ip, "userAgent": headers.get("User-Agent", "")},
                "domainName": "127.0.0.1",
                "apiId": "sandbox",
                **({"authorizer": {"claims": claims}} if claims is not None else {}),
            },
            "body": text,
            "isBase64Encoded": is_b64,
        }
