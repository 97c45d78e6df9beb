"""The security gates bite: a dropped cdk-nag acknowledgement fails the synth, cfn-lint
fails on a broken template and passes on every template the project writes."""

from __future__ import annotations

import json

import pytest

from tests.plugins import cfn_lint
from tests.plugins.synth import synth_app


@pytest.mark.slow(
    reason="cfn-lint loads every resource schema first (a pass of the same templates is remembered)"
)
def test_cfn_lint_passes_every_template_the_project_writes(tmp_path, vendor_template, customer_template):
    from customer_stack.render import render_template

    rendered = render_template(
        customer_template,
        api_url="https://abcde12345.execute-api.us-east-1.amazonaws.com/prod",
        public_key_b64="MII" + "A" * 389 + "==",
        signing_profile_version_arn="arn:aws:signer:us-east-1:444455556666:/signing-profiles/Vendstack/abcdef1234",
        release_version="1.0.0",
    )
    files = []
    for name, body in [("vendor", vendor_template), ("customer", customer_template), ("rendered", rendered)]:
        path = tmp_path / f"{name}.template.json"
        path.write_text(json.dumps(body))
        files.append(path)
    result = cfn_lint.run_unless_passed(*files)  # the same three templates pass once per change
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow(reason="cfn-lint loads every CloudFormation resource schema before it reads a template")
def test_cfn_lint_bites(tmp_path, customer_template):
    broken = json.loads(json.dumps(customer_template))
    bucket = next(k for k, r in broken["Resources"].items() if r["Type"] == "AWS::S3::Bucket")
    broken["Resources"][bucket]["Properties"]["VersioningConfiguration"] = {"Status": "Sometimes"}
    path = tmp_path / "broken.template.json"
    path.write_text(json.dumps(broken))
    result = cfn_lint.run(path)
    assert result.returncode != 0
    assert "Sometimes" in result.stdout


@pytest.mark.slow(
    reason="a fresh synth of the customer stack with cdk-nag (it patches the code: no synth cache)"
)
def test_dropping_one_acknowledgement_fails_the_synth(tmp_path, monkeypatch):
    import stacks.nag as nag

    real_ack = nag.ack
    dropped = []

    def ack_except_one(stack, path, rule, reason):
        if rule == "AwsSolutions-SMG4" and not dropped:
            dropped.append(path)
            return
        real_ack(stack, path, rule, reason)

    monkeypatch.setattr(nag, "ack", ack_except_one)
    with pytest.raises(Exception, match="ValidationFailed"):
        synth_app(tmp_path / "out", stacks=("VendstackCustomer",))  # the stack that holds the secret
    assert dropped == ["ApiKeySecret/Resource"]
    report = json.loads((tmp_path / "out" / "validation-report.json").read_text())
    assert "AwsSolutions-SMG4" in json.dumps(report)


def test_acknowledgement_must_name_one_resource(tmp_path):
    import aws_cdk as cdk

    from stacks.nag import ack

    stack = cdk.Stack(cdk.App(outdir=str(tmp_path)), "S")
    cdk.aws_sqs.Queue(stack, "Queue")
    with pytest.raises(TypeError, match="one CloudFormation resource"):
        ack(stack, "Queue", "AwsSolutions-SQS3", "a whole construct is too broad")
