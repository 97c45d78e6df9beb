"""The license check in the customer template (constructs/entitlement_check.py): every solution
function can fetch tokens, the authorizer runs signed code from the API's artifact, and its
denials reach the caller as 402/401 only when it is in use."""

from __future__ import annotations

import json

SETTINGS = {
    "VS_LICENSE_URL",
    "VS_LICENSE_PUBLIC_KEY",
    "VS_LICENSE_SECRET_ARN",
    "VS_LICENSE_GRACE_SECONDS",
    "VS_LICENSE_REFRESH_SECONDS",
    "VS_LICENSE_ROUTES",
}


def _of_type(template: dict, kind: str) -> dict:
    return {k: r for k, r in template["Resources"].items() if r["Type"] == kind}


def _actions(statement: dict) -> list[str]:
    action = statement["Action"]
    return action if isinstance(action, list) else [action]


def _authorizer_function(template: dict) -> tuple[str, dict]:
    return next(
        (k, r)
        for k, r in _of_type(template, "AWS::Lambda::Function").items()
        if r["Properties"]["Handler"] == "entitlement.authorizer"
    )


def test_every_solution_function_gets_the_license_settings_and_its_key_pair(customer_template) -> None:
    functions = _of_type(customer_template, "AWS::Lambda::Function")
    solution = [r for r in functions.values() if r["Properties"]["Handler"] == "handler.handler"]
    assert solution
    for function in solution:
        variables = function["Properties"]["Environment"]["Variables"]
        assert SETTINGS <= set(variables)
        assert variables["VS_LICENSE_URL"] == {"Ref": "VendorApiUrl"}
        assert variables["VS_LICENSE_PUBLIC_KEY"] == {"Ref": "VendorPublicKey"}
        assert json.loads(variables["VS_LICENSE_ROUTES"]) == {"POST /analyze": "analysis"}
        role = function["Properties"]["Role"]["Fn::GetAtt"][0]
        policies = [
            p
            for p in _of_type(customer_template, "AWS::IAM::Policy").values()
            if {"Ref": role} in p["Properties"]["Roles"]
        ]
        statements = [s for p in policies for s in p["Properties"]["PolicyDocument"]["Statement"]]
        reads_secret = [
            s
            for s in statements
            if "secretsmanager:GetSecretValue" in _actions(s) and "ApiKeySecret" in json.dumps(s["Resource"])
        ]
        assert reads_secret, "the function cannot read the key pair it signs token requests with"


def test_the_authorizer_is_signed_code_from_the_api_artifact(customer_template) -> None:
    _, authorizer = _authorizer_function(customer_template)
    props = authorizer["Properties"]
    assert props["Code"]["S3Key"]["Fn::GetAtt"][1] == "ApiKey"  # the API function's own artifact
    assert "CodeSigningConfigArn" in props
    assert SETTINGS <= set(props["Environment"]["Variables"])
    assert "ReservedConcurrentExecutions" not in props


def test_the_authorizer_caches_by_method_and_path_for_the_configured_ttl(customer_template) -> None:
    (authorizer,) = _of_type(customer_template, "AWS::ApiGateway::Authorizer").values()
    props = authorizer["Properties"]
    assert props["Type"] == "REQUEST"
    assert props["IdentitySource"] == "context.httpMethod,context.path"
    assert props["AuthorizerResultTtlInSeconds"] == 300  # cdk.json license_tokens.authorizer_cache_seconds
    methods = _of_type(customer_template, "AWS::ApiGateway::Method").values()
    assert methods
    for method in methods:
        condition, chosen, otherwise = method["Properties"]["AuthorizerId"]["Fn::If"]
        assert chosen == {"Ref": next(iter(_of_type(customer_template, "AWS::ApiGateway::Authorizer")))}
        assert otherwise == {"Ref": "AWS::NoValue"}


def test_denials_are_402_and_401_only_with_the_authorizer(customer_template) -> None:
    from constructs.entitlement_check import DEFAULT_BODY, DENIED_BODY

    responses = {
        r["Properties"]["ResponseType"]: r["Properties"]
        for r in _of_type(customer_template, "AWS::ApiGateway::GatewayResponse").values()
    }
    denied = responses["ACCESS_DENIED"]
    condition, status, default_status = denied["StatusCode"]["Fn::If"]
    assert (status, default_status) == ("402", "403")  # IAM's own 403 stays under AWS_IAM
    assert customer_template["Conditions"][condition] == {"Fn::Equals": [{"Ref": "ApiAuthorization"}, "NONE"]}
    assert denied["ResponseTemplates"]["application/json"]["Fn::If"][1:] == [DENIED_BODY, DEFAULT_BODY]
    unauthorized = responses["UNAUTHORIZED"]
    assert unauthorized["StatusCode"]["Fn::If"][1:] == ["401", "401"]
    body = json.loads(unauthorized["ResponseTemplates"]["application/json"]["Fn::If"][1])
    assert body["error"]["code"] == "LicenseUnavailable"
    # The Deny's reason travels in the authorizer context, in the protocol's error shape.
    assert "$context.authorizer.code" in DENIED_BODY and "$context.authorizer.message" in DENIED_BODY
