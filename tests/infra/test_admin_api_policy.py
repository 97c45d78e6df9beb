"""Deploy-time facts of the admin API: IAM authorization on every admin method, and a resource
policy that denies everyone but the principals named in cdk.json."""

from __future__ import annotations

import json

from tests.plugins.synth import load_context


def _resources(template: dict, kind: str) -> dict[str, dict]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def _path_of(template: dict, ref) -> str:
    if isinstance(ref, dict) and "Fn::GetAtt" in ref:
        return ""
    props = template["Resources"][ref["Ref"]]["Properties"]
    return f"{_path_of(template, props['ParentId'])}/{props['PathPart']}"


def _methods(template: dict) -> dict[tuple[str, str], dict]:
    return {
        (m["Properties"]["HttpMethod"], _path_of(template, m["Properties"]["ResourceId"])): m["Properties"]
        for m in _resources(template, "AWS::ApiGateway::Method").values()
    }


def test_every_admin_method_takes_aws_iam_and_nothing_else_does(vendor_template: dict) -> None:
    from constructs.admin_api import ROUTES

    methods = _methods(vendor_template)
    for method, path in ROUTES:
        assert methods[(method, path)]["AuthorizationType"] == "AWS_IAM", (method, path)
    admin = {key for key in methods if key[1].startswith("/v1/admin") and key[0] != "OPTIONS"}
    assert admin == set(ROUTES)  # no admin route escapes IAM
    assert all(
        props["AuthorizationType"] != "AWS_IAM"
        for key, props in methods.items()
        if not key[1].startswith("/v1/admin")
    )


def test_the_resource_policy_admits_only_the_configured_operators(vendor_template: dict) -> None:
    from constructs.admin_api import ADMIN_RESOURCE

    (api,) = _resources(vendor_template, "AWS::ApiGateway::RestApi").values()
    statements = api["Properties"]["Policy"]["Statement"]
    denies = [s for s in statements if s["Effect"] == "Deny"]
    assert len(denies) == 1
    (deny,) = denies
    principals = load_context()["vendstack"]["admin"]["principals"]
    assert deny["Resource"] == ADMIN_RESOURCE
    assert deny["Action"] == "execute-api:Invoke"
    assert deny["Condition"] == {"StringNotEquals": {"aws:PrincipalArn": principals}}
    # The Allow covers the other routes (public, Cognito, signed), which a policy would otherwise deny.
    allows = [s for s in statements if s["Effect"] == "Allow"]
    assert [s["Resource"] for s in allows] == ["execute-api:/*"]
    assert not any("Condition" in s for s in allows)


def test_the_admin_function_reads_keys_and_never_writes_them(vendor_template: dict) -> None:
    policies = [
        p for k, p in _resources(vendor_template, "AWS::IAM::Policy").items() if k.startswith("AdminApiRole")
    ]
    assert policies
    text = json.dumps(policies)
    keys_statements = [
        s
        for p in policies
        for s in p["Properties"]["PolicyDocument"]["Statement"]
        if "KeyVaultTable" in json.dumps(s.get("Resource"))
    ]
    assert keys_statements
    for statement in keys_statements:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        assert not any(
            a in ("dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem") for a in actions
        )
    assert "kms:GenerateMac" not in text and "kms:Sign" not in text
