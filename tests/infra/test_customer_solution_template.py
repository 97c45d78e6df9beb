"""The customer template follows `vendstack.solution.functions`: a vendor's own function (not the
sample) gets its handler, memory, timeout, environment, the code-signing config, its staged artifact
and the usage queue; the cdk-nag gate still passes."""

from __future__ import annotations

import dataclasses
import json
from typing import TYPE_CHECKING

import pytest

from stacks.config import ROOT, parse_config
from tests.solution_fixtures import vendor_service

if TYPE_CHECKING:
    from aws_cdk.assertions import Template


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Template:
    import aws_cdk as cdk
    from aws_cdk.assertions import Template
    from cdk_nag import AwsSolutionsChecks, ServerlessChecks

    from stacks.customer import CustomerStack
    from stacks.nag import acknowledge_customer_findings

    context = json.loads((ROOT / "cdk.json").read_text())["context"]
    config = dataclasses.replace(
        parse_config(context["vendstack"]), solution=vendor_service(tmp_path_factory.mktemp("vendor"))
    )
    # As in every test synth (tests/plugins/synth.py): no asset copies, no built-in CFN validation.
    app = cdk.App(
        context={**context, "aws:cdk:disable-asset-staging": True},
        outdir=str(tmp_path_factory.mktemp("cdk.out")),
        builtin_cloud_formation_validation=False,
    )
    stack = CustomerStack(app, "VendorSolution", config=config, synthesizer=cdk.BootstraplessSynthesizer())
    acknowledge_customer_findings(stack)
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app), ServerlessChecks(app))
    app.synth()  # fails on any cdk-nag finding not acknowledged
    return Template.from_stack(stack)


@pytest.mark.slow(reason="its fixture synthesizes a customer stack around a vendor service that pip builds")
def test_the_vendor_function_is_configured_signed_and_staged(template: Template) -> None:
    functions = template.find_resources("AWS::Lambda::Function", {"Properties": {"Handler": "app.handler"}})
    assert len(functions) == 1
    (props,) = [f["Properties"] for f in functions.values()]
    assert props["MemorySize"] == 256 and props["Timeout"] == 30 and props["Runtime"] == "python3.14"
    assert props["Environment"]["Variables"]["GREETING"] == "hello"
    assert "USAGE_QUEUE_URL" in props["Environment"]["Variables"]
    (signing_config,) = template.find_resources("AWS::Lambda::CodeSigningConfig")
    assert props["CodeSigningConfigArn"] == {"Fn::GetAtt": [signing_config, "CodeSigningConfigArn"]}
    assert props["Code"]["S3Key"]["Fn::GetAtt"][1] == "WorkerKey"


def test_the_sample_is_gone_and_the_api_serves_the_vendor_function(template: Template) -> None:
    assert (
        template.find_resources("AWS::Lambda::Function", {"Properties": {"Handler": "handler.handler"}}) == {}
    )
    template.resource_count_is("AWS::ApiGateway::RestApi", 1)
    template.has_output("SolutionApiUrl", {})
    template.has_resource_properties(
        "AWS::Lambda::CodeSigningConfig",
        {"CodeSigningPolicies": {"UntrustedArtifactOnDeployment": "Enforce"}},
    )
