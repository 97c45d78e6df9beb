"""The customer-side usage path end to end: recorder -> SQS -> reporter -> vendor usage API.

SQS and Secrets Manager are moto in server mode (real HTTP, the same boto3 calls); the vendor's
usage API is a local http.server that implements docs/protocol.md §4.2 minimally: it verifies the VS1
signature with the project's signing module, dedupes by record id, rejects too-old records and
unknown dimensions, and can be told to answer 503/429 or to drop the connection after it has
counted a batch (a lost response; `tests.plugins.fake_vendor`). Nothing leaves 127.0.0.1.

moto's SQS scans every message of a queue with a slow clock on each call (quadratic in queue
size); the `moto_url` fixture (`tests.plugins.reporter_world`) swaps that clock for time.time(),
same semantics, so 1,000-message tests stay fast. The 100k-event measurement is in `make bench`
(`tests/bench/reporter.py`).
"""

import json
import logging
from collections import Counter
from datetime import UTC, datetime, timedelta

import boto3
import pytest

from customer_stack.solution.api.handler import usage_for
from customer_stack.usage import recorder, reporter
from tests.plugins.fake_vendor import SECRET_KEY, FakeVendor
from tests.plugins.reporter_world import REGION, Context, dead_url, invocations, log_events, run_reporter

pytestmark = pytest.mark.usefixtures("no_secret_in_logs")


# --- the recorder on a real queue ---------------------------------------------------------------


def test_recorder_puts_pre_aggregated_events_on_the_queue(account):
    @recorder.metered(lambda event, result: usage_for(event["text"]))
    def handler(event, context=None):
        return {"statusCode": 200}

    for text in ("a" * 10, "b" * 2500, "c"):
        assert handler({"text": text}) == {"statusCode": 200}
    with recorder.record_usage() as usage:
        for _ in range(50):
            usage.add("requests")
            usage.add("characters", 2)
    events = [json.loads(b) for b in account.messages()]
    assert len(events) == 8  # 3 invocations x 2 dimensions + 2 pre-aggregated
    assert {(e["dimension"], e["quantity"]) for e in events} >= {("requests", 50), ("characters", 100)}
    assert sum(e["quantity"] for e in events if e["dimension"] == "characters") == 1 + 3 + 1 + 100
    assert len({e["event_id"] for e in events}) == 8


def test_an_unreachable_queue_does_not_break_the_request(account, monkeypatch, caplog):
    monkeypatch.setenv("USAGE_QUEUE_URL", account.queue_url + "-gone")

    @recorder.metered(lambda event, result: {"requests": 1})
    def handler(event, context=None):
        return {"statusCode": 200}

    assert handler({}) == {"statusCode": 200}
    [lost] = log_events(caplog, "usage_not_enqueued")
    assert lost["events"][0]["dimension"] == "requests" and lost["reason"]


# --- the reporter ---------------------------------------------------------------------------------


@pytest.mark.slow(reason="1,000 SQS messages sent, received and deleted through moto's server over HTTP")
def test_1000_events_in_one_hour_become_2_records(account, vendor):
    truth = Counter()
    events = []
    for i in range(500):  # 500 invocations x 2 dimensions = 1,000 event messages
        usage = recorder.Usage()
        amounts = usage_for("y" * (1 + i * 7))
        usage.add_all(amounts)
        truth.update(amounts)
        events.extend(usage.take_events())
    hours = {reporter.records.hour_of(e["timestamp"]) for e in events}
    if len(hours) > 1:  # the clock crossed an hour while recording: the test would be about 4
        pytest.skip("recorded across an hour boundary")
    assert recorder.enqueue(events) == 1000
    summary = run_reporter()
    # SQS delivers at least once (a redelivered batch was seen under heavy load): the events count
    # is what must be exact, and duplicates are deduplicated by event_id.
    assert summary["messages_read"] >= 1000 and summary["events"] == 1000
    assert summary["records"] == 2 and summary["accepted"] == 2 and summary["left_for_retry"] == 0
    assert summary["messages_deleted"] == 1000 and summary["receive_stop"] == "drained"
    assert [r["records"] for r in vendor.requests] == [2]
    assert vendor.totals() == dict(truth)
    assert account.messages() == []


def test_vendor_outage_keeps_everything_and_reports_it_once_after_recovery(
    account, vendor, sleeps, monkeypatch, caplog
):
    truth = invocations(20)
    monkeypatch.setenv("VENDOR_API_URL", dead_url())
    down = run_reporter()
    assert down["vendor"] == "unavailable" and down["vendor_requests"] == reporter.sending.MAX_ATTEMPTS
    assert len(sleeps) == reporter.sending.MAX_ATTEMPTS - 1
    assert down["left_for_retry"] == 2 and down["checkpointed"] == 2 and down["accepted"] == 0
    assert account.pending_usage() == dict(truth)  # nothing lost: 40 events, now 2 checkpoints
    assert len(account.messages()) == 2
    assert log_events(caplog, "usage_vendor_unavailable")

    truth += invocations(5, start=20)  # the solution keeps working meanwhile
    still_down = run_reporter()
    assert still_down["left_for_retry"] == 4 and account.pending_usage() == dict(truth)
    assert still_down["messages_released"] == 2  # the old checkpoints, visible again at once

    monkeypatch.setenv("VENDOR_API_URL", vendor.base_url)
    up = run_reporter()
    assert up["vendor"] == "ok" and up["accepted"] == 4 and up["duplicates"] == 0
    assert up["left_for_retry"] == 0 and account.messages() == []
    assert vendor.totals() == dict(truth)
    again = run_reporter()
    assert again["messages_read"] == 0 and again["vendor"] == "not_called"
    assert vendor.totals() == dict(truth)


def test_a_lost_response_is_retried_as_a_duplicate_never_a_second_charge(account, vendor, sleeps):
    truth = invocations(30)
    vendor.mode = "drop"  # the vendor counts the batch, then the connection drops
    lost = run_reporter()
    assert lost["vendor"] == "unavailable" and lost["left_for_retry"] == 2
    assert vendor.totals() == dict(truth)  # already counted once, by the first attempt
    assert sum(r["status"] == 200 for r in vendor.requests) == reporter.sending.MAX_ATTEMPTS

    vendor.mode = "ok"
    truth += invocations(3, start=30)  # new events of the same hour: a new record, not a collision
    retry = run_reporter()
    assert retry["duplicates"] == 2 and retry["accepted"] == 2 and retry["left_for_retry"] == 0
    assert vendor.totals() == dict(truth)  # true totals: nothing counted twice, nothing dropped
    assert account.messages() == []


def test_a_retry_within_the_run_after_a_lost_response_is_a_duplicate(account, vendor, sleeps):
    truth = invocations(10)
    vendor.script.extend(["drop"])
    summary = run_reporter()
    assert summary["duplicates"] == 2 and summary["accepted"] == 0 and len(sleeps) == 1
    assert vendor.totals() == dict(truth) and account.messages() == []


def test_events_spanning_two_hours_give_two_records_per_dimension(account, vendor):
    now = datetime.now(UTC)
    earlier = now - timedelta(hours=1)
    truth = invocations(6, at=earlier) + invocations(4, at=now, start=6)
    summary = run_reporter()
    assert summary["records"] == 4 and summary["accepted"] == 4
    hours = Counter((r["dimension"], r["timestamp"]) for r in vendor.records.values())
    assert len(hours) == 4 and set(hours.values()) == {1}
    assert {ts for _, ts in hours} == {
        earlier.strftime("%Y-%m-%dT%H:00:00Z"),
        now.strftime("%Y-%m-%dT%H:00:00Z"),
    }
    assert vendor.totals() == dict(truth)


@pytest.mark.slow(reason="600 aggregates through moto's SQS server and several signed requests")
def test_more_than_500_aggregates_are_split_into_several_requests(account, monkeypatch):
    dimensions = [f"d{i:03}" for i in range(300)]
    vendor = FakeVendor(dimensions=dimensions)
    monkeypatch.setenv("VENDOR_API_URL", vendor.base_url)
    try:
        now = datetime.now(UTC)
        usage = recorder.Usage()
        for dimension in dimensions:
            usage.add(dimension, 2, at=now - timedelta(hours=1))
            usage.add(dimension, 3, at=now)
        assert recorder.flush(usage) == 600
        summary = run_reporter()
        assert summary["records"] == 600 and summary["accepted"] == 600
        assert len(vendor.requests) >= 2
        assert all(r["records"] <= 500 and r["bytes"] <= 64 * 1024 for r in vendor.requests)
        assert sum(vendor.totals().values()) == 300 * 5
        assert account.messages() == []
    finally:
        vendor.stop()


def test_rejected_and_expired_records_go_to_the_dead_letter_queue_never_silently(account, vendor, caplog):
    now = datetime.now(UTC)
    recorder.record({"requests": 3}, at=now)
    recorder.record({"requests": 5}, at=now - timedelta(hours=8))  # outside the 6 h window: not sent
    recorder.record({"gpu_seconds": 9}, at=now)  # not a dimension of this product: the vendor refuses
    summary = run_reporter()
    assert (summary["accepted"], summary["rejected"], summary["expired"]) == (1, 1, 1)
    assert summary["left_for_retry"] == 0 and summary["dead_lettered"] == 2
    assert [r["records"] for r in vendor.requests] == [2]  # the expired one was never sent
    assert account.messages() == []  # retrying cannot change the answer: off the queue ...
    dead = sorted((json.loads(body)["record"]["quantity"], why) for body, why in account.dead_letters())
    assert dead == [(5, "expired"), (9, "rejected")]  # ... and kept, alarmed, on the DLQ
    [rejected] = log_events(caplog, "usage_record_rejected")
    assert (rejected["dimension"], rejected["quantity"], rejected["code"]) == (
        "gpu_seconds",
        9,
        "UnknownDimension",
    )
    [expired] = log_events(caplog, "usage_record_expired")
    assert (expired["quantity"], expired["window_hours"]) == (5, 6)
    assert all(
        r.levelno == logging.ERROR
        for r in caplog.records
        if "usage_record_rejected" in r.getMessage() or "usage_record_expired" in r.getMessage()
    )
    assert vendor.totals() == {"requests": 3}
    # A redrive from the DLQ to the source queue replays a record in the checkpoint format.
    body, _ = account.dead_letters()[0]
    assert reporter.records.parse_message(body)[0] == "checkpoint"


def test_throttling_honours_retry_after_and_5xx_backs_off(account, vendor, sleeps):
    truth = invocations(5)
    vendor.retry_after = "7"
    vendor.script.extend(["429", "503"])
    summary = run_reporter()
    assert summary["accepted"] == 2 and summary["vendor_requests"] == 3
    assert 7 <= sleeps[0] <= 8  # Retry-After is a floor, plus jitter
    assert 0 <= sleeps[1] <= 2  # full jitter: a random wait up to base (1 s) · 2^1
    assert vendor.totals() == dict(truth)


def test_a_refused_key_keeps_the_usage_for_later(account, vendor, sleeps):
    truth = invocations(4)
    other = json.dumps({"access_key": "VSAKSOMEONEELSE23456", "secret_key": SECRET_KEY})
    boto3.client("secretsmanager", region_name=REGION).put_secret_value(
        SecretId=account.secret_arn, SecretString=other
    )
    summary = run_reporter()
    assert summary["vendor"] == "refused:InvalidAccessKey" and summary["vendor_requests"] == 1
    assert summary["left_for_retry"] == 2 and account.pending_usage() == dict(truth)
    assert sleeps == []


def test_time_guard_stops_receiving_and_the_rest_waits_for_the_next_run(account, vendor):
    truth = invocations(50)  # 100 messages
    context = Context(120)

    class ClockedSqs:  # every receive call costs 10 s of Lambda time
        def __init__(self, inner):
            self.inner = inner

        def receive_message(self, **kw):
            context.ms -= 10_000
            return self.inner.receive_message(**kw)

        def __getattr__(self, name):
            return getattr(self.inner, name)

    first = run_reporter(context=context, sqs=ClockedSqs(account.sqs))
    assert first["receive_stop"] == "time_guard" and first["messages_read"] == 60
    assert first["left_for_retry"] == 0 and len(account.messages()) == 40
    assert sum(vendor.totals().values()) + sum(account.pending_usage().values()) == sum(truth.values())
    second = run_reporter(context=Context(300))
    assert second["messages_read"] == 40 and second["receive_stop"] == "drained"
    assert vendor.totals() == dict(truth) and account.messages() == []


def test_too_little_time_left_receives_nothing(account, vendor):
    invocations(3)
    summary = run_reporter(context=Context(reporter.usage_queue.RECEIVE_RESERVE_S - 1))
    assert summary["receive_stop"] == "time_guard" and summary["messages_read"] == 0
    assert len(account.messages()) == 6 and vendor.requests == []


def test_time_guard_stops_vendor_retries_and_checkpoints_in_time(account, vendor, sleeps):
    truth = invocations(5)
    context = Context(200)
    vendor.mode = "503"

    def slow():  # each vendor request costs 60 s of Lambda time
        context.ms -= 60_000

    vendor.on_request = slow
    summary = run_reporter(context=context)
    assert summary["vendor"] == "time_guard" and summary["vendor_requests"] < reporter.sending.MAX_ATTEMPTS
    assert context.ms / 1000 >= reporter.sending.FINAL_RESERVE_S  # time was left to settle
    assert summary["checkpointed"] == 2 and account.pending_usage() == dict(truth)


def test_malformed_messages_go_to_the_dead_letter_queue(account, vendor, caplog):
    account.sqs.send_message(QueueUrl=account.queue_url, MessageBody="not usage")
    truth = invocations(2)
    summary = run_reporter()
    assert summary["malformed"] == 1 and summary["accepted"] == 2 and summary["dead_lettered"] == 1
    assert account.messages() == [] and account.dead_letters() == [("not usage", "malformed")]
    assert log_events(caplog, "usage_message_malformed")
    assert vendor.totals() == dict(truth)


def test_the_handler_reads_its_configuration_from_the_environment(account, vendor):
    truth = invocations(2)
    summary = reporter.handler({"source": "aws.events"}, Context(300))
    assert summary["accepted"] == 2 and vendor.totals() == dict(truth)


def test_an_unreadable_secret_fails_the_run_before_the_queue_is_touched(account, vendor, monkeypatch, caplog):
    invocations(1)
    monkeypatch.setenv("SECRET_ARN", account.secret_arn + "-gone")
    with pytest.raises(reporter.ReporterError):
        reporter.handler({}, Context(300))
    assert len(account.messages()) == 2 and log_events(caplog, "usage_report_failed")
