"""The metering job on moto + the Marketplace emulator: exactly once, crashes, retries, flags."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from metering.dal.marketplace import BatchMeter, sort_errors
from metering.logic.submit import Backoff
from tests.plugins.keys_world import SUB, FakeLambdaContext
from tests.plugins.usage_world import DATA_TABLE, UsageWorld, iso, seed_usage

HOUR = datetime(2026, 11, 22, 10, tzinfo=UTC)  # the hour the usage happened
INGESTED = HOUR + timedelta(hours=1, minutes=5)  # when the customer stack reported it
JOB = HOUR + timedelta(hours=1 + 3, minutes=5)  # hour end + 3 h window + 5 min
ACCOUNT = "111122223333"


class SimulatedCrash(Exception):
    """The function dying (timeout, out of memory) in the middle of a run."""


class CrashOnCall:
    """Passes BatchMeterUsage calls through, but the `crash_on`-th call kills the run: before the
    request leaves (`after=False`) or after Marketplace processed it (`after=True`)."""

    def __init__(self, inner, crash_on: int, *, after: bool = False) -> None:
        self.inner, self.crash_on, self.after, self.calls = inner, crash_on, after, 0

    def __call__(self, records, product_code=None):
        self.calls += 1
        if self.calls == self.crash_on:
            if self.after:
                self.inner(records, product_code)
            raise SimulatedCrash()
        return self.inner(records, product_code)


def customer(i: int) -> tuple[str, str]:
    return str(uuid.UUID(int=i + 1)), f"{100000000000 + i}"


def seed_customers(usage: UsageWorld, count: int, *, dims=("requests", "characters")) -> dict[str, str]:
    accounts = {}
    for i in range(count):
        cid, account = customer(i)
        usage.subscribe(cid, account)
        records = [
            (f"{cid}-{d}", d, 10 * (i + 1) + n, HOUR + timedelta(minutes=n)) for n, d in enumerate(dims)
        ]
        assert seed_usage(cid, records, INGESTED).accepted == len(dims)
        accounts[account] = cid
    return accounts


def statuses(usage: UsageWorld) -> Counter:
    return Counter(i.get("meter_status", "unmetered") for i in usage.hours())


def assert_each_hour_metered_once(usage: UsageWorld, expected: int) -> None:
    keys = usage.metered_keys()
    assert len(keys) == expected
    assert len(set(keys)) == expected, "a customer/dimension/hour was metered twice"


def test_metering_exactly_once_across_runs(usage: UsageWorld) -> None:
    created = usage.subscribe(SUB, ACCOUNT)
    seed_usage(
        SUB,
        [
            ("a", "requests", 100, HOUR + timedelta(minutes=10)),
            ("b", "characters", 7, HOUR + timedelta(minutes=20)),
            ("c", "requests", 5, HOUR + timedelta(minutes=30)),
        ],
        INGESTED,
    )
    summary = usage.run_job(JOB)
    assert (summary.metered, summary.submitted, summary.marketplace_calls) == (2, 2, 1)
    metered = {r["dimension"]: r for r in usage.emulator.metered()}
    assert {d: r["quantity"] for d, r in metered.items()} == {"requests": 105, "characters": 7}
    assert all(
        r["timestamp"] == iso(HOUR) and r["license_arn"] == created["license_arn"] for r in metered.values()
    )
    for item in usage.hours():
        assert item["meter_status"] == "metered"
        assert item["metering_record_id"] == metered[item["dimension"]]["metering_record_id"]
        assert item["meter_record"]["LicenseArn"] == created["license_arn"]
        assert "gsi1pk" not in item and item["sealed_at"] == iso(JOB)

    again = usage.run_job(JOB + timedelta(hours=1))
    assert (again.queued, again.submitted, again.marketplace_calls) == (0, 0, 0)
    assert_each_hour_metered_once(usage, 2)


def test_an_hour_waits_for_the_usage_window_to_pass(usage: UsageWorld) -> None:
    usage.subscribe(SUB, ACCOUNT)
    seed_usage(SUB, [("a", "requests", 1, HOUR)], INGESTED)
    early = usage.run_job(HOUR + timedelta(hours=4))  # hour end + window, but not yet + 60 s settle
    assert (early.not_yet, early.submitted) == (1, 0)
    assert usage.emulator.metered() == []
    assert usage.run_job(HOUR + timedelta(hours=4, minutes=1)).metered == 1


@pytest.mark.parametrize("after", [False, True], ids=["crash-before-second-call", "crash-after-second-call"])
def test_a_crash_between_calls_then_a_rerun_meters_everything_once(usage: UsageWorld, after: bool) -> None:
    seed_customers(usage, 15)  # 30 aggregates: a batch of 25, then one of 5
    crashing = CrashOnCall(BatchMeter(usage.metering), crash_on=2, after=after)
    with pytest.raises(SimulatedCrash):
        usage.run_job(JOB, meter=crashing)
    assert len(usage.emulator.metered()) == (30 if after else 25)
    assert statuses(usage) == Counter({"metered": 25, "pending": 5})

    rerun = usage.run_job(JOB + timedelta(minutes=30))
    assert (rerun.resubmitted, rerun.submitted) == (5, 5)
    assert rerun.metered == 5  # the emulator answers an identical resend with its first record id
    assert statuses(usage) == Counter({"metered": 30})
    assert_each_hour_metered_once(usage, 30)
    by_key = {
        (r["aws_account_id"], r["dimension"]): r["metering_record_id"] for r in usage.emulator.metered()
    }
    assert len(by_key) == 30


def test_a_crash_after_the_pending_write_resends_the_frozen_record(usage: UsageWorld) -> None:
    created = usage.subscribe(SUB, ACCOUNT)
    seed_usage(SUB, [("a", "requests", 9, HOUR)], INGESTED)
    with pytest.raises(SimulatedCrash):
        usage.run_job(JOB, meter=CrashOnCall(None, crash_on=1))
    [pending] = usage.hours()
    assert pending["meter_status"] == "pending" and pending["meter_record"]["Quantity"] == 9
    # The customer re-subscribes meanwhile (a new licence): the rerun still sends what was sealed.
    usage.link(SUB, ACCOUNT, usage.emulator.create_subscription(ACCOUNT))
    assert usage.run_job(JOB + timedelta(hours=1)).metered == 1
    [record] = usage.emulator.metered()
    assert record["license_arn"] == created["license_arn"] and record["quantity"] == 9


def test_throttling_is_retried_with_backoff(usage: UsageWorld) -> None:
    seed_customers(usage, 2)
    usage.emulator.inject_throttling(3)
    summary = usage.run_job(JOB)
    assert (summary.metered, summary.throttled, summary.marketplace_retries) == (4, 3, 3)
    assert len(usage.sleeps) == 3 and usage.sleeps[0] < 0.21 and 0.4 <= usage.sleeps[2] <= 0.8
    assert_each_hour_metered_once(usage, 4)


def test_unprocessed_records_are_sent_again(usage: UsageWorld) -> None:
    seed_customers(usage, 15)
    usage.emulator.inject_unprocessed(7)
    summary = usage.run_job(JOB)
    assert summary.metered == 30 and summary.pending_left == 0
    assert summary.marketplace_calls > summary.batches
    assert_each_hour_metered_once(usage, 30)


def test_what_is_left_after_the_last_retry_stays_pending_for_the_next_run(usage: UsageWorld) -> None:
    seed_customers(usage, 1)
    usage.emulator.inject_throttling(2)
    first = usage.run_job(JOB, backoff=Backoff(max_attempts=2))
    assert (first.metered, first.pending_left) == (0, 2)
    assert statuses(usage) == Counter({"pending": 2})
    second = usage.run_job(JOB + timedelta(hours=1))
    assert (second.resubmitted, second.metered) == (2, 2)
    assert_each_hour_metered_once(usage, 2)


def test_customer_not_subscribed_is_flagged_and_not_retried(usage: UsageWorld) -> None:
    usage.subscribe(SUB, ACCOUNT)
    usage.emulator.end_subscription(ACCOUNT)
    seed_usage(SUB, [("a", "requests", 3, HOUR), ("b", "characters", 4, HOUR)], INGESTED)
    summary = usage.run_job(JOB)
    assert (summary.not_subscribed, summary.metered, summary.failures) == (2, 0, 2)
    for item in usage.hours():
        assert item["meter_status"] == "not-subscribed"
        assert item["gsi1pk"] == "METERFLAG#not-subscribed"
    again = usage.run_job(JOB + timedelta(hours=1))
    assert (again.queued, again.marketplace_calls) == (0, 0)


def test_usage_without_a_linked_subscription_waits_and_is_metered_once_linked(usage: UsageWorld) -> None:
    seed_usage(SUB, [("a", "requests", 3, HOUR)], INGESTED)
    first = usage.run_job(JOB)
    assert (first.awaiting_subscription, first.submitted) == (1, 0)
    [item] = usage.hours()
    assert item["meter_status"] == "awaiting-subscription" and item["gsi1pk"].startswith("METERDUE#")
    usage.subscribe(SUB, ACCOUNT)
    assert usage.run_job(JOB + timedelta(hours=1)).metered == 1
    assert_each_hour_metered_once(usage, 1)


def test_usage_never_linked_expires_after_marketplaces_window(usage: UsageWorld) -> None:
    seed_usage(SUB, [("a", "requests", 3, HOUR)], INGESTED)
    usage.subscribe(SUB, ACCOUNT, status="pending")  # subscribe-success never arrived
    assert usage.run_job(JOB).awaiting_subscription == 1
    late = usage.run_job(HOUR + timedelta(hours=24))
    assert late.expired == 1
    [item] = usage.hours()
    assert item["meter_status"] == "expired" and item["gsi1pk"] == "METERFLAG#expired"
    assert usage.emulator.metered() == []


def test_an_unsubscribing_customer_is_metered_at_once_and_late_usage_moves_on(usage: UsageWorld) -> None:
    usage.subscribe(SUB, ACCOUNT, status="unsubscribe-pending")
    seed_usage(SUB, [("a", "requests", 3, HOUR + timedelta(minutes=5))], INGESTED)
    summary = usage.run_job(HOUR + timedelta(hours=1, minutes=10))  # long before the 3 h window passes
    assert (summary.sealed_early, summary.metered) == (1, 1)

    # A record for the hour already sent arrives: it is billed in the current hour instead.
    late_at = HOUR + timedelta(hours=1, minutes=20)
    result = seed_usage(SUB, [("late", "requests", 2, HOUR + timedelta(minutes=50))], late_at)
    assert result.accepted == 1
    late = next(i for i in usage.of_type("usage-record") if i["record_id"] == "late")
    assert (late["hour"], late["billed_hour"]) == (iso(HOUR), iso(HOUR + timedelta(hours=1)))
    assert usage.run_job(HOUR + timedelta(hours=2, minutes=10)).metered == 1
    assert sorted((r["timestamp"], r["quantity"]) for r in usage.emulator.metered()) == [
        (iso(HOUR), 3),
        (iso(HOUR + timedelta(hours=1)), 2),
    ]


def test_the_previous_months_hours_are_metered_before_marketplace_closes_it(usage: UsageWorld) -> None:
    last_hour = datetime(2026, 11, 30, 23, tzinfo=UTC)
    usage.subscribe(SUB, ACCOUNT)
    seed_usage(SUB, [("m", "requests", 8, last_hour + timedelta(minutes=30))], last_hour + timedelta(hours=1))
    assert usage.run_job(datetime(2026, 12, 1, 2, 5, tzinfo=UTC)).not_yet == 1
    summary = usage.run_job(datetime(2026, 12, 1, 3, 5, tzinfo=UTC))  # 00:00 + 3 h window + settle
    assert (summary.sealed_early, summary.metered) == (0, 1)  # before 23:00 + 6 h and the 06:00 close


def test_legacy_subscriptions_are_metered_by_customer_identifier(usage: UsageWorld) -> None:
    created = usage.subscribe(SUB, ACCOUNT, legacy=True)
    seed_usage(SUB, [("a", "requests", 4, HOUR)], INGESTED)
    assert usage.run_job(JOB).metered == 1
    [item] = usage.hours()
    assert item["meter_record"]["CustomerIdentifier"] == created["customer_identifier"]
    assert "LicenseArn" not in item["meter_record"] and item["meter_product_code"]
    assert usage.emulator.metered()[0]["aws_account_id"] == ACCOUNT


def test_a_record_marketplace_refuses_is_isolated_and_flagged(usage: UsageWorld) -> None:
    seed_customers(usage, 2, dims=("requests",))
    bad, account = customer(5)
    usage.link(bad, account, {"license_arn": "arn:aws:license-manager::444455556666:license:l-0000"})
    seed_usage(bad, [("x", "requests", 1, HOUR)], INGESTED)
    summary = usage.run_job(JOB)
    assert (summary.metered, summary.failed) == (2, 1)
    assert summary.marketplace_calls == 1 + 3  # the batch, then each record alone
    failed = next(i for i in usage.hours() if i["customer_id"] == bad)
    assert failed["meter_status"] == "failed" and failed["meter_error"].startswith("InvalidLicenseException")
    assert failed["gsi1pk"] == "METERFLAG#failed"


def test_zero_quantity_hours_are_metered(usage: UsageWorld) -> None:
    usage.subscribe(SUB, ACCOUNT)
    seed_usage(SUB, [("z", "characters", 0, HOUR)], INGESTED)
    assert usage.run_job(JOB).metered == 1
    assert usage.emulator.metered()[0]["quantity"] == 0


def test_the_scheduled_handler_uses_the_events_time(
    usage: UsageWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    import metering.dal.marketplace
    import metering.handlers.job

    monkeypatch.setenv("AWS_ENDPOINT_URL_MARKETPLACE_METERING", usage.emulator.endpoint_url)
    metering.dal.marketplace.metering_client.cache_clear()
    seed_customers(usage, 3)
    usage.clock.now = JOB
    event = {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": iso(JOB),
        "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/metering"],
        "detail": {},
    }
    summary = metering.handlers.job.handler(event, FakeLambdaContext())
    json.dumps(summary)
    assert summary["now"] == iso(JOB) and summary["metered"] == 6 and summary["stopped"] is None
    assert_each_hour_metered_once(usage, 6)
    assert (
        metering.handlers.job.handler({**event, "time": iso(JOB + timedelta(hours=1))}, FakeLambdaContext())[
            "submitted"
        ]
        == 0
    )


def test_vendor_report(usage: UsageWorld, capsys: pytest.CaptureFixture[str]) -> None:
    from usage import report

    seed_customers(usage, 2)
    usage.run_job(JOB)
    seed_usage(SUB, [("u", "requests", 5, HOUR)], INGESTED)  # not linked: stays unmetered
    args = ["--table", DATA_TABLE, "--from", "2026-11-01", "--to", "2026-11-30"]
    assert report.main([*args, "--json"], ddb=usage.ddb) == 0
    document = json.loads(capsys.readouterr().out)
    assert {(r["customer_id"], r["dimension"]): r["quantity"] for r in document["usage"]} == {
        (customer(0)[0], "requests"): 10,
        (customer(0)[0], "characters"): 11,
        (customer(1)[0], "requests"): 20,
        (customer(1)[0], "characters"): 21,
        (SUB, "requests"): 5,
    }
    assert document["metering"] == {
        "unmetered": {"hours": 1, "quantity": 5},
        "metered": {"hours": 4, "quantity": 62},
    }
    assert report.main([*args, "--customer", SUB], ddb=usage.ddb) == 0
    text = capsys.readouterr().out
    assert SUB in text and customer(0)[0] not in text and "unmetered" in text
    with pytest.raises(SystemExit):
        report.main(["--table", DATA_TABLE, "--from", "2026-11-30", "--to", "2026-11-01"], ddb=usage.ddb)


def test_records_the_sdk_refuses_are_flagged_counted_and_never_retried(usage: UsageWorld) -> None:
    from botocore.exceptions import ParamValidationError

    calls = []

    @sort_errors  # as the DAL's BatchMeter
    def old_sdk(records, product_code=None):
        calls.append(len(records))
        raise ParamValidationError(report='Unknown parameter in UsageRecords[0]: "LicenseArn"')

    seed_customers(usage, 2)
    summary = usage.run_job(JOB, meter=old_sdk)
    assert (summary.sdk_refused, summary.failed, summary.metered, summary.stopped) == (4, 4, 0, None)
    assert usage.sleeps == []  # not retried as if it were transient
    for item in usage.hours():
        assert item["meter_status"] == "failed" and item["gsi1pk"] == "METERFLAG#failed"
        assert item["meter_error"].startswith("ParamValidationError")
    calls.clear()
    again = usage.run_job(JOB + timedelta(hours=1), meter=old_sdk)
    assert (again.queued, calls) == (0, [])


def test_duplicate_record_is_flagged_for_reconciliation_never_counted_as_metered(
    usage: UsageWorld, capsys: pytest.CaptureFixture[str]
) -> None:
    """Marketplace already holds another quantity for the hour (e.g. metered by an earlier
    deployment): it answers DuplicateRecord, which is not what was recorded."""
    from usage import report

    created = usage.subscribe(SUB, ACCOUNT)
    usage.clock.now = JOB
    usage.metering.batch_meter_usage(
        UsageRecords=[
            {
                "Timestamp": HOUR,
                "Dimension": "requests",
                "Quantity": 1,
                "CustomerAWSAccountId": ACCOUNT,
                "LicenseArn": created["license_arn"],
            }
        ]
    )
    seed_usage(SUB, [("a", "requests", 9, HOUR)], INGESTED)
    summary = usage.run_job(JOB)
    assert (summary.duplicate, summary.metered, summary.failures) == (1, 0, 1)
    [item] = usage.hours()
    assert item["meter_status"] == "duplicate" and item["gsi1pk"] == "METERFLAG#duplicate"
    assert "reconcile" in item["meter_error"]
    args = ["--table", DATA_TABLE, "--from", "2026-11-01", "--to", "2026-11-30", "--json"]
    assert report.main(args, ddb=usage.ddb) == 0
    document = json.loads(capsys.readouterr().out)
    assert "metered" not in document["metering"]
    assert document["metering"]["duplicate"] == {"hours": 1, "quantity": 9}
    [flag] = document["flagged"]
    assert (flag["status"], flag["quantity"]) == ("duplicate", 9) and "reconcile" in flag["error"]
    assert (usage.run_job(JOB + timedelta(hours=1))).queued == 0


def test_customer_not_subscribed_is_shown_in_the_vendor_report(
    usage: UsageWorld, capsys: pytest.CaptureFixture[str]
) -> None:
    from usage import report

    usage.subscribe(SUB, ACCOUNT)
    usage.emulator.end_subscription(ACCOUNT)
    seed_usage(SUB, [("a", "requests", 3, HOUR)], INGESTED)
    assert usage.run_job(JOB).not_subscribed == 1
    assert (
        report.main(["--table", DATA_TABLE, "--from", "2026-11-22", "--to", "2026-11-22"], ddb=usage.ddb) == 0
    )
    text = capsys.readouterr().out
    assert "Flagged for the vendor (1)" in text and "not-subscribed: CustomerNotSubscribed" in text


def test_an_ended_agreements_last_hours_are_billed_at_the_next_run(usage: UsageWorld) -> None:
    """Issue 8 item 6: Purchase Agreement Ended (grace) seals the open hours at once, so they are
    billed inside Marketplace's final-metering window, not CustomerNotSubscribed later."""
    usage.subscribe(SUB, ACCOUNT, status="grace")
    usage.emulator.event("purchase-agreement-ended", ACCOUNT)  # Marketplace: final-metering window
    seed_usage(SUB, [("a", "requests", 3, HOUR + timedelta(minutes=5))], INGESTED)
    summary = usage.run_job(HOUR + timedelta(hours=1, minutes=10))  # long before the 3 h window passes
    assert (summary.sealed_early, summary.metered, summary.not_subscribed) == (1, 1, 0)
    assert [r["quantity"] for r in usage.emulator.metered()] == [3]
