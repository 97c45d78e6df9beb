"""The usage reporter's records (`reporter/records.py`): UTC hours, deterministic record ids,
aggregation per dimension and hour, checkpoints, and the vendor's window."""

import json
import re
from datetime import UTC, datetime

import pytest

from customer_stack.usage.reporter import records as reporter_records
from customer_stack.usage.reporter import report


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
    assert reporter_records.hour_of(value) == hour


@pytest.mark.parametrize("value", ["2026-11-22T13:00:00+01:00", "2026-11-22 13:00", "", None, 17])
def test_timestamps_must_be_utc_with_z(value):
    with pytest.raises(ValueError):
        reporter_records.hour_of(value)


def test_record_ids_depend_on_the_set_of_events_only():
    hour = "2026-11-22T13:00:00Z"
    rid = reporter_records.record_id("requests", hour, ["a", "b", "c"])
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,64}", rid) and rid.startswith("u1-")
    assert reporter_records.record_id("requests", hour, ["c", "a", "b", "a"]) == rid  # order, duplicates
    assert reporter_records.record_id("requests", hour, ["a", "b"]) != rid  # a later, different set
    assert reporter_records.record_id("requests", hour, ["a", "b", "c", "d"]) != rid
    assert reporter_records.record_id("characters", hour, ["a", "b", "c"]) != rid
    assert reporter_records.record_id("requests", "2026-11-22T14:00:00Z", ["a", "b", "c"]) != rid


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
    summary = report.new_summary()
    records = {
        (p.record["dimension"], p.record["timestamp"]): p
        for p in reporter_records.build_records(messages, summary)
    }
    req13 = records[("requests", "2026-11-22T13:00:00Z")]
    assert req13.record["quantity"] == 3 and req13.events == 2  # e2 delivered twice counts once
    assert sorted(req13.raw_receipts) == ["r-e1", "r-e2", "r-e2-again"]  # ... but both copies go
    assert req13.record["id"] == reporter_records.record_id("requests", "2026-11-22T13:00:00Z", ["e1", "e2"])
    assert records[("requests", "2026-11-22T14:00:00Z")].record["quantity"] == 5
    assert records[("characters", "2026-11-22T13:00:00Z")].record["quantity"] == 7
    assert records[("characters", "2026-11-22T15:00:00Z")].outcome == "empty"
    assert summary["malformed"] == 1 and summary["events"] == 5


def test_a_checkpoint_keeps_its_id_and_absorbs_the_same_set_of_events():
    rid = reporter_records.record_id("requests", "2026-11-22T13:00:00Z", ["e1", "e2"])
    record = {"id": rid, "dimension": "requests", "quantity": 3, "timestamp": "2026-11-22T13:00:00Z"}
    other = dict(record, id="u1-other", quantity=9)
    messages = [
        _checkpoint(record, "c1"),
        _checkpoint(other, "c2"),
        _checkpoint(other, "c3"),  # a checkpoint enqueued twice is one record
        _event("requests", 1, "2026-11-22T13:01:00Z", "e1"),  # events whose deletes failed earlier
        _event("requests", 2, "2026-11-22T13:02:00Z", "e2"),
    ]
    summary = report.new_summary()
    by_id = {p.record["id"]: p for p in reporter_records.build_records(messages, summary)}
    assert set(by_id) == {rid, "u1-other"}
    assert by_id[rid].checkpoint_receipts == ["c1"] and sorted(by_id[rid].raw_receipts) == ["r-e1", "r-e2"]
    assert by_id["u1-other"].checkpoint_receipts == ["c2", "c3"] and by_id["u1-other"].record["quantity"] == 9
    assert summary["checkpoints_read"] == 3


def _pending(n, dimension="requests"):
    return [
        reporter_records.Pending(
            record={
                "id": reporter_records.record_id(dimension, "2026-11-22T13:00:00Z", [str(i)]),
                "dimension": dimension,
                "quantity": i,
                "timestamp": "2026-11-22T13:00:00Z",
            }
        )
        for i in range(n)
    ]


def test_records_past_the_window_are_given_up_and_the_rest_kept():
    now = datetime(2026, 11, 22, 19, 0, 1, tzinfo=UTC)
    batch = _pending(2)  # hour 13:00
    fresh = reporter_records.Pending(
        record=dict(batch[0].record, id="u1-fresh", timestamp="2026-11-22T14:00:00Z")
    )
    summary = report.new_summary()
    reporter_records.expire([*batch, fresh], 6, now, summary)  # 13:00 + 6 h <= 19:00:01 < 14:00 + 6 h
    assert [p.outcome for p in batch] == ["expired", "expired"] and fresh.outcome == "unsent"
    assert batch[0].reason["code"] == "WindowClosed" and summary["expired"] == 2
    just_inside = reporter_records.Pending(record=dict(fresh.record))
    reporter_records.expire([just_inside], 6, datetime(2026, 11, 22, 19, 59, 59, tzinfo=UTC), summary)
    assert just_inside.outcome == "unsent"
