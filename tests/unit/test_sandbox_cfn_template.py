"""The sandbox's CloudFormation stand-in: parameter validation with CloudFormation's messages,
intrinsic functions, dependency order, dynamic references, the custom-resource response rules
and the ResponseURL, and API Gateway's SigV4 check."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from sandbox.cfn_template import (
    NO_VALUE,
    Evaluator,
    TemplateError,
    check_rules,
    creation_order,
    resolve_dynamic,
    validate_parameters,
)
from sandbox.customer_account import CustomerAccounts, ResourceFailed, VendorSide, _Pending
from sandbox.customer_api import MISMATCH, verify_sigv4

SECRET = "vsSK_" + "s" * 43
TEMPLATE = {
    "Parameters": {
        "AccessKey": {
            "Type": "String",
            "AllowedPattern": "^VSAK[A-Z2-7]{16}$",
            "ConstraintDescription": "an access key from the developer page",
        },
        "SecretKey": {"Type": "String", "NoEcho": True, "AllowedPattern": "^[A-Za-z0-9_-]{40,128}$"},
        "Mode": {"Type": "String", "Default": "A", "AllowedValues": ["A", "B"]},
        "Label": {"Type": "String", "Default": "abc", "MinLength": 2, "MaxLength": 4},
    },
    "Conditions": {"IsB": {"Fn::Equals": [{"Ref": "Mode"}, "B"]}},
    "Resources": {},
}
GOOD = {"AccessKey": "VSAK" + "A" * 16, "SecretKey": SECRET}


def test_parameters_get_defaults_and_pass():
    assert validate_parameters(TEMPLATE, GOOD) == {**GOOD, "Mode": "A", "Label": "abc"}


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"SecretKey": SECRET}, "Parameters: [AccessKey] must have values"),
        ({**GOOD, "Extra": "x"}, "Parameters: [Extra] do not exist in the template"),
        ({**GOOD, "AccessKey": "nope"}, "Parameter 'AccessKey' failed to satisfy constraint: an access key"),
        ({**GOOD, "Mode": "C"}, "Parameter 'Mode' must be one of AllowedValues"),
        ({**GOOD, "Label": "a"}, "Parameter 'Label' must contain at least 2 characters"),
        ({**GOOD, "Label": "abcde"}, "Parameter 'Label' must contain at most 4 characters"),
        ({**GOOD, "Mode": 1}, "Parameter 'Mode' must be a string"),
    ],
)
def test_bad_parameters_are_refused_as_cloudformation_words_it(given, message):
    with pytest.raises(TemplateError) as caught:
        validate_parameters(TEMPLATE, given)
    assert str(caught.value).startswith(message)


def test_a_no_echo_value_never_appears_in_the_message():
    bad = "short-secret-with-!!"
    with pytest.raises(TemplateError) as caught:
        validate_parameters(TEMPLATE, {**GOOD, "SecretKey": bad})
    assert bad not in str(caught.value)
    assert "must match pattern" in str(caught.value)


def _evaluator(parameters: dict, resources: dict | None = None) -> Evaluator:
    resources = resources or {}
    return Evaluator(
        TEMPLATE,
        parameters,
        {"AWS::Region": "us-east-1", "AWS::AccountId": "111122223333"},
        lambda logical: resources[logical]["ref"],
        lambda logical, attribute: resources[logical][attribute],
    )


def test_intrinsic_functions_and_conditions():
    values = validate_parameters(TEMPLATE, {**GOOD, "Mode": "B"})
    ev = _evaluator(values, {"Api": {"ref": "abc123", "RootResourceId": "r00t"}})
    assert ev.condition("IsB") is True
    node = {
        "Url": {"Fn::Join": ["", ["https://", {"Ref": "Api"}, ".execute-api.", {"Ref": "AWS::Region"}]]},
        "Sub": {"Fn::Sub": "${Api}/${Api.RootResourceId}/${AWS::AccountId}/${!Literal}"},
        "SubVars": {"Fn::Sub": ["${x}-${Mode}", {"x": "y"}]},
        "If": {"Fn::If": ["IsB", "yes", {"Ref": "AWS::NoValue"}]},
        "Gone": {"Fn::If": ["IsB", {"Ref": "AWS::NoValue"}, "no"]},
        "Select": {"Fn::Select": [1, {"Fn::Split": [",", "a,b,c"]}]},
        "List": ["a", {"Ref": "AWS::NoValue"}, "b"],
    }
    assert ev.evaluate(node) == {
        "Url": "https://abc123.execute-api.us-east-1",
        "Sub": "abc123/r00t/111122223333/${Literal}",
        "SubVars": "y-B",
        "If": "yes",
        "Select": "b",
        "List": ["a", "b"],
    }
    assert ev.evaluate({"Ref": "AWS::NoValue"}) is NO_VALUE


def test_resources_come_after_what_they_refer_to_and_cycles_are_refused():
    resources = {
        "Fn": {"Properties": {"Role": {"Fn::GetAtt": ["Role", "Arn"]}}, "DependsOn": "Policy"},
        "Policy": {"Properties": {"Roles": [{"Ref": "Role"}]}},
        "Role": {"Properties": {}},
        "Custom": {"Properties": {"ServiceToken": {"Fn::Sub": "${Fn.Arn}"}}},
    }
    order = creation_order(resources)
    assert order.index("Role") < order.index("Policy") < order.index("Fn") < order.index("Custom")
    with pytest.raises(TemplateError, match="Circular dependency"):
        creation_order({"A": {"Properties": {"x": {"Ref": "B"}}}, "B": {"Properties": {"y": {"Ref": "A"}}}})


def test_dynamic_references_resolve_from_the_account_secret():
    stored = {
        "arn:aws:secretsmanager:us-east-1:111122223333:secret:key-AbCdEf": json.dumps({"secret_key": SECRET}),
        "plain": "just-text",
    }
    node = {
        "A": "{{resolve:secretsmanager:arn:aws:secretsmanager:us-east-1:111122223333:secret:key-AbCdEf"
        ":SecretString:secret_key}}",
        "B": ["x-{{resolve:secretsmanager:plain}}-y"],
    }
    assert resolve_dynamic(node, stored.__getitem__) == {"A": SECRET, "B": ["x-just-text-y"]}
    with pytest.raises(TemplateError, match="JSONKey"):
        resolve_dynamic("{{resolve:secretsmanager:plain:SecretString:missing}}", lambda _s: "{}")


# -- the custom-resource protocol -------------------------------------------------------------------
REQUEST = {
    "RequestType": "Create",
    "StackId": "arn:aws:cloudformation:us-east-1:111122223333:stack/s/1",
    "RequestId": "req-1",
    "LogicalResourceId": "Activation",
}


def _answer(**fields) -> bytes:
    body = {
        "Status": "SUCCESS",
        "PhysicalResourceId": "act-1",
        "StackId": REQUEST["StackId"],
        "RequestId": "req-1",
        "LogicalResourceId": "Activation",
        **fields,
    }
    return json.dumps({k: v for k, v in body.items() if v is not None}).encode()


def test_a_good_response_is_read():
    assert CustomerAccounts._read_response(REQUEST, _answer(Data={"ApiKey": "k"})) == (
        "SUCCESS",
        "act-1",
        {"ApiKey": "k"},
        "",
    )


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (_answer(Status="OK"), "Status must be SUCCESS or FAILED"),
        (_answer(Status="FAILED"), "Reason is required when Status is FAILED"),
        (_answer(PhysicalResourceId=""), "PhysicalResourceId"),
        (_answer(PhysicalResourceId="x" * 1025), "PhysicalResourceId"),
        (_answer(RequestId="other"), "RequestId does not match"),
        (_answer(StackId="other"), "StackId does not match"),
        (_answer(Data=["x"]), "Data must be a JSON object"),
        (_answer(Reason="r" * 5000), "exceeds 4096 bytes"),
        (b"not json", "not JSON"),
    ],
)
def test_responses_cloudformation_would_not_accept_fail_the_resource(body, why):
    with pytest.raises(ResourceFailed, match=why):
        CustomerAccounts._read_response(REQUEST, body)


def test_the_response_url_takes_one_put_and_nothing_else(tmp_path: Path):
    vendor = VendorSide(lambda: ({}, "1.0.0"), lambda _n: [], "arn", "http://127.0.0.1:1")
    accounts = CustomerAccounts(
        "http://127.0.0.1:1", "us-east-1", vendor, tmp_path, open(tmp_path / "log", "w")
    )  # noqa: SIM115
    accounts._pending["tok"] = pending = _Pending(REQUEST)
    assert accounts.respond("GET", "tok", b"")[0] == 403
    assert accounts.respond("PUT", "other-token", b"x")[0] == 403
    assert not pending.answered.is_set()
    assert accounts.respond("PUT", "tok", b"first") == (200, "")
    assert accounts.respond("PUT", "tok", b"second")[0] == 403
    assert pending.body == b"first"


# -- SigV4 as API Gateway checks it ------------------------------------------------------------------
KEY, SIGV4_SECRET = "AKIAEXAMPLEKEY000001", "example-secret-key/0123456789abcdefghijkl"


def _signed(
    secret: str = SIGV4_SECRET, *, body: bytes = b'{"text":"hi"}', when: datetime | None = None
) -> dict:
    url = "http://127.0.0.1:4000/prod/analyze?a=1&b=two%20words"
    request = AWSRequest("POST", url, data=body, headers={"Content-Type": "application/json"})
    auth = SigV4Auth(Credentials(KEY, secret), "execute-api", "us-east-1")
    if when is not None:
        request.context["timestamp"] = when.strftime("%Y%m%dT%H%M%SZ")
        request.headers["X-Amz-Date"] = request.context["timestamp"]
        auth._modify_request_before_signing(request)
        canonical = auth.canonical_request(request)
        signature = auth.signature(auth.string_to_sign(request, canonical), request)
        auth._inject_signature_to_request(request, signature)
    else:
        auth.add_auth(request)
    return {"url": url, "headers": dict(request.headers.items()), "body": body}


def _verify(signed: dict, *, body: bytes | None = None, now: datetime | None = None) -> str | None:
    known = {KEY: SIGV4_SECRET}
    return verify_sigv4(
        "POST",
        signed["url"].removeprefix("http://127.0.0.1:4000"),
        {**signed["headers"], "Host": "127.0.0.1:4000"},  # what the HTTP client sends
        signed["body"] if body is None else body,
        known.get,
        "us-east-1",
        now,
    )


def test_sigv4_signed_by_known_credentials_passes():
    assert _verify(_signed()) is None


def test_sigv4_failures_answer_as_api_gateway_does():
    signed = _signed()
    assert (
        _verify({**signed, "headers": {"Content-Type": "application/json"}}) == "Missing Authentication Token"
    )
    assert _verify(_signed("another-secret")) == MISMATCH
    assert _verify(signed, body=b'{"text":"changed"}') == MISMATCH
    unknown = {**signed, "headers": {**signed["headers"]}}
    unknown["headers"]["Authorization"] = unknown["headers"]["Authorization"].replace(
        KEY, "AKIAUNKNOWNKEY000001"
    )
    assert _verify(unknown) == "The security token included in the request is invalid."
    old = _signed(when=datetime.now(UTC) - timedelta(minutes=6))
    assert (_verify(old) or "").startswith("Signature expired:")


def test_template_rules_refuse_with_their_description():
    template = {
        **TEMPLATE,
        "Rules": {
            "OneSource": {
                "Assertions": [
                    {
                        "Assert": {"Fn::Not": [{"Fn::Equals": [{"Ref": "Mode"}, "B"]}]},
                        "AssertDescription": "Mode B is not allowed here",
                    }
                ]
            },
            "Skipped": {
                "RuleCondition": {"Fn::Equals": [{"Ref": "Label"}, "zzz"]},
                "Assertions": [{"Assert": {"Fn::Equals": ["a", "b"]}, "AssertDescription": "never checked"}],
            },
        },
    }
    check_rules(template, validate_parameters(template, GOOD))
    with pytest.raises(TemplateError, match="^Mode B is not allowed here$"):
        check_rules(template, validate_parameters(template, {**GOOD, "Mode": "B"}))
