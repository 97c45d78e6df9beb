"""What invokes the platform's non-API functions, read from the template: scheduled rules
(jobs), the Marketplace EventBridge rule, and SQS queues subscribed to Marketplace SNS topics.
The sandbox uses this to run a job on demand and to deliver Marketplace events as AWS would."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

MARKETPLACE_SOURCE = "aws.agreement-marketplace"


def _target_function(arn: Any, functions: set[str]) -> str | None:
    if isinstance(arn, dict) and "Fn::GetAtt" in arn and arn["Fn::GetAtt"][0] in functions:
        return arn["Fn::GetAtt"][0]
    return None


@dataclass
class Triggers:
    jobs: dict[str, str] = field(default_factory=dict)  # job name -> function logical id
    marketplace_rule: str | None = None  # function that gets EventBridge Marketplace events
    marketplace_queue: str | None = None  # function that gets the SNS-in-SQS Marketplace messages


def triggers_from_template(template: dict) -> Triggers:
    resources = template["Resources"]
    functions = {k for k, v in resources.items() if v["Type"] == "AWS::Lambda::Function"}
    found = Triggers()
    for resource in resources.values():
        if resource["Type"] != "AWS::Events::Rule":
            continue
        props = resource["Properties"]
        for target in props.get("Targets", []):
            function = _target_function(target.get("Arn"), functions)
            if function is None:
                continue
            if "ScheduleExpression" in props:
                handler = resources[function]["Properties"]["Handler"]
                found.jobs[handler.split(".")[0]] = function
            elif MARKETPLACE_SOURCE in props.get("EventPattern", {}).get("source", []):
                found.marketplace_rule = function
    subscribed_queues = {
        r["Properties"]["Endpoint"]["Fn::GetAtt"][0]
        for r in resources.values()
        if r["Type"] == "AWS::SNS::Subscription"
        and r["Properties"].get("Protocol") == "sqs"
        and "aws-mp-" in json.dumps(r["Properties"].get("TopicArn"))
    }
    for resource in resources.values():
        if resource["Type"] != "AWS::Lambda::EventSourceMapping":
            continue
        props = resource["Properties"]
        source = props.get("EventSourceArn")
        if isinstance(source, dict) and source.get("Fn::GetAtt", [None])[0] in subscribed_queues:
            found.marketplace_queue = props["FunctionName"]["Ref"]
    return found


def scheduled_event(rule_name: str, now: datetime) -> dict:
    """The EventBridge "Scheduled Event" a schedule rule delivers; `time` is the job's clock."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": "us-east-1",
        "resources": [f"arn:aws:events:us-east-1:123456789012:rule/{rule_name}"],
        "detail": {},
    }


def sqs_event(body: dict, queue_name: str = "marketplace-notifications") -> dict:
    """An SQS event with one record whose body is the SNS envelope (raw delivery off)."""
    return {
        "Records": [
            {
                "messageId": str(uuid.uuid4()),
                "receiptHandle": "sandbox",
                "body": json.dumps(body),
                "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "0"},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": f"arn:aws:sqs:us-east-1:123456789012:{queue_name}",
                "awsRegion": "us-east-1",
            }
        ]
    }
