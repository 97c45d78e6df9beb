"""The usage reporter's sending (`reporter/sending.py`): batches within the protocol's limits, and
the vendor's replies applied record by record (the HTTP itself is the vendor client's, tested in
tests/integration/test_vendor_client.py and, through the reporter, test_usage_reporter_runs.py)."""

import json

import pytest

from customer_stack.usage.reporter import records as reporter_records
from customer_stack.usage.reporter import report, sending


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


def test_batches_hold_at_most_500_records_and_fit_the_body_limit():
    records = _pending(1234)
    split = sending.batches(records)
    assert [len(b) for b in split] == [500, 500, 234]
    assert [p for b in split for p in b] == records
    for batch in split:
        body = sending.request_body(batch)
        assert len(body) <= sending.MAX_BODY_BYTES
        assert [r["id"] for r in json.loads(body)["records"]] == [p.record["id"] for p in batch]


def test_long_dimension_names_split_by_size_before_500():
    records = _pending(600, dimension="d" * 120)
    split = sending.batches(records)
    assert all(len(sending.request_body(b)) <= sending.MAX_BODY_BYTES for b in split)
    assert max(len(b) for b in split) < 500 and sum(len(b) for b in split) == 600


def test_a_reply_that_does_not_add_up_acknowledges_nothing():
    batch = _pending(3)
    summary = report.new_summary()
    for payload in (
        {"accepted": 2, "duplicates": 0, "rejected": []},
        {"accepted": 2, "duplicates": 0, "rejected": [{"id": "not-sent", "code": "TooOld"}]},
        {"accepted": "3", "duplicates": 0, "rejected": []},
        {},
    ):
        with pytest.raises(sending.BadReply):
            sending.apply_reply(batch, payload, summary)
    assert all(p.outcome == "unsent" for p in batch) and summary["accepted"] == 0


def test_a_reply_marks_rejected_and_acknowledged_records():
    batch = _pending(3)
    summary = report.new_summary()
    rejected = [{"id": batch[1].record["id"], "code": "TooOld", "message": "older than 6 h"}]
    sending.apply_reply(batch, {"accepted": 1, "duplicates": 1, "rejected": rejected}, summary)
    assert [p.outcome for p in batch] == ["acknowledged", "rejected", "acknowledged"]
    assert batch[1].reason == {"code": "TooOld", "message": "older than 6 h"}
    assert (summary["accepted"], summary["duplicates"], summary["rejected"]) == (1, 1, 1)
