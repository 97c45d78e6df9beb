"""Deploy-time facts of the operations pieces: the CloudWatch dashboard shows what operators need
(per route, per hour), and the lifecycle events read both tables' streams with a safety net."""

from __future__ import annotations

import json


def _of_type(template: dict, kind: str) -> dict[str, dict]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def _dashboard_body(template: dict) -> dict:
    (dashboard,) = _of_type(template, "AWS::CloudWatch::Dashboard").values()
    body = dashboard["Properties"]["DashboardBody"]
    # {"Fn::Join": ["", [parts…]]}: tokens (the API's name, queue names) sit between literal parts.
    parts = body["Fn::Join"][1]
    text = "".join(p if isinstance(p, str) else '"TOKEN"' for p in parts)
    return json.loads(text.replace('""TOKEN""', '"TOKEN"').replace('"TOKEN"TOKEN"', '"TOKEN"'))


def _routes(template: dict) -> set[tuple[str, str]]:
    resources = template["Resources"]

    def path(ref) -> str:
        if isinstance(ref, dict) and "Fn::GetAtt" in ref:
            return ""
        props = resources[ref["Ref"]]["Properties"]
        return f"{path(props['ParentId'])}/{props['PathPart']}"

    return {
        (m["Properties"]["HttpMethod"], path(m["Properties"]["ResourceId"]))
        for m in _of_type(template, "AWS::ApiGateway::Method").values()
        if m["Properties"]["HttpMethod"] != "OPTIONS"
    }


def test_the_dashboard_shows_every_route_per_hour(vendor_template: dict) -> None:
    text = json.dumps(
        vendor_template["Resources"][next(iter(_of_type(vendor_template, "AWS::CloudWatch::Dashboard")))]
    )
    widgets = _dashboard_body(vendor_template)["widgets"]
    titles = [w["properties"]["title"] for w in widgets]
    for wanted in (
        "Requests per route (per hour)",
        "Server errors (5XX) per route (per hour)",
        "Client errors (4XX) per route (per hour)",
        "Latency p99 per route (ms)",
        "Activations (per hour)",
        "Usage records ingested and metered (per hour)",
        "Metering failures and flagged records (per hour)",
        "Dead-letter queue depths (max per hour)",
        "Silent stacks: active, no usage for silent_usage.after_hours (max per hour)",
    ):
        assert wanted in titles, wanted
    assert all(w["properties"]["period"] == 3600 for w in widgets)
    requests = next(w for w in widgets if w["properties"]["title"].startswith("Requests per route"))
    plotted = {
        (m[m.index("Method") + 1], m[m.index("Resource") + 1]) for m in requests["properties"]["metrics"]
    }
    assert plotted == _routes(vendor_template)
    for metric in (
        "MeteringRecordsMetered",
        "UsageRecordsAccepted",
        "MeteringRecordFailed",
        "Activations",
        "SilentActivations",
    ):
        assert metric in text


def test_every_dead_letter_queue_is_on_the_dashboard(vendor_template: dict) -> None:
    queues = [k for k in _of_type(vendor_template, "AWS::SQS::Queue") if "DeadLetters" in k]
    assert len(queues) >= 4  # metering, notices, Marketplace events, lifecycle events
    text = json.dumps(_of_type(vendor_template, "AWS::CloudWatch::Dashboard"))
    for logical in queues:
        assert logical in text, logical


def test_lifecycle_events_read_both_tables_streams_with_retries_and_a_dead_letter_queue(
    vendor_template: dict,
) -> None:
    mappings = list(_of_type(vendor_template, "AWS::Lambda::EventSourceMapping").values())
    streams = [
        m["Properties"] for m in mappings if "StreamArn" in json.dumps(m["Properties"].get("EventSourceArn"))
    ]
    tables = {m["EventSourceArn"]["Fn::GetAtt"][0] for m in streams}
    assert any(t.startswith("DataTable") for t in tables) and any(
        t.startswith("KeyVaultTable") for t in tables
    )
    for props in streams:
        assert props["BisectBatchOnFunctionError"] is True
        assert props["MaximumRetryAttempts"] == 10
        assert "OnFailure" in props["DestinationConfig"]
    for logical in tables:
        spec = vendor_template["Resources"][logical]["Properties"]["StreamSpecification"]
        assert spec == {"StreamViewType": "NEW_AND_OLD_IMAGES"}
    (bus,) = _of_type(vendor_template, "AWS::Events::EventBus").values()
    assert bus["Properties"]["Name"]
