"""The usage reporter's pure parts: hours, record ids, aggregation, batching, replies, config,
and the artifact layout (reporter.py + signing.py, nothing else)."""

import json
import re
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest

from customer_stack.usage import reporter

ROOT = Path(__file__).resolve().parents[2]
SECRET = "vsSK_unit-test-secret-0123456789abcdefghijklmnop"


def _event(dimension, quantity, timestamp, event_id):
    body = {"dimension": dimension, "quantity": quantity, "timestamp": timestamp, "event_id": event_id}
    return {"MessageId": f"m-{event_id}", "ReceiptHandle": f"r-{event_id}", "Body": json.dumps(body)}


def _checkpoint(record, receipt):
    return {
        "MessageId": receipt,
        "ReceiptHandle": receipt,
        "Body": json.dumps({"record": record, "events": 2}),
    }


@pytest.mark.parametrize(
    ("value", "hour"),
    [
        ("2026-11-22T13:00:00Z", "2026-11-22T13:00:00Z"),
        ("2026-11-22T13:59:59Z", "2026-11-22T13:00:00Z"),
        ("2026-11-22T13:59:59.999999Z", "2026-11-22T13:00:00Z"),
        ("2026-12-31T23:30:00Z", "2026-12-31T23:00:00Z"),
    ],
)
def test_timestamps_are_truncated_to_the_utc_hour(value, hour):
    assert reporter.hour_of(value) == hour


@pytest.mark.parametrize("value", ["2026-11-22T13:00:00+01:00", "2026-11-22 13:00", "", None, 17])
def test_timestamps_must_be_utc_with_z(value):
    with pytest.raises(ValueError):
        reporter.hour_of(value)


def test_record_ids_depend_on_the_set_of_events_only():
    hour = "2026-11-22T13:00:00Z"
    rid = reporter.record_id("requests", hour, ["a", "b", "c"])
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,64}", rid) and rid.startswith("u1-")
    assert reporter.record_id("requests", hour, ["c", "a", "b", "a"]) == rid  # order, duplicates
    assert reporter.record_id("requests", hour, ["a", "b"]) != rid  # a later, different set
    assert reporter.record_id("requests", hour, ["a", "b", "c", "d"]) != rid
    assert reporter.record_id("characters", hour, ["a", "b", "c"]) != rid
    assert reporter.record_id("requests", "2026-11-22T14:00:00Z", ["a", "b", "c"]) != rid


def test_events_are_grouped_per_dimension_and_hour_and_deduplicated():
    messages = [
        _event("requests", 1, "2026-11-22T13:01:00Z", "e1"),
        _event("requests", 2, "2026-11-22T13:59:00Z", "e2"),
        _event("requests", 2, "2026-11-22T13:59:00Z", "e2") | {"ReceiptHandle": "r-e2-again"},
        _event("requests", 5, "2026-11-22T14:00:00Z", "e3"),
        _event("characters", 7, "2026-11-22T13:30:00Z", "e4"),
        _event("characters", 0, "2026-11-22T15:30:00Z", "e5"),
        {"MessageId": "bad", "ReceiptHandle": "r-bad", "Body": "not json"},
    ]
    summary = reporter.new_summary()
    records = {
        (p.record["dimension"], p.record["timestamp"]): p for p in reporter.build_records(messages, summary)
    }
    req13 = records[("requests", "2026-11-22T13:00:00Z")]
    assert req13.record["quantity"] == 3 and req13.events == 2  # e2 delivered twice counts once
    assert sorted(req13.raw_receipts) == ["r-e1", "r-e2", "r-e2-again"]  # ... but both copies go
    assert req13.record["id"] == reporter.record_id("requests", "2026-11-22T13:00:00Z", ["e1", "e2"])
    assert records[("requests", "2026-11-22T14:00:00Z")].record["quantity"] == 5
    assert records[("characters", "2026-11-22T13:00:00Z")].record["quantity"] == 7
    assert records[("characters", "2026-11-22T15:00:00Z")].outcome == "empty"
    assert summary["malformed"] == 1 and summary["events"] == 5


def test_a_checkpoint_keeps_its_id_and_absorbs_the_same_set_of_events():
    rid = reporter.record_id("requests", "2026-11-22T13:00:00Z", ["e1", "e2"])
    record = {"id": rid, "dimension": "requests", "quantity": 3, "timestamp": "2026-11-22T13:00:00Z"}
    other = dict(record, id="u1-other", quantity=9)
    messages = [
        _checkpoint(record, "c1"),
        _checkpoint(other, "c2"),
        _checkpoint(other, "c3"),  # a checkpoint enqueued twice is one record
        _event("requests", 1, "2026-11-22T13:01:00Z", "e1"),  # events whose deletes failed earlier
        _event("requests", 2, "2026-11-22T13:02:00Z", "e2"),
    ]
    summary = reporter.new_summary()
    by_id = {p.record["id"]: p for p in reporter.build_records(messages, summary)}
    assert set(by_id) == {rid, "u1-other"}
    assert by_id[rid].checkpoint_receipts == ["c1"] and sorted(by_id[rid].raw_receipts) == ["r-e1", "r-e2"]
    assert by_id["u1-other"].checkpoint_receipts == ["c2", "c3"] and by_id["u1-other"].record["quantity"] == 9
    assert summary["checkpoints_read"] == 3


def _pending(n, dimension="requests"):
    return [
        reporter.Pending(
            record={
                "id": reporter.record_id(dimension, "2026-11-22T13:00:00Z", [str(i)]),
                "dimension": dimension,
                "quantity": i,
                "timestamp": "2026-11-22T13:00:00Z",
            }
        )
        for i in range(n)
    ]


def test_batches_hold_at_most_500_records_and_fit_the_body_limit():
    records = _pending(1234)
    split = reporter.batches(records)
    assert [len(b) for b in split] == [500, 500, 234]
    assert [p for b in split for p in b] == records
    for batch in split:
        body = reporter.request_body(batch)
        assert len(body) <= reporter.MAX_BODY_BYTES
        assert [r["id"] for r in json.loads(body)["records"]] == [p.record["id"] for p in batch]


def test_long_dimension_names_split_by_size_before_500():
    records = _pending(600, dimension="d" * 120)
    split = reporter.batches(records)
    assert all(len(reporter.request_body(b)) <= reporter.MAX_BODY_BYTES for b in split)
    assert max(len(b) for b in split) < 500 and sum(len(b) for b in split) == 600


def test_retry_after_reads_seconds_and_dates_and_is_capped():
    assert reporter.retry_after_seconds("7") == 7
    assert reporter.retry_after_seconds(None) is None
    assert reporter.retry_after_seconds("soon") is None
    assert reporter.retry_after_seconds("120") == 120  # honoured in full, not shortened
    assert reporter.retry_after_seconds("99999999") == reporter.RETRY_AFTER_CAP_S
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    assert 25 <= reporter.retry_after_seconds(later) <= 30


def test_backoff_grows_and_is_capped():
    for attempt in range(8):
        ceiling = min(reporter.BACKOFF_CAP_S, reporter.BACKOFF_BASE_S * 2**attempt)
        assert ceiling / 2 <= reporter.backoff_seconds(attempt) <= ceiling


def test_a_reply_that_does_not_add_up_acknowledges_nothing():
    batch = _pending(3)
    summary = reporter.new_summary()
    for payload in (
        {"accepted": 2, "duplicates": 0, "rejected": []},
        {"accepted": 2, "duplicates": 0, "rejected": [{"id": "not-sent", "code": "TooOld"}]},
        {"accepted": "3", "duplicates": 0, "rejected": []},
        {},
    ):
        with pytest.raises(reporter.VendorUnavailable):
            reporter.apply_reply(batch, payload, summary)
    assert all(p.outcome == "unsent" for p in batch) and summary["accepted"] == 0


def test_records_past_the_window_are_given_up_and_the_rest_kept():
    now = datetime(2026, 11, 22, 19, 0, 1, tzinfo=UTC)
    batch = _pending(2)  # hour 13:00
    fresh = reporter.Pending(record=dict(batch[0].record, id="u1-fresh", timestamp="2026-11-22T14:00:00Z"))
    summary = reporter.new_summary()
    reporter.expire([*batch, fresh], 6, now, summary)  # 13:00 + 6 h <= 19:00:01 < 14:00 + 6 h
    assert [p.outcome for p in batch] == ["expired", "expired"] and fresh.outcome == "unsent"
    assert batch[0].reason["code"] == "WindowClosed" and summary["expired"] == 2
    just_inside = reporter.Pending(record=dict(fresh.record))
    reporter.expire([just_inside], 6, datetime(2026, 11, 22, 19, 59, 59, tzinfo=UTC), summary)
    assert just_inside.outcome == "unsent"


def test_a_reply_marks_rejected_and_acknowledged_records():
    batch = _pending(3)
    summary = reporter.new_summary()
    rejected = [{"id": batch[1].record["id"], "code": "TooOld", "message": "older than 6 h"}]
    reporter.apply_reply(batch, {"accepted": 1, "duplicates": 1, "rejected": rejected}, summary)
    assert [p.outcome for p in batch] == ["acknowledged", "rejected", "acknowledged"]
    assert batch[1].reason == {"code": "TooOld", "message": "older than 6 h"}
    assert (summary["accepted"], summary["duplicates"], summary["rejected"]) == (1, 1, 1)


def _env(**overrides):
    env = {
        "USAGE_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/111122223333/usage",
        "VENDOR_API_URL": "https://api.example.com/prod",
        "SECRET_ARN": "arn:aws:secretsmanager:us-east-1:111122223333:secret:key",
        "DEAD_LETTER_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/111122223333/usage-dlq",
        "USAGE_WINDOW_HOURS": "6",
    }
    return {k: v for k, v in (env | overrides).items() if v is not None}


def test_config_is_read_from_the_environment():
    config = reporter.load_config(_env(MAX_RECEIVE_ROUNDS="5", RECEIVE_WAIT_SECONDS="0"))
    assert config.usage_url == "https://api.example.com/prod/v1/usage"
    assert (config.max_receive_rounds, config.receive_wait_seconds) == (5, 0)
    assert config.window_hours == 6 and config.dead_letter_queue_url.endswith("/usage-dlq")
    assert reporter.load_config(_env(VENDOR_API_URL="http://127.0.0.1:8080/")).usage_url == (
        "http://127.0.0.1:8080/v1/usage"
    )


@pytest.mark.parametrize(
    "overrides",
    [
        {"USAGE_QUEUE_URL": None},
        {"SECRET_ARN": ""},
        {"VENDOR_API_URL": "http://api.example.com/prod"},
        {"VENDOR_API_URL": "ftp://127.0.0.1/"},
        {"VENDOR_API_URL": "https://api.example.com/prod?x=1"},
        {"MAX_RECEIVE_ROUNDS": "many"},
        {"USAGE_WINDOW_HOURS": None},  # the window comes from the template, never a default
        {"USAGE_WINDOW_HOURS": "0"},
        {"USAGE_WINDOW_HOURS": "six"},
        {"DEAD_LETTER_QUEUE_URL": ""},
    ],
)
def test_bad_config_is_refused(overrides):
    with pytest.raises(reporter.ReporterError):
        reporter.load_config(_env(**overrides))


class _Secrets:
    def __init__(self, value):
        self.value = value

    def get_secret_value(self, SecretId):
        return {"SecretString": self.value}


def test_credentials_come_from_the_secret_and_never_show_the_secret_key():
    creds = reporter.read_credentials(
        _Secrets(json.dumps({"access_key": "VSAK1", "secret_key": SECRET})), "arn"
    )
    assert creds.access_key == "VSAK1" and creds.secret_key == SECRET
    assert SECRET not in repr(creds)


@pytest.mark.parametrize(
    "value", ["not json " + SECRET, json.dumps({"access_key": "VSAK1"}), json.dumps([SECRET])]
)
def test_a_bad_secret_is_refused_without_echoing_it(value):
    with pytest.raises(reporter.ReporterError) as caught:
        reporter.read_credentials(_Secrets(value), "arn")
    assert SECRET not in str(caught.value)


def test_the_artifact_is_reporter_py_plus_signing_py(tmp_path):
    """What package.py must zip: exactly these two files at the root; handler `reporter.handler`."""
    shutil.copy(ROOT / "customer_stack" / "usage" / "reporter.py", tmp_path / "reporter.py")
    shutil.copy(ROOT / "runtime" / "shared" / "signing.py", tmp_path / "signing.py")
    code = (
        "import sys, reporter\n"
        "assert reporter.signing.__name__ == 'signing', reporter.signing.__name__\n"
        "assert 'shared' not in sys.modules\n"
        "print(callable(reporter.handler))\n"
    )
    command = [sys.executable, "-c", code]
    out = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, check=True)  # noqa: S603
    assert out.stdout.strip() == "True"
