"""Deploy-time facts of Quick Launch on the vendor side: the job, its least-privilege
PutDeploymentParameter grant, its alarms, and the parameter name shared with the customer template."""

from __future__ import annotations

import json

HANDLER = "quicklaunch.handlers.job.handler"


def _job(template: dict) -> tuple[str, dict]:
    [(logical, function)] = [
        (k, v)
        for k, v in template["Resources"].items()
        if v["Type"] == "AWS::Lambda::Function" and v["Properties"].get("Handler") == HANDLER
    ]
    return logical, function


def _statements(template: dict, role_logical: str) -> list[dict]:
    found = []
    for resource in template["Resources"].values():
        if resource["Type"] != "AWS::IAM::Policy":
            continue
        if {"Ref": role_logical} in resource["Properties"].get("Roles", []):
            found.extend(resource["Properties"]["PolicyDocument"]["Statement"])
    return found


def _actions(statement: dict) -> list[str]:
    actions = statement["Action"]
    return [actions] if isinstance(actions, str) else actions


def test_job_runs_every_five_minutes_and_names_the_template_parameter(vendor_template, customer_template):
    logical, function = _job(vendor_template)
    variables = function["Properties"]["Environment"]["Variables"]
    assert variables["VS_DEPLOYMENT_PARAMETER"] in customer_template["Parameters"]
    rules = [
        r
        for r in vendor_template["Resources"].values()
        if r["Type"] == "AWS::Events::Rule"
        and any(t["Arn"] == {"Fn::GetAtt": [logical, "Arn"]} for t in r["Properties"].get("Targets", []))
    ]
    assert [r["Properties"]["ScheduleExpression"] for r in rules] == ["rate(5 minutes)"]


def test_put_deployment_parameter_is_scoped_to_this_products_parameters(vendor_template):
    _, function = _job(vendor_template)
    role = function["Properties"]["Role"]["Fn::GetAtt"][0]
    statements = [
        s for s in _statements(vendor_template, role) if any("aws-marketplace" in a for a in _actions(s))
    ]
    assert [_actions(s) for s in statements] == [["aws-marketplace:PutDeploymentParameter"]]
    resource = json.dumps(statements[0]["Resource"])
    assert "DeploymentParameter:catalogs/AWSMarketplace/products/prod-exampleprodid123/*" in resource
    assert ":us-east-1:" in resource  # the service's one region
    # No other function may put deployment parameters.
    text = json.dumps([r for r in vendor_template["Resources"].values() if r["Type"] == "AWS::IAM::Policy"])
    assert text.count("aws-marketplace:PutDeploymentParameter") == 1


def test_failures_are_alarmed(vendor_template):
    alarms = [
        r["Properties"]
        for r in vendor_template["Resources"].values()
        if r["Type"] == "AWS::CloudWatch::Alarm"
    ]
    failed = [a for a in alarms if a.get("MetricName") == "QuickLaunch_failed"]
    assert len(failed) == 1
    assert failed[0]["Namespace"] == "Vendstack"
    assert failed[0]["Dimensions"] == [{"Name": "service", "Value": "quicklaunch"}]
    descriptions = " ".join(a.get("AlarmDescription", "") for a in alarms)
    assert "quicklaunch job invocations gave up" in descriptions  # the dead-letter queue's alarm
