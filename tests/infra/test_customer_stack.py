"""Intent of the customer template: standalone, secrets hidden, code-signing enforced."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from customer_stack.render import RenderError, render_template

if TYPE_CHECKING:
    from aws_cdk.assertions import Template

SANDBOX_FLAG = "VS_ACTIVATION_SANDBOX"
RENDER_VALUES = {
    "api_url": "https://abcde12345.execute-api.us-east-1.amazonaws.com/prod",
    "public_key_b64": "MII" + "A" * 389 + "==",
    "signing_profile_version_arn": (
        "arn:aws:signer:us-east-1:444455556666:/signing-profiles/Vendstack/abcdef1234"
    ),
}

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def template(customer_template) -> Template:
    from aws_cdk.assertions import Template

    return Template.from_json(customer_template)


def test_template_stands_alone(customer_template):
    text = json.dumps(customer_template)
    assert "BootstrapVersion" not in customer_template.get("Parameters", {})
    # No CDK bootstrap rule; the one rule is the template's own (one key source, Quick Launch or not)
    assert set(customer_template.get("Rules", {})) == {"OneKeySource"}
    assert "cdk-hnb659fds" not in text
    assert "CDKMetadata" not in text
    assert "aws:asset" not in text


def test_parameters_per_contract(customer_template):
    params = customer_template["Parameters"]
    assert params["SecretKey"]["NoEcho"] is True
    assert params["AccessKey"]["AllowedPattern"] == "^$|^VSAK[A-Z2-7]{16}$"  # empty with Quick Launch
    assert "NoEcho" not in params["AccessKey"]
    for name in ("VendorApiUrl", "VendorPublicKey", "SigningProfileVersionArn", "ReleaseVersion"):
        assert name in params and "Default" not in params[name]  # the render step sets defaults
    interface = customer_template["Metadata"]["AWS::CloudFormation::Interface"]
    grouped = [p for group in interface["ParameterGroups"] for p in group["Parameters"]]
    assert sorted(grouped) == sorted(params)
    assert set(interface["ParameterLabels"]) == set(params)


def test_secret_holds_the_key_pair(template: Template):
    from aws_cdk.assertions import Match

    template.has_resource_properties(
        "AWS::SecretsManager::Secret",
        # The pasted pair, unless Quick Launch gave the key (tests/infra/test_quick_launch_template.py)
        {
            "SecretString": {
                "Fn::If": [
                    "QuickLaunch",
                    Match.any_value(),
                    {"Fn::Join": ["", Match.array_with([{"Ref": "AccessKey"}, {"Ref": "SecretKey"}])]},
                ]
            }
        },
    )


def test_staging_bucket_encrypted_private_ssl_only(template: Template):
    from aws_cdk.assertions import Match

    template.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "BucketEncryption": Match.any_value(),
            "PublicAccessBlockConfiguration": {
                "BlockPublicAcls": True,
                "BlockPublicPolicy": True,
                "IgnorePublicAcls": True,
                "RestrictPublicBuckets": True,
            },
        },
    )
    template.has_resource_properties(
        "AWS::S3::BucketPolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Effect": "Deny",
                                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                            }
                        )
                    ]
                )
            }
        },
    )


def test_activation_resource_answers_well_within_an_hour(template: Template, customer_template):
    template.has_resource_properties("Custom::VendstackActivation", {"ServiceTimeout": "420"})
    fn = next(
        r
        for r in customer_template["Resources"].values()
        if r["Type"] == "AWS::Lambda::Function" and "ZipFile" in r["Properties"]["Code"]
    )
    assert fn["Properties"]["Timeout"] < 420  # the function answers before CloudFormation gives up


def test_activation_code_is_inline_and_is_the_shipped_source(customer_template):
    from constructs.activation import inline_code

    fn = next(
        r
        for r in customer_template["Resources"].values()
        if r["Type"] == "AWS::Lambda::Function" and "ZipFile" in r["Properties"]["Code"]
    )
    assert fn["Properties"]["Code"]["ZipFile"] == inline_code()
    assert fn["Properties"]["Handler"] == "index.handler"


def test_code_signing_enforced_with_vendor_profile_only(template: Template, customer_template):
    template.has_resource_properties(
        "AWS::Lambda::CodeSigningConfig",
        {
            "AllowedPublishers": {"SigningProfileVersionArns": [{"Ref": "SigningProfileVersionArn"}]},
            "CodeSigningPolicies": {"UntrustedArtifactOnDeployment": "Enforce"},
        },
    )
    paid = [
        r
        for r in customer_template["Resources"].values()
        if r["Type"] == "AWS::Lambda::Function" and "S3Bucket" in r["Properties"]["Code"]
    ]
    assert paid, "the paid solution has functions"
    for fn in paid:
        assert "CodeSigningConfigArn" in fn["Properties"]


def test_solution_api_uses_iam_by_default(customer_template):
    assert customer_template["Parameters"]["ApiAuthorization"]["Default"] == "AWS_IAM"
    methods = [r for r in customer_template["Resources"].values() if r["Type"] == "AWS::ApiGateway::Method"]
    conditions = customer_template["Conditions"]
    for method in methods:  # AWS_IAM unless the buyer chose NONE, then the license authorizer
        condition, chosen, default = method["Properties"]["AuthorizationType"]["Fn::If"]
        assert (chosen, default) == ("CUSTOM", "AWS_IAM")
        assert conditions[condition] == {"Fn::Equals": [{"Ref": "ApiAuthorization"}, "NONE"]}
    assert methods


def test_usage_is_queued_and_reported_hourly_by_a_signed_reporter(template: Template, customer_template):
    from aws_cdk.assertions import Match

    resources = customer_template["Resources"]
    reporter = next(
        r
        for r in resources.values()
        if r["Type"] == "AWS::Lambda::Function" and r["Properties"].get("Handler") == "reporter.handler"
    )
    props = reporter["Properties"]
    assert props["Code"]["S3Key"]["Fn::GetAtt"][1] == "UsageReporterKey"
    assert "CodeSigningConfigArn" in props
    variables = props["Environment"]["Variables"]
    assert set(variables) == {
        "USAGE_QUEUE_URL",
        "VENDOR_API_URL",
        "SECRET_ARN",
        "DEAD_LETTER_QUEUE_URL",
        "USAGE_WINDOW_HOURS",
    }
    template.has_resource_properties("AWS::Events::Rule", {"ScheduleExpression": "rate(1 hour)"})
    template.has_resource_properties(
        "AWS::SQS::Queue",
        {
            "SqsManagedSseEnabled": True,
            "RedrivePolicy": {"deadLetterTargetArn": Match.any_value(), "maxReceiveCount": 50},
        },
    )
    api = next(
        r
        for r in resources.values()
        if r["Type"] == "AWS::Lambda::Function" and r["Properties"].get("Handler") == "handler.handler"
    )
    assert "USAGE_QUEUE_URL" in api["Properties"]["Environment"]["Variables"]


def test_no_function_reserves_concurrency(customer_template):
    """A new account's concurrency quota is 10 and Lambda keeps 100 unreserved, so any reservation
    fails the stack there (AWS Lambda Developer Guide, "Configuring reserved concurrency for a
    function"); overlapping reporter runs are made safe instead."""
    functions = {
        name: r["Properties"]
        for name, r in customer_template["Resources"].items()
        if r["Type"] in ("AWS::Lambda::Function", "AWS::Serverless::Function")
    }
    assert functions
    assert {n for n, p in functions.items() if "ReservedConcurrentExecutions" in p} == set()


def test_reporter_reads_the_acceptance_window_from_configuration(customer_template):
    """The reporter gives a record up only once the vendor would refuse it: the window comes from
    cdk.json (`metering.usage_window_hours`), not a constant copied into the reporter."""
    from tests.plugins.synth import load_context

    window = load_context()["vendstack"]["metering"]["usage_window_hours"]
    reporter = next(
        r["Properties"]
        for r in customer_template["Resources"].values()
        if r["Type"] == "AWS::Lambda::Function" and r["Properties"].get("Handler") == "reporter.handler"
    )
    variables = reporter["Environment"]["Variables"]
    assert variables["USAGE_WINDOW_HOURS"] == str(window)
    dead_letters = variables["DEAD_LETTER_QUEUE_URL"]["Ref"]
    policies = [
        r["Properties"]["PolicyDocument"]["Statement"]
        for r in customer_template["Resources"].values()
        if r["Type"] == "AWS::IAM::Policy"
    ]
    target = {"Fn::GetAtt": [dead_letters, "Arn"]}
    sends = [
        s
        for statements in policies
        for s in statements
        if "sqs:SendMessage" in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
        and target in (s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]])
    ]
    assert sends, "the reporter may put given-up records on the dead-letter queue"


def _activation_function(template: dict) -> dict:
    return next(
        r
        for r in template["Resources"].values()
        if r["Type"] == "AWS::Lambda::Function" and "ZipFile" in r["Properties"]["Code"]
    )


def test_release_version_is_a_property_of_the_activation_resource(customer_template):
    """CloudFormation sends Update to a custom resource only when its properties change (AWS docs:
    "Update request for CloudFormation custom resources"): the release is that property."""
    [resource] = [
        r for r in customer_template["Resources"].values() if r["Type"] == "Custom::VendstackActivation"
    ]
    properties = {
        k: v for k, v in resource["Properties"].items() if k not in {"ServiceToken", "ServiceTimeout"}
    }
    assert properties == {"ReleaseVersion": {"Ref": "ReleaseVersion"}}
    param = customer_template["Parameters"]["ReleaseVersion"]
    assert param["Type"] == "String" and "Default" not in param
    assert re.match(param["AllowedPattern"], "1.4.0") and not re.match(param["AllowedPattern"], "1.4")


def test_activation_function_takes_the_vendor_values_from_its_environment(customer_template):
    """Not from the event: whoever may invoke the function cannot aim it elsewhere."""
    variables = _activation_function(customer_template)["Properties"]["Environment"]["Variables"]
    assert variables["VENDOR_API_URL"] == {"Ref": "VendorApiUrl"}
    assert variables["VENDOR_PUBLIC_KEY"] == {"Ref": "VendorPublicKey"}
    assert set(variables) == {"SECRET_ARN", "STAGING_BUCKET", "VENDOR_API_URL", "VENDOR_PUBLIC_KEY"}


def test_render_sets_the_release_version_default(customer_template):
    rendered = render_template(customer_template, release_version="1.4.0", **RENDER_VALUES)
    assert rendered["Parameters"]["ReleaseVersion"]["Default"] == "1.4.0"
    assert "Default" not in customer_template["Parameters"]["ReleaseVersion"]  # the input is left alone
    with pytest.raises(RenderError, match="ReleaseVersion"):
        render_template(customer_template, release_version="1.4", **RENDER_VALUES)


def test_no_template_sets_the_sandbox_flag(customer_template, vendor_template):
    """http to loopback is for the local sandbox only: neither the synthesized nor the rendered
    template (nor the vendor's) gives any function the flag that allows it."""
    from constructs.activation import inline_code

    assert SANDBOX_FLAG in inline_code()  # the flag the activation code reads is this one
    rendered = render_template(customer_template, release_version="1.0.0", **RENDER_VALUES)
    for template in (customer_template, rendered, vendor_template):
        stripped = json.loads(json.dumps(template))
        for resource in stripped["Resources"].values():
            if resource["Type"] == "AWS::Lambda::Function":
                variables = resource["Properties"].get("Environment", {}).get("Variables", {})
                assert SANDBOX_FLAG not in variables
                resource["Properties"]["Code"].pop("ZipFile", None)
        assert SANDBOX_FLAG not in json.dumps(stripped)
