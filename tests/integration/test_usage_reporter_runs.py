"""The reporter against floods and overlap (issue 9 item 5, issue 8 item 4).

A vendor that answers 429/503 for a while is outlasted: within a run for as long as its time
allows, across runs until the record's window closes, and then the record goes to the
dead-letter queue, never silently. Two runs over the same queue at once (the function has no
reserved concurrency) neither lose nor double-count anything.

Same world as test_usage_pipeline (`tests.plugins.reporter_world`): SQS and Secrets Manager on moto
in server mode, the vendor a local http.server implementing docs/protocol.md §4.2.
"""

import json
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from customer_stack.usage import recorder, reporter
from tests.plugins.reporter_world import Context, invocations, log_events, run_reporter

pytestmark = pytest.mark.usefixtures("no_secret_in_logs")


@pytest.fixture
def ticking(monkeypatch):
    """A Lambda context whose remaining time goes down by each backoff sleep (not slept)."""
    context = Context(300)
    slept = []

    def sleep(seconds):
        slept.append(seconds)
        context.ms -= int(seconds * 1000)

    monkeypatch.setattr(reporter.sending, "_sleep", sleep)
    context.slept = slept
    return context


# --- floods ---------------------------------------------------------------------------------------


def test_a_flood_of_429_is_outlasted_within_the_run_honouring_retry_after(account, vendor, ticking):
    truth = invocations(5)
    vendor.retry_after = "3"
    vendor.script.extend(["429"] * 8 + ["503"] * 4)  # far more failures than a fixed few attempts
    summary = run_reporter(context=ticking)
    assert summary["accepted"] == 2 and summary["left_for_retry"] == 0
    assert summary["vendor_requests"] == 13
    assert all(s >= 3 for s in ticking.slept[:8])  # Retry-After is a floor
    waits = ticking.slept[8:]
    assert len(set(waits)) == len(waits)  # jittered: reporters do not come back in step
    assert vendor.totals() == dict(truth) and account.messages() == []


def test_a_flood_longer_than_a_run_is_outlasted_across_runs(account, vendor, ticking, caplog):
    truth = invocations(6)
    vendor.mode = "503"
    first = run_reporter(context=ticking)
    assert first["vendor"] == "time_guard" and first["vendor_requests"] > 4
    assert ticking.ms / 1000 >= reporter.sending.FINAL_RESERVE_S  # it stopped in time to settle
    assert first["checkpointed"] == 2 and account.pending_usage() == dict(truth)
    assert log_events(caplog, "usage_vendor_out_of_time")

    vendor.retry_after = "30"
    vendor.mode = "429"
    second = run_reporter(context=Context(300))
    assert second["left_for_retry"] == 2 and account.pending_usage() == dict(truth)
    assert second["dead_lettered"] == 0  # still inside the window: kept, not given up

    vendor.mode = "ok"
    third = run_reporter(context=Context(300))
    assert third["accepted"] == 2 and third["left_for_retry"] == 0
    assert vendor.totals() == dict(truth) and account.messages() == []
    assert account.dead_letters() == []


def test_a_retry_after_longer_than_the_run_is_left_for_the_next_run(account, vendor, ticking):
    truth = invocations(3)
    vendor.retry_after = "600"  # longer than the 300 s the run has
    vendor.mode = "429"
    first = run_reporter(context=ticking)
    assert first["vendor"] == "time_guard" and first["vendor_requests"] == 1  # it did not retry early
    assert ticking.slept == [] and first["checkpointed"] == 2
    vendor.mode = "ok"
    second = run_reporter(context=Context(300))
    assert second["accepted"] == 2 and vendor.totals() == dict(truth) and account.messages() == []


def test_usage_still_unreported_when_its_window_closes_goes_to_the_dead_letter_queue(
    account, vendor, ticking, monkeypatch, caplog
):
    now = datetime.now(UTC)
    recorder.record({"requests": 4, "characters": 40}, at=now - timedelta(hours=5))
    fresh = invocations(2)
    vendor.mode = "503"
    first = run_reporter(context=ticking)
    assert first["checkpointed"] >= 3 and first["expired"] == 0

    monkeypatch.setattr(reporter.report, "_now", lambda: now + timedelta(hours=1, minutes=5))
    vendor.mode = "ok"
    second = run_reporter(context=Context(300))
    assert second["expired"] == 2 and second["dead_lettered"] == 2
    assert vendor.totals() == dict(fresh)  # the fresh hour is billed, the closed one never sent
    dead = {
        json.loads(body)["record"]["dimension"]: (json.loads(body)["record"]["quantity"], why)
        for body, why in account.dead_letters()
    }
    assert dead == {"requests": (4, "expired"), "characters": (40, "expired")}
    assert account.messages() == []
    assert {e["dimension"] for e in log_events(caplog, "usage_record_expired")} == {"requests", "characters"}


def test_the_window_comes_from_the_environment_the_template_sets(account, vendor, monkeypatch):
    now = datetime.now(UTC)
    recorder.record({"requests": 2}, at=now - timedelta(hours=3))
    monkeypatch.setenv("USAGE_WINDOW_HOURS", "2")
    summary = run_reporter()
    assert summary["expired"] == 1 and vendor.requests == []
    monkeypatch.delenv("USAGE_WINDOW_HOURS")
    with pytest.raises(reporter.ReporterError):
        reporter.load_config()


# --- overlapping runs -----------------------------------------------------------------------------


class Held:
    """Holds the first vendor request (of run A) until the test lets it go."""

    def __init__(self, vendor):
        self.inside, self.go, self.calls = threading.Event(), threading.Event(), 0
        self.lock = threading.Lock()
        vendor.on_request = self

    def __call__(self):
        with self.lock:
            self.calls += 1
            first = self.calls == 1
        if first:
            self.inside.set()
            assert self.go.wait(60)


def _in_thread(fn):
    out = {}

    def target():
        try:
            out["value"] = fn()
        except BaseException as exc:  # surfaced by the test
            out["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread, out


def test_a_run_inside_another_run_neither_loses_nor_double_counts(account, vendor, sleeps):
    truth = invocations(30)  # 60 messages
    held = Held(vendor)
    thread_a, a = _in_thread(lambda: run_reporter(context=Context(300)))
    assert held.inside.wait(60)  # run A has drained the queue and is talking to the vendor
    truth += invocations(10, start=30)  # the solution goes on: 20 new messages
    b = run_reporter(context=Context(300))  # run B, entirely inside run A
    assert b["messages_read"] == 20  # A's 60 messages stay A's: invisible to B
    held.go.set()
    thread_a.join(60)
    assert "error" not in a, a.get("error")
    a = a["value"]
    assert a["messages_read"] == 60 and a["left_for_retry"] == 0 and b["left_for_retry"] == 0
    assert vendor.totals() == dict(truth)  # every event once: nothing lost, nothing twice
    assert account.messages() == []


def test_overlapping_runs_with_a_failing_vendor_checkpoint_and_recover_exactly(account, vendor, sleeps):
    truth = invocations(20)
    held = Held(vendor)
    context_a = Context(120)
    thread_a, a = _in_thread(lambda: run_reporter(context=context_a))
    assert held.inside.wait(60)
    truth += invocations(5, start=20)
    b = run_reporter(context=Context(300))
    assert b["accepted"] >= 2 and b["left_for_retry"] == 0

    vendor.mode = "503"  # the vendor fails run A from here on, until A's time is up

    def tick():
        context_a.ms -= 30_000

    held_calls = held

    def on_request():
        held_calls()
        tick()

    vendor.on_request = on_request
    held.go.set()
    thread_a.join(60)
    assert "error" not in a, a.get("error")
    a = a["value"]
    assert a["left_for_retry"] >= 2 and a["checkpointed"] >= 2
    vendor.on_request = None
    vendor.mode = "ok"
    c = run_reporter(context=Context(300))  # the next run sends A's checkpoints under their own ids
    assert c["left_for_retry"] == 0 and c["checkpoints_read"] == a["checkpointed"]
    assert vendor.totals() == dict(truth)
    assert account.messages() == []
    again = run_reporter(context=Context(300))
    assert again["messages_read"] == 0 and vendor.totals() == dict(truth)


def test_two_runs_started_together_share_the_queue_exactly(account, vendor):
    truth = invocations(60)  # 120 messages
    start = threading.Barrier(2)

    def run():
        start.wait(30)
        return run_reporter(context=Context(300))

    runs = [_in_thread(run) for _ in range(2)]
    for thread, _ in runs:
        thread.join(120)
    results = [out["value"] for _, out in runs]
    assert all(r["left_for_retry"] == 0 for r in results)
    assert sum(r["messages_read"] for r in results) == 120  # each message read by one run only
    assert vendor.totals() == dict(truth)
    assert sum(Counter(r["dimension"] for r in vendor.records.values()).values()) == sum(
        r["accepted"] for r in results
    )
    assert account.messages() == []
