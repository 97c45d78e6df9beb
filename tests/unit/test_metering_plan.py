"""Metering without AWS: when an hour is metered, record shapes, batching, retries and backoff."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import botocore.session
import pytest
from botocore.exceptions import ClientError, ReadTimeoutError
from botocore.stub import Stubber

from metering.dal.marketplace import PARAM_VALIDATION, BatchMeter, BatchRejected, sort_errors
from metering.logic.plan import (
    AWAIT,
    EXPIRE,
    RESUBMIT,
    SEAL,
    SEAL_EARLY,
    WAIT,
    Job,
    batches,
    build_record,
    decide,
    record_key,
    submittable,
)
from metering.logic.submit import Backoff, PoolGate, submit_batch
from tests.aws_fixtures import AWS_FIXTURES

WINDOW = timedelta(hours=3)  # the default `metering.usage_window_hours`
HOUR = datetime(2026, 11, 22, 10, tzinfo=UTC)
LICENSE = "arn:aws:license-manager::444455556666:license:l-0123456789abcdef0123456789abcdef"
FIXTURES = AWS_FIXTURES


@dataclass(frozen=True)
class Sub:
    status: str = "active"
    aws_account_id: str = "111122223333"
    license_arn: str | None = LICENSE
    customer_identifier: str | None = None
    product_code: str = "prod1"

    def status_at(self, now: datetime) -> str:
        return self.status


def item(hour: datetime = HOUR, **extra) -> dict:
    return {
        "pk": "USAGE#c",
        "sk": f"HOUR#{hour:%Y-%m-%dT%H}:00:00Z#requests",
        "customer_id": "c",
        "dimension": "requests",
        "hour": hour.strftime("%Y-%m-%dT%H:00:00Z"),
        "quantity": 5,
        **extra,
    }


def at(hours: float, minutes: float = 0) -> datetime:
    return HOUR + timedelta(hours=hours, minutes=minutes)


# --------------------------------------------------------------------------- when


@pytest.mark.parametrize(
    ("now", "sub", "extra", "action"),
    [
        (at(0, 59), Sub(), {}, WAIT),  # the hour is not over
        (at(4), Sub(), {}, WAIT),  # window passed, settle not yet
        (at(4, 1), Sub(), {}, SEAL),
        (at(1, 5), Sub(status="unsubscribe-pending"), {}, SEAL_EARLY),
        (at(1, 5), Sub(status="grace"), {}, SEAL_EARLY),  # agreement ended / licence deprovisioned
        (at(0, 59), Sub(status="grace"), {}, WAIT),  # not before the hour is over
        (at(1, 5), Sub(), {}, WAIT),
        (at(4, 1), None, {}, AWAIT),
        (at(4, 1), Sub(status="pending"), {}, AWAIT),
        (at(4, 1), Sub(aws_account_id=""), {}, AWAIT),
        (at(4, 1), Sub(license_arn=None), {}, AWAIT),
        (at(4, 1), Sub(license_arn=None, customer_identifier="CID"), {}, SEAL),
        (at(4, 1), Sub(status="inactive"), {}, SEAL),  # Marketplace decides: CustomerNotSubscribed
        (at(5, 49), Sub(), {}, SEAL),
        (at(5, 51), Sub(), {}, EXPIRE),  # too close to Marketplace's 6 h limit
        (at(5, 51), None, {}, EXPIRE),
        (at(3), Sub(), {"meter_status": "pending", "meter_record": {"Quantity": 5}}, RESUBMIT),
        (at(6), Sub(), {"meter_status": "pending", "meter_record": {"Quantity": 5}}, EXPIRE),
        (at(4, 1), Sub(), {"meter_status": "awaiting-subscription"}, SEAL),
        (at(4, 1), Sub(), {"quantity": 2**31}, EXPIRE),
    ],
)
def test_decide(now: datetime, sub: Sub | None, extra: dict, action: str) -> None:
    assert decide(item(**extra), sub, now, WINDOW).action == action


def test_marketplace_window_is_six_hours_from_the_hour_start() -> None:
    """BatchMeterUsage API reference: records are refused 6 hours or more after the usage."""
    assert submittable(HOUR, at(5, 49))
    assert not submittable(HOUR, at(5, 50))  # the 10 min safety margin
    last = datetime(2026, 11, 30, 23, tzinfo=UTC)
    first_of_month = datetime(2026, 12, 1, tzinfo=UTC)
    assert submittable(last, first_of_month + timedelta(hours=4, minutes=49))
    assert not submittable(last, first_of_month + timedelta(hours=4, minutes=50))
    # the month's close at 06:00 on the 1st comes later than any hour's own 6 h


def _first_seal(hour: datetime, runs: list[datetime], sub: Sub | None = None) -> datetime | None:
    for run in runs:
        if decide(item(hour), sub or Sub(), run, WINDOW).action in (SEAL, SEAL_EARLY):
            return run
    return None


@pytest.mark.parametrize("offset_minutes", [0, 1, 17, 29, 58, 59])
def test_default_schedule_meters_every_hour_before_its_start_plus_6_hours(offset_minutes: int) -> None:
    """Under the defaults (3 h window, a run every 60 min at any offset, a run lasting up to its
    15 min timeout), every hour of two days, month end included, is sealed and sent before its
    start + 6 h, the limit of the BatchMeterUsage API reference."""
    from stacks.config import METERING_JOB_TIMEOUT_MINUTES

    base = datetime(2026, 11, 29, tzinfo=UTC)
    runs = [base + timedelta(minutes=offset_minutes + 60 * n) for n in range(80)]
    for n in range(48):
        hour = base + timedelta(hours=n)
        sealed = _first_seal(hour, runs)
        assert sealed is not None, hour
        sent_by = sealed + timedelta(minutes=METERING_JOB_TIMEOUT_MINUTES)
        assert sent_by < hour + timedelta(hours=6), (hour, sealed)
        assert submittable(hour, sent_by), (hour, sealed)


def test_ending_subscription_seals_at_the_first_run_after_the_hour() -> None:
    runs = [HOUR + timedelta(minutes=30 + 60 * n) for n in range(8)]
    for status in ("unsubscribe-pending", "grace"):
        assert _first_seal(HOUR, runs, Sub(status=status)) == HOUR + timedelta(hours=1, minutes=30)


# --------------------------------------------------------------------------- what


def test_records_use_the_licence_or_for_legacy_the_customer_identifier() -> None:
    record, product = build_record(item(), Sub())
    assert product is None
    assert record == {
        "Timestamp": int(HOUR.timestamp()),
        "Dimension": "requests",
        "Quantity": 5,
        "CustomerAWSAccountId": "111122223333",
        "LicenseArn": LICENSE,
    }
    legacy, product = build_record(item(), Sub(license_arn=None, customer_identifier="CID"))
    assert product == "prod1" and legacy["CustomerIdentifier"] == "CID" and "LicenseArn" not in legacy


def jobs(count: int, product_code: str | None = None, account: str | None = None) -> list[Job]:
    made = []
    for i in range(count):
        record = {
            "Timestamp": int(HOUR.timestamp()),
            "Dimension": "requests",
            "Quantity": i,
            "CustomerAWSAccountId": account or f"{100000000000 + i}",
            "LicenseArn": LICENSE,
        }
        made.append(Job(item(), record, product_code, needs_pending_write=True))
    return made


def test_batches_hold_at_most_25_of_one_product_code_and_no_repeated_record() -> None:
    out = list(batches(jobs(60) + jobs(3, product_code="legacy") + jobs(2, account="999999999999")))
    assert sorted(len(b) for b in out) == [1, 3, 11, 25, 25]  # the repeated record waits for a later call
    for batch in out:
        assert len({j.product_code for j in batch}) == 1
        assert len({j.key for j in batch}) == len(batch)
    assert sum(len(b) for b in out) == 65


# --------------------------------------------------------------------------- retries


def client_error(code: str, status: int = 400) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": code}, "ResponseMetadata": {"HTTPStatusCode": status}}, "X"
    )


class FakeMarketplace:
    """Answers from a script: an exception to raise, or 'ok' / ('unprocessed', n) to answer."""

    def __init__(self, *script) -> None:
        self.script, self.calls = list(script), []

    @sort_errors  # as the DAL's BatchMeter: submit_batch sees only the sorted errors
    def __call__(self, records):
        self.calls.append(list(records))
        step = self.script.pop(0) if self.script else "ok"
        if isinstance(step, Exception):
            raise step
        held = step[1] if isinstance(step, tuple) else 0
        done, left = records[: len(records) - held], records[len(records) - held :]
        return {
            "Results": [
                {"UsageRecord": r, "MeteringRecordId": f"id-{r['Quantity']}", "Status": "Success"}
                for r in done
            ],
            "UnprocessedRecords": left,
        }


RECORDS = [j.record for j in jobs(5)]


def test_throttling_and_server_errors_are_retried_with_growing_delays() -> None:
    sleeps: list[float] = []
    fake = FakeMarketplace(
        client_error("ThrottlingException"), client_error("InternalServiceErrorException", 500)
    )
    sent = submit_batch(fake, RECORDS, backoff=Backoff(), sleep=sleeps.append)
    assert (sent.calls, sent.retries, sent.throttled, sent.left) == (3, 2, 1, [])
    assert len(sent.outcomes) == 5 and 0.1 <= sleeps[0] <= 0.2 <= sleeps[1] <= 0.4


def test_unprocessed_records_are_sent_again_alone() -> None:
    fake = FakeMarketplace(("unprocessed", 2), ("unprocessed", 1))
    sent = submit_batch(fake, RECORDS, backoff=Backoff(), sleep=lambda s: None)
    assert [len(c) for c in fake.calls] == [5, 2, 1] and len(sent.outcomes) == 5 and not sent.left


def test_timeouts_are_retried_since_resending_is_safe() -> None:
    fake = FakeMarketplace(ReadTimeoutError(endpoint_url="http://x"))
    assert len(submit_batch(fake, RECORDS, backoff=Backoff(), sleep=lambda s: None).outcomes) == 5


def test_retries_are_bounded_and_the_rest_is_left_pending() -> None:
    fake = FakeMarketplace(*[client_error("ThrottlingException")] * 10)
    sleeps: list[float] = []
    sent = submit_batch(fake, RECORDS, backoff=Backoff(max_attempts=4, cap_seconds=0.5), sleep=sleeps.append)
    assert sent.calls == 4 and sent.left == RECORDS and not sent.outcomes
    assert len(sleeps) == 3 and max(sleeps) <= 0.5


def test_request_level_refusals_are_not_retried() -> None:
    fake = FakeMarketplace(client_error("InvalidLicenseException"))
    with pytest.raises(BatchRejected) as caught:
        submit_batch(fake, RECORDS, backoff=Backoff(), sleep=lambda s: None)
    assert caught.value.code == "InvalidLicenseException" and len(fake.calls) == 1


def test_a_throttle_closes_the_gate_for_every_worker_until_it_opens_again() -> None:
    now, slept = [100.0], []
    gate = PoolGate(Backoff(base_seconds=1.0, cap_seconds=8.0), sleep=slept.append, clock=lambda: now[0])
    gate.wait()
    assert slept == []  # open
    gate.throttled()
    gate.wait(), gate.wait()  # two workers, each before its next call
    assert len(slept) == 2 and all(0.5 <= s <= 1.0 for s in slept)
    gate.throttled()  # another throttle at the same moment: a longer pause for everyone
    gate.wait()
    assert 1.0 <= slept[-1] <= 2.0
    now[0] += 10
    gate.succeeded()
    gate.wait()
    assert len(slept) == 3  # opened again once the delay has passed
    gate.throttled()
    gate.wait()
    assert 0.5 <= slept[-1] <= 1.0  # a success reset the growth


def test_with_a_gate_a_throttled_batch_waits_at_the_gate_and_its_neighbours_too() -> None:
    now, gate_sleeps, own_sleeps = [0.0], [], []
    gate = PoolGate(Backoff(), sleep=gate_sleeps.append, clock=lambda: now[0])
    fake = FakeMarketplace(client_error("ThrottlingException"))
    sent = submit_batch(fake, RECORDS, backoff=Backoff(), sleep=own_sleeps.append, gate=gate)
    assert (sent.calls, sent.retries, sent.throttled, len(sent.outcomes)) == (2, 1, 1, 5)
    assert own_sleeps == [] and len(gate_sleeps) == 1  # the retry waited at the gate, once
    neighbour = submit_batch(
        FakeMarketplace(), RECORDS, backoff=Backoff(), sleep=own_sleeps.append, gate=gate
    )
    assert neighbour.calls == 1 and len(gate_sleeps) == 2  # another worker's batch waited as well
    server_error = FakeMarketplace(client_error("InternalServiceErrorException", 500))
    submit_batch(server_error, RECORDS, backoff=Backoff(), sleep=own_sleeps.append, gate=gate)
    assert len(own_sleeps) == 1  # a server error backs off that batch alone


def test_backoff_is_exponential_with_a_cap() -> None:
    backoff = Backoff(base_seconds=0.2, cap_seconds=5.0)
    for retry, ceiling in ((1, 0.2), (2, 0.4), (3, 0.8), (6, 5.0), (30, 5.0)):
        assert ceiling / 2 <= backoff.delay(retry) <= ceiling


def test_the_wire_shape_matches_the_aws_fixtures() -> None:
    """Our stored records become exactly the fixture's request; its response maps back to them:
    Success, DuplicateRecord, CustomerNotSubscribed, and an unprocessed record sent again."""
    request = json.loads((FIXTURES / "batch-meter-usage-request.json").read_text())
    response = json.loads((FIXTURES / "batch-meter-usage-response.json").read_text())
    stored = [{k: v for k, v in r.items() if k != "UsageAllocations"} for r in request["UsageRecords"]]

    client = botocore.session.get_session().create_client(
        "meteringmarketplace", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    wire = [{**r, "Timestamp": datetime.fromtimestamp(r["Timestamp"], UTC)} for r in stored]
    first = json.loads(json.dumps(response))
    for result in first["Results"]:
        result["UsageRecord"].pop("UsageAllocations", None)
        result["UsageRecord"]["Timestamp"] = datetime.fromtimestamp(result["UsageRecord"]["Timestamp"], UTC)
    unprocessed = [
        {**r, "Timestamp": datetime.fromtimestamp(r["Timestamp"], UTC)} for r in first["UnprocessedRecords"]
    ]
    first["UnprocessedRecords"] = unprocessed
    second = {"Results": [{"UsageRecord": unprocessed[0], "MeteringRecordId": "id-2", "Status": "Success"}]}
    with Stubber(client) as stub:
        stub.add_response("batch_meter_usage", first, {"UsageRecords": wire})
        stub.add_response("batch_meter_usage", second, {"UsageRecords": unprocessed})
        meter = BatchMeter(client)
        sent = submit_batch(lambda records: meter(records), stored, backoff=Backoff(), sleep=lambda s: None)
    statuses = {key[-2:]: o.status for key, o in sent.outcomes.items()}
    assert [sent.outcomes[record_key(r)].status for r in stored] == [
        "Success",
        "DuplicateRecord",
        "CustomerNotSubscribed",
        "Success",
    ]
    assert sent.outcomes[record_key(stored[0])].metering_record_id == "00000000-example-metering-record-0001"
    assert sent.calls == 2 and len(statuses) == 3


# --------------------------------------------------------------------------- the job's clock


def test_the_jobs_clock_is_the_events_time_clamped_to_the_real_time() -> None:
    from metering.handlers.job import job_clock

    real = datetime(2026, 11, 22, 12, 0, 30, tzinfo=UTC)
    assert job_clock({"time": "2026-11-22T12:00:00Z"}, {}, real) == datetime(2026, 11, 22, 12, tzinfo=UTC)
    assert job_clock({}, {}, real) == real
    # A principal that may invoke the function hands it a time two days ahead: the real time wins.
    assert job_clock({"time": "2026-11-24T12:00:00Z"}, {}, real) == real
    with pytest.raises(ValueError, match="RFC 3339"):
        job_clock({"time": "tomorrow"}, {}, real)


def test_only_the_sandbox_trusts_a_future_event_time() -> None:
    from shared.job_clock import SANDBOX_CLOCK_VARIABLE, job_clock

    real = datetime(2026, 11, 22, 12, tzinfo=UTC)
    future = {"time": "2026-11-24T12:00:00Z"}
    assert job_clock(future, {SANDBOX_CLOCK_VARIABLE: "1"}, real) == datetime(2026, 11, 24, 12, tzinfo=UTC)
    assert job_clock(future, {SANDBOX_CLOCK_VARIABLE: "yes"}, real) == real


# --------------------------------------------------------------------------- the SDK


def _metering_model_without_license_arn():
    """botocore's Marketplace Metering model as an SDK from before Concurrent Agreements had it."""
    import copy

    from botocore.model import ServiceModel

    session = botocore.session.get_session()
    raw = copy.deepcopy(session.get_service_data("meteringmarketplace"))
    del raw["shapes"]["UsageRecord"]["members"]["LicenseArn"]
    del raw["shapes"]["ResolveCustomerResult"]["members"]["LicenseArn"]
    return ServiceModel(raw, service_name="meteringmarketplace")


def test_cold_start_check_passes_with_the_pinned_sdk() -> None:
    from subscriptions.dal.sdk_models import missing_members, require_license_arn

    assert missing_members() == []
    require_license_arn()


def test_cold_start_check_fails_loudly_with_an_sdk_that_lacks_license_arn() -> None:
    from subscriptions.dal.sdk_models import SdkTooOld, missing_members, require_license_arn

    old = _metering_model_without_license_arn()
    assert missing_members(old) == [
        "BatchMeterUsage: UsageRecord.LicenseArn",
        "ResolveCustomer: ResolveCustomerResult.LicenseArn",
    ]
    with pytest.raises(SdkTooOld, match=r"botocore .* lacks BatchMeterUsage: UsageRecord\.LicenseArn"):
        require_license_arn(old)


def test_param_validation_error_is_rejected_at_once_never_retried() -> None:
    """An SDK whose model lacks LicenseArn refuses the record client-side: the same request would
    fail identically forever, so it is not retried (no sleep, one call)."""
    from botocore.exceptions import ParamValidationError

    calls, sleeps = [], []

    @sort_errors
    def call(records):
        calls.append(records)
        raise ParamValidationError(report='Unknown parameter in UsageRecords[0]: "LicenseArn"')

    record = {"Timestamp": 1, "Dimension": "requests", "Quantity": 1, "LicenseArn": LICENSE}
    with pytest.raises(BatchRejected) as caught:
        submit_batch(call, [record], backoff=Backoff(), sleep=sleeps.append)
    assert caught.value.code == PARAM_VALIDATION and "LicenseArn" in caught.value.message
    assert (len(calls), sleeps) == (1, [])


def test_an_sdk_without_license_arn_really_refuses_the_record_client_side() -> None:
    """The failure the check prevents, reproduced with botocore's own validator and the old model."""
    from botocore.validate import ParamValidator

    old = _metering_model_without_license_arn()
    request = {
        "UsageRecords": [
            {
                "Timestamp": datetime(2026, 11, 22, 10, tzinfo=UTC),
                "Dimension": "requests",
                "Quantity": 1,
                "CustomerAWSAccountId": "111122223333",
                "LicenseArn": LICENSE,
            }
        ]
    }
    report = ParamValidator().validate(request, old.operation_model("BatchMeterUsage").input_shape)
    assert report.has_errors() and "LicenseArn" in report.generate_report()
