"""The silent-usage job in the vendor template (constructs/silent_usage.py): hourly, reads the
platform-data table by Scan only, and an alarm fires on the first silent stack."""

from __future__ import annotations

import json


def _of_type(template: dict, kind: str) -> dict:
    return {k: r for k, r in template["Resources"].items() if r["Type"] == kind}


def test_an_alarm_fires_on_the_first_silent_stack(vendor_template) -> None:
    [alarm] = [
        r["Properties"]
        for r in _of_type(vendor_template, "AWS::CloudWatch::Alarm").values()
        if r["Properties"].get("MetricName") == "SilentActivations"
    ]
    assert (alarm["Namespace"], alarm["Threshold"], alarm["EvaluationPeriods"]) == ("Vendstack", 1, 1)
    assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert alarm["Dimensions"] == [{"Name": "service", "Value": "activations"}]
    assert alarm["Period"] == 3600


def test_the_job_runs_hourly_and_may_only_scan_the_data_table(vendor_template) -> None:
    functions = _of_type(vendor_template, "AWS::Lambda::Function")
    [(logical_id, job)] = [
        (k, r)
        for k, r in functions.items()
        if r["Properties"]["Handler"] == "activations.handlers.silence_job.handler"
    ]
    variables = job["Properties"]["Environment"]["Variables"]
    assert json.loads(variables["VS_PRODUCT"])["silent_after_hours"] == 24
    rules = [
        r["Properties"]
        for r in _of_type(vendor_template, "AWS::Events::Rule").values()
        if any(t["Arn"] == {"Fn::GetAtt": [logical_id, "Arn"]} for t in r["Properties"].get("Targets", []))
    ]
    assert [r["ScheduleExpression"] for r in rules] == ["rate(1 hour)"]
    role = job["Properties"]["Role"]["Fn::GetAtt"][0]
    statements = [
        s
        for p in _of_type(vendor_template, "AWS::IAM::Policy").values()
        if {"Ref": role} in p["Properties"]["Roles"]
        for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]
    dynamodb = {
        a
        for s in statements
        for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
        if a.startswith("dynamodb:")
    }
    assert dynamodb == {"dynamodb:Scan"}
