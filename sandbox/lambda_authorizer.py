"""API Gateway's Lambda REQUEST authorizer, as a REST API runs one in front of a method.

What API Gateway does, and so this stand-in (AWS docs, Amazon API Gateway Developer Guide: "Use
API Gateway Lambda authorizers", "Input to an API Gateway Lambda authorizer", "Output from an
API Gateway Lambda authorizer", "Gateway response types for API Gateway"; and the AWS re:Post
knowledge-center article "Why do I get API Gateway 401 Unauthorized errors after I create a
Lambda authorizer?"):

- the identity sources (`method.request.header.X`, `method.request.querystring.X`,
  `stageVariables.X`, `context.X`) are read first; one that is missing or empty answers
  `UNAUTHORIZED` (401) without calling the function;
- with a result TTL above 0, the function's answer (its policy and context) is cached under the
  identity sources' values, and every later request with the same values is judged by that
  cached policy against its own method ARN, without calling the function;
- the function gets the REQUEST event (`type`, `methodArn`, `resource`, `path`, `httpMethod`,
  headers, query, path parameters, `requestContext`);
- failing with the error text `Unauthorized` answers `UNAUTHORIZED` (401); any other failure, or
  an answer without a `principalId` and a policy document, answers `AUTHORIZER_CONFIGURATION_ERROR`
  (500);
- an explicit `Deny` of `execute-api:Invoke` on the method ARN, or no `Allow` of it, answers
  `ACCESS_DENIED` (403 by default; the template's gateway response may set another status, and
  its body template may read `$context.authorizer.<key>` from the answer's `context`);
- an `Allow` calls the integration with `requestContext.authorizer` = the context plus
  `principalId`.

Not emulated: TOKEN authorizers, `AuthorizerCredentials`, the 10 KB policy size limit, usage
plans' `usageIdentifierKey`.
"""

from __future__ import annotations

import fnmatch
import json
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sandbox.workers import FunctionError

UNAUTHORIZED = "UNAUTHORIZED"
ACCESS_DENIED = "ACCESS_DENIED"
CONFIGURATION_ERROR = "AUTHORIZER_CONFIGURATION_ERROR"
# API Gateway's own status and message for each, used when the template sets no gateway response.
DEFAULTS = {
    UNAUTHORIZED: (401, "Unauthorized"),
    ACCESS_DENIED: (403, "User is not authorized to access this resource"),
    CONFIGURATION_ERROR: (500, None),
}


@dataclass(frozen=True)
class AuthorizerRequest:
    """What API Gateway knows of a request when it runs the authorizer."""

    method: str
    path: str
    resource: str  # the route's path as in the template, e.g. /{proxy+}
    query: list[tuple[str, str]]
    headers: Mapping[str, str]
    path_parameters: Mapping[str, str]
    stage: str
    api_id: str
    account_id: str
    region: str
    source_ip: str


@dataclass(frozen=True)
class Decision:
    """`refusal` is a gateway response type (None: allowed); `context` goes to the integration
    (allowed) or to the gateway response's `$context.authorizer.*` (denied)."""

    refusal: str | None
    context: dict[str, Any] = field(default_factory=dict)
    message: str = ""


def method_arn(request: AuthorizerRequest) -> str:
    return (
        f"arn:aws:execute-api:{request.region}:{request.account_id}:{request.api_id}/{request.stage}/"
        f"{request.method}/{request.path.lstrip('/')}"
    )


def _identity_value(source: str, request: AuthorizerRequest) -> str | None:
    if source.startswith("method.request.header."):
        name = source.removeprefix("method.request.header.").lower()
        return next((v for k, v in request.headers.items() if k.lower() == name), None)
    if source.startswith("method.request.querystring."):
        name = source.removeprefix("method.request.querystring.")
        return next((v for k, v in reversed(request.query) if k == name), None)
    if source.startswith("context."):
        known = {
            "httpMethod": request.method,
            "path": f"/{request.stage}{request.path}",
            "stage": request.stage,
        }
        return known.get(source.removeprefix("context."))
    return None  # stageVariables.*: the sandbox's stages have none


def _statements(policy: Any) -> list[dict] | None:
    if not isinstance(policy, dict):
        return None
    statements = policy.get("Statement")
    if isinstance(statements, dict):
        statements = [statements]
    if not isinstance(statements, list) or not all(isinstance(s, dict) for s in statements):
        return None
    return statements


def _as_list(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def _covers(statement: dict, arn: str) -> bool:
    actions = _as_list(statement.get("Action", []))
    if not any(fnmatch.fnmatchcase("execute-api:Invoke", a) or a in {"*", "execute-api:*"} for a in actions):
        return False
    return any(fnmatch.fnmatchcase(arn, r) for r in _as_list(statement.get("Resource", [])))


def judge(answer: Any, arn: str) -> Decision:
    """The authorizer function's answer, applied to one method ARN."""
    if not isinstance(answer, dict) or not isinstance(answer.get("principalId"), str):
        return Decision(CONFIGURATION_ERROR, message="the authorizer's answer has no principalId")
    statements = _statements(answer.get("policyDocument"))
    if statements is None:
        return Decision(CONFIGURATION_ERROR, message="the authorizer's answer has no policy document")
    context = answer.get("context") or {}
    if not isinstance(context, dict) or not all(
        isinstance(v, str | int | float | bool) for v in context.values()
    ):
        return Decision(CONFIGURATION_ERROR, message="context values must be strings, numbers or booleans")
    context = {**context, "principalId": answer["principalId"]}
    matching = [s for s in statements if _covers(s, arn)]
    if any(s.get("Effect") == "Deny" for s in matching):
        return Decision(
            ACCESS_DENIED, context, "User is not authorized to access this resource with an explicit deny"
        )
    if not any(s.get("Effect") == "Allow" for s in matching):
        return Decision(ACCESS_DENIED, context, DEFAULTS[ACCESS_DENIED][1] or "")
    return Decision(None, context)


class LambdaAuthorizer:
    """One `AWS::ApiGateway::Authorizer` of type REQUEST, with its result cache."""

    def __init__(
        self,
        invoke: Callable[[dict], Any],
        identity_sources: list[str],
        ttl_seconds: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._invoke = invoke  # calls the authorizer function (raises FunctionError)
        self._sources = identity_sources
        self._ttl = ttl_seconds
        self._clock = clock
        self._cache: dict[tuple[str, ...], tuple[float, dict]] = {}
        self._lock = threading.Lock()

    def authorize(self, request: AuthorizerRequest) -> Decision:
        values = tuple(_identity_value(s, request) or "" for s in self._sources)
        if self._sources and not all(values):
            return Decision(UNAUTHORIZED, message="Unauthorized")
        arn = method_arn(request)
        answer = self._cached(values)
        if answer is None:
            try:
                answer = self._invoke(self._event(request, arn))
            except FunctionError as exc:
                if str(exc).rsplit(": ", 1)[-1] == "Unauthorized":
                    return Decision(UNAUTHORIZED, message="Unauthorized")
                return Decision(CONFIGURATION_ERROR, message="the authorizer function failed")
            decision = judge(answer, arn)
            if decision.refusal != CONFIGURATION_ERROR and self._ttl > 0:
                with self._lock:
                    self._cache[values] = (self._clock() + self._ttl, answer)
            return decision
        return judge(answer, arn)

    def _cached(self, values: tuple[str, ...]) -> dict | None:
        if self._ttl <= 0:
            return None
        with self._lock:
            hit = self._cache.get(values)
            if hit is None or hit[0] <= self._clock():
                self._cache.pop(values, None)
                return None
            return hit[1]

    @staticmethod
    def _event(request: AuthorizerRequest, arn: str) -> dict:
        multi_query: dict[str, list[str]] = {}
        for name, value in request.query:
            multi_query.setdefault(name, []).append(value)
        return {
            "type": "REQUEST",
            "methodArn": arn,
            "resource": request.resource,
            "path": request.path,
            "httpMethod": request.method,
            "headers": dict(request.headers),
            "multiValueHeaders": {k: [v] for k, v in request.headers.items()},
            "queryStringParameters": {k: v[-1] for k, v in multi_query.items()},
            "multiValueQueryStringParameters": multi_query,
            "pathParameters": dict(request.path_parameters),
            "stageVariables": {},
            "requestContext": {
                "path": f"/{request.stage}{request.path}",
                "accountId": request.account_id,
                "resourceId": "sandbox",
                "stage": request.stage,
                "requestId": str(uuid.uuid4()),
                "identity": {"apiKey": "", "sourceIp": request.source_ip},
                "resourcePath": request.resource,
                "httpMethod": request.method,
                "apiId": request.api_id,
            },
        }


def render(template: str, context: Mapping[str, Any], message: str) -> str:
    """A gateway response's body template, with the `$context` variables API Gateway fills in:
    `$context.authorizer.<key>` (from the authorizer's context), `$context.error.message` and
    `$context.error.messageString` (the message as a quoted JSON string)."""
    out = template.replace("$context.error.messageString", json.dumps(message))
    out = out.replace("$context.error.message", message)
    for key in sorted(context, key=len, reverse=True):
        value = context[key]
        text = ("true" if value else "false") if isinstance(value, bool) else str(value)
        out = out.replace(f"$context.authorizer.{key}", text)
    return out
