"""The sandbox's Lambda REQUEST authorizer (sandbox/lambda_authorizer.py) and how the gateway
uses it: identity sources, the result cache, Allow/Deny against the method ARN, failures, and
the gateway response's `$context` variables. Answers are AWS's documented shapes
(tests/fixtures/aws/apigw-authorizer-policy-response*.json)."""

from __future__ import annotations

import json

import pytest

from sandbox.gateway import ApiGateway, GatewayResponse, HttpRequest, Route, _path_pattern
from sandbox.lambda_authorizer import (
    ACCESS_DENIED,
    CONFIGURATION_ERROR,
    UNAUTHORIZED,
    AuthorizerRequest,
    LambdaAuthorizer,
    judge,
    method_arn,
    render,
)
from sandbox.workers import FunctionError
from tests.aws_fixtures import AWS_FIXTURES
from tests.plugins.clock import Clock

ALLOW = json.loads((AWS_FIXTURES / "apigw-authorizer-policy-response.json").read_text())
DENY = json.loads((AWS_FIXTURES / "apigw-authorizer-policy-response-deny.json").read_text())
SOURCES = ["context.httpMethod", "context.path"]


def request(path: str = "/items/42", method: str = "GET", headers: dict | None = None) -> AuthorizerRequest:
    return AuthorizerRequest(
        method, path, "/items/{id}", [], headers or {}, {"id": "42"}, "prod", "abcde12345", "444455556666",
        "us-east-1", "203.0.113.10",
    )  # fmt: skip


class Function:
    """The authorizer function: answers from a script, remembering each event."""

    def __init__(self, *answers) -> None:
        self.answers = list(answers)
        self.events: list[dict] = []

    def __call__(self, event: dict):
        self.events.append(event)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer


def test_the_method_arn_names_account_api_stage_method_and_path() -> None:
    assert method_arn(request()) == "arn:aws:execute-api:us-east-1:444455556666:abcde12345/prod/GET/items/42"


def test_an_allow_passes_its_context_and_principal_and_is_cached_per_identity() -> None:
    function, clock = Function(ALLOW), Clock(1000.0)
    authorizer = LambdaAuthorizer(function, SOURCES, 300, clock)
    decision = authorizer.authorize(request())
    assert decision.refusal is None
    assert decision.context == {**ALLOW["context"], "principalId": "111122223333"}
    event = function.events[0]
    assert (event["type"], event["methodArn"], event["resource"], event["pathParameters"]) == (
        "REQUEST",
        method_arn(request()),
        "/items/{id}",
        {"id": "42"},
    )
    assert authorizer.authorize(request()).refusal is None
    assert len(function.events) == 1  # same identity sources: the cached policy
    assert authorizer.authorize(request("/items/7")).refusal is None
    assert len(function.events) == 2  # another path: another identity
    clock.now += 301
    authorizer.authorize(request())
    assert len(function.events) == 3  # the cached result expired


def test_a_ttl_of_zero_calls_the_function_every_time() -> None:
    function = Function(ALLOW)
    authorizer = LambdaAuthorizer(function, SOURCES, 0)
    for _ in range(3):
        authorizer.authorize(request())
    assert len(function.events) == 3


def test_a_missing_identity_source_is_401_without_calling_the_function() -> None:
    function = Function(ALLOW)
    authorizer = LambdaAuthorizer(function, ["method.request.header.Authorization"], 300)
    assert authorizer.authorize(request()).refusal == UNAUTHORIZED
    assert authorizer.authorize(request(headers={"authorization": ""})).refusal == UNAUTHORIZED
    assert function.events == []
    assert authorizer.authorize(request(headers={"authorization": "Bearer x"})).refusal is None


def test_an_explicit_deny_is_access_denied_with_its_context() -> None:
    decision = LambdaAuthorizer(Function(DENY), SOURCES, 300).authorize(request())
    assert decision.refusal == ACCESS_DENIED
    assert decision.context["errorCode"] == "SUBSCRIPTION_INACTIVE"
    assert decision.message.endswith("with an explicit deny")


def test_a_policy_that_allows_another_resource_or_action_is_access_denied() -> None:
    elsewhere = json.loads(json.dumps(ALLOW))
    elsewhere["policyDocument"]["Statement"][0]["Resource"] = (
        "arn:aws:execute-api:us-east-1:444455556666:other/prod/*"
    )
    assert judge(elsewhere, method_arn(request())).refusal == ACCESS_DENIED
    other_action = json.loads(json.dumps(ALLOW))
    other_action["policyDocument"]["Statement"][0]["Action"] = "execute-api:ManageConnections"
    assert judge(other_action, method_arn(request())).refusal == ACCESS_DENIED
    both = json.loads(json.dumps(ALLOW))
    both["policyDocument"]["Statement"].append({**DENY["policyDocument"]["Statement"][0]})
    assert judge(both, method_arn(request())).refusal == ACCESS_DENIED  # a Deny wins


@pytest.mark.parametrize(
    "answer",
    [
        None,
        {"policyDocument": ALLOW["policyDocument"]},  # no principalId
        {"principalId": "p"},  # no policy
        {"principalId": "p", "policyDocument": {"Statement": "Allow"}},
        {**ALLOW, "context": {"nested": {"a": 1}}},  # context values are scalars only
    ],
)
def test_a_malformed_answer_is_a_configuration_error(answer) -> None:
    assert judge(answer, method_arn(request())).refusal == CONFIGURATION_ERROR


def test_the_function_failing_with_unauthorized_is_401_and_otherwise_500() -> None:
    unauthorized = LambdaAuthorizer(Function(FunctionError("Exception: Unauthorized")), SOURCES, 300)
    assert unauthorized.authorize(request()).refusal == UNAUTHORIZED
    broken = LambdaAuthorizer(Function(FunctionError("KeyError: 'x'")), SOURCES, 300)
    assert broken.authorize(request()).refusal == CONFIGURATION_ERROR


def test_a_refusal_is_not_cached_as_an_allow() -> None:
    function = Function(FunctionError("Exception: Unauthorized"), ALLOW)
    authorizer = LambdaAuthorizer(function, SOURCES, 300)
    assert authorizer.authorize(request()).refusal == UNAUTHORIZED
    assert authorizer.authorize(request()).refusal is None


def test_render_fills_the_authorizer_context_and_the_error_message() -> None:
    template = (
        '{"error":{"code":"$context.authorizer.code","message":"$context.authorizer.message"},'
        '"m":$context.error.messageString}'
    )
    out = render(
        template, {"code": "SubscriptionInactive", "message": "No agreement", "codeX": "no"}, 'say "no"'
    )
    assert json.loads(out) == {
        "error": {"code": "SubscriptionInactive", "message": "No agreement"},
        "m": 'say "no"',
    }


def gateway(function: Function, responses: dict) -> ApiGateway:
    class Solution:
        def __init__(self) -> None:
            self.events: list[dict] = []

        def invoke(self, event: dict) -> dict:
            self.events.append(event)
            return {"statusCode": 200, "body": "{}"}

    route = Route("ANY", "/{proxy+}", _path_pattern("/{proxy+}"), "Fn", None, False, "Auth")
    authorizer = LambdaAuthorizer(function, SOURCES, 300)
    return ApiGateway(
        [route],
        {"Fn": Solution()},  # type: ignore[dict-item]
        None,  # type: ignore[arg-type]
        responses,
        "prod",
        authorizers={"Auth": authorizer},
        api_identity=("abcde12345", "444455556666", "us-east-1"),  # the fixtures' API
    )


def http(path: str = "/analyze") -> HttpRequest:
    return HttpRequest("POST", path, [], {}, b"{}", "127.0.0.1")


def test_the_gateway_passes_the_authorizer_context_to_the_function() -> None:
    api = gateway(Function(ALLOW), {})
    assert api.handle(http()).status == 200
    event = api.workers["Fn"].events[0]  # type: ignore[attr-defined]
    assert event["requestContext"]["authorizer"]["principalId"] == "111122223333"
    assert event["requestContext"]["authorizer"]["productCode"] == "exampleprod1234567890"


def test_the_gateway_answers_a_deny_with_the_templates_access_denied_response() -> None:
    deny = {
        **DENY,
        "context": {"status": 402, "code": "SubscriptionInactive", "message": "The subscription has ended."},
    }
    template = '{"error":{"code":"$context.authorizer.code","message":"$context.authorizer.message"}}'
    api = gateway(Function(deny), {"ACCESS_DENIED": GatewayResponse(402, template, {})})
    answer = api.handle(http())
    assert answer.status == 402
    assert json.loads(answer.body) == {
        "error": {"code": "SubscriptionInactive", "message": "The subscription has ended."}
    }
    assert api.workers["Fn"].events == []  # type: ignore[attr-defined]
    # With no gateway response in the template: API Gateway's own 403.
    plain = gateway(Function(deny), {}).handle(http())
    assert (plain.status, json.loads(plain.body)) == (
        403,
        {"message": "User is not authorized to access this resource"},
    )
