"""Usage and AWS Marketplace end to end through the sandbox (issue 5): the solution's usage
helper → the customer's SQS queue → the hourly reporter (through a vendor outage) → the usage
API → the metering job → BatchMeterUsage in the Marketplace emulator, exactly once; and a
subscription that ends: grace (activation still works), then inactive (402)."""

from __future__ import annotations

import json
import math
import socket
import sys
import uuid
from datetime import UTC, datetime, timedelta

import boto3
import pytest

from tests.plugins import ROOT
from tests.plugins.admin_calls import activate, customer, iso
from tests.plugins.synth import load_context

sys.path.insert(0, str(ROOT / "runtime"))

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.xdist_group("sandbox"),
    pytest.mark.slow(reason="usage through the reporter, the usage API and the metering job"),
]
TEXTS = ["Good service, great results.", "x" * 2500, "Das ist nicht schlecht, aber langsam."]


@pytest.fixture
def customer_side(sandbox, monkeypatch):
    """The customer's account, in the sandbox's emulated AWS: the usage queue and the key secret."""
    from customer_stack.usage import recorder

    endpoint = sandbox["aws_endpoint_url"]
    session = boto3.session.Session(aws_access_key_id="x", aws_secret_access_key="x", region_name="us-east-1")
    sqs = session.client("sqs", endpoint_url=endpoint)
    queue_url = sqs.create_queue(QueueName=f"usage-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    dead_letters = sqs.create_queue(QueueName=f"usage-dlq-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")
    monkeypatch.setenv("USAGE_QUEUE_URL", queue_url)
    # What the customer template sets: the dead-letter queue and the window from cdk.json.
    monkeypatch.setenv("DEAD_LETTER_QUEUE_URL", dead_letters)
    window = load_context()["vendstack"]["metering"]["usage_window_hours"]
    monkeypatch.setenv("USAGE_WINDOW_HOURS", str(window))
    recorder.reset_client()
    yield session, queue_url
    recorder.reset_client()


def secret_for(session, endpoint: str, key: dict) -> str:
    client = session.client("secretsmanager", endpoint_url=endpoint)
    made = client.create_secret(
        Name=f"textlens-{uuid.uuid4().hex[:8]}",
        SecretString=json.dumps({"access_key": key["access_key"], "secret_key": key["secret_key"]}),
    )
    return made["ARN"]


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_usage_from_the_solution_to_batch_meter_usage_exactly_once(sandbox, api, customer_side, monkeypatch):
    from customer_stack.solution.api.handler import serve as solution
    from customer_stack.usage import reporter

    session, queue_url = customer_side
    who = customer(api, f"{uuid.uuid4().int % 10**12:012d}", label="usage")
    started = datetime.now(UTC)
    for text in TEXTS:
        answer = solution({"httpMethod": "POST", "path": "/analyze", "body": json.dumps({"text": text})})
        assert answer["statusCode"] == 200
    expected = {"requests": len(TEXTS), "characters": sum(math.ceil(len(t) / 1000) for t in TEXTS)}

    monkeypatch.setenv("SECRET_ARN", secret_for(session, sandbox["aws_endpoint_url"], who["key"]))
    # The vendor is unreachable: the reporter retries for as long as the run lasts (its backoff is
    # not slept here), then keeps everything for later.
    monkeypatch.setattr(reporter.sending, "_sleep", lambda _seconds: None)
    monkeypatch.setenv("VENDOR_API_URL", f"http://127.0.0.1:{closed_port()}")
    down = reporter.handler({}, None)
    assert down["accepted"] == 0 and down["left_for_retry"] + down["checkpointed"] >= 1
    status, usage, _ = api.call(
        "GET", f"/v1/usage?from={started:%Y-%m-%d}&to={started:%Y-%m-%d}", headers=who["bearer"]
    )
    assert status == 200 and usage == {"usage": []}

    # Back up: reported once; a second run has nothing left to send.
    monkeypatch.setenv("VENDOR_API_URL", sandbox["api_url"])
    up = reporter.handler({}, None)
    assert up["accepted"] == 2 and up["duplicates"] == 0
    again = reporter.handler({}, None)
    assert again["accepted"] == 0 and again["messages_read"] == 0
    status, usage, _ = api.call(
        "GET", f"/v1/usage?from={started:%Y-%m-%d}&to={started:%Y-%m-%d}", headers=who["bearer"]
    )
    assert {u["dimension"]: u["quantity"] for u in usage["usage"]} == expected

    # The hour is metered once its acceptance window has passed.
    hour = started.replace(minute=0, second=0, microsecond=0)
    job_time = iso(hour + timedelta(hours=4, minutes=2))
    status, summary, _ = api.call("POST", "/_sandbox/jobs/metering", {"now": job_time})
    assert status == 200, summary
    mine = [
        r
        for r in api.call("GET", "/_sandbox/marketplace/metered")[1]["records"]
        if r["aws_account_id"] == who["account"]
    ]
    assert {r["dimension"]: r["quantity"] for r in mine} == expected
    assert all(r["license_arn"] == who["license_arn"] and r["status"] == "Success" for r in mine)
    status, rerun, _ = api.call("POST", "/_sandbox/jobs/metering", {"now": job_time})
    assert status == 200
    again = [
        r
        for r in api.call("GET", "/_sandbox/marketplace/metered")[1]["records"]
        if r["aws_account_id"] == who["account"]
    ]
    assert len(again) == len(mine) == 2


def test_ended_subscription_keeps_working_in_grace_then_stops(sandbox, api):
    who = customer(api, f"{uuid.uuid4().int % 10**12:012d}", label="usage")
    assert activate(api, who)[0] == 200
    status, answer, _ = api.call(
        "POST",
        "/_sandbox/marketplace/events",
        {"type": "purchase-agreement-ended", "aws_account_id": who["account"]},
    )
    assert status == 200, answer
    status, sub, _ = api.call("GET", "/v1/subscription", headers=who["bearer"])
    assert sub["status"] == "grace" and sub["grace_until"]
    assert activate(api, who)[0] == 200  # still works in grace

    # A customer whose agreement ended more than grace_days ago: inactive, and activation is refused.
    old = datetime.now(UTC) - timedelta(days=11)
    assert api.call("POST", "/_sandbox/jobs/notices", {"now": iso(old)})[0] == 200  # moves the sandbox clock
    lapsed = customer(api, f"{uuid.uuid4().int % 10**12:012d}", label="usage")
    api.call(
        "POST",
        "/_sandbox/marketplace/events",
        {"type": "purchase-agreement-ended", "aws_account_id": lapsed["account"]},
    )
    status, sub, _ = api.call("GET", "/v1/subscription", headers=lapsed["bearer"])
    assert sub["status"] == "inactive", sub
    status, answer = activate(api, lapsed)
    assert (status, answer["error"]["code"]) == (402, "SubscriptionInactive")
    api.call("POST", "/_sandbox/jobs/notices", {"now": iso(datetime.now(UTC))})  # clock back to now
