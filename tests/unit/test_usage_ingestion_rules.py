"""Usage ingestion without AWS: record rules, hours, dedupe, chunking, the store's transaction."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import botocore.session
import pytest
from botocore.stub import Stubber

from shared.config import Dimension, RuntimeConfig
from shared.errors import ServiceError, ValidationError
from shared.http import parse_body
from usage.bodies import RawRecord, UsageRequest
from usage.dal.attribution import ActivationAttributor
from usage.dal.usage_store import CommitOutcome, Entry, UsageStore, chunk_entries, transaction_items
from usage.logic.history import parse_range
from usage.logic.ingest import MAX_COMMIT_ATTEMPTS, fit_hours, ingest, validate
from usage.models import (
    MAX_QUANTITY,
    Attribution,
    IngestResult,
    Rejection,
    UsageRecord,
    check_record,
    day_key,
    due_shard,
    hour_key,
)

NOW = datetime(2026, 11, 22, 13, 54, 10, tzinfo=UTC)
WINDOW = timedelta(hours=6)
DIMS = {"requests", "characters"}
CONFIG = RuntimeConfig(
    product_name="textlens",
    product_version="1.0.0",
    dimensions=(
        Dimension("requests", "request", "Requests", Decimal("0.0002")),
        Dimension("characters", "1k characters", "Characters", Decimal("0.0001")),
    ),
    grace_days=10,
    key_max_lifetime_days=730,
    max_active_keys=20,
    audit_retention_days=400,
    usage_window_hours=6,
)


def raw(id="r-1", dimension="requests", quantity=1, timestamp="2026-11-22T13:00:00Z") -> RawRecord:  # noqa: A002
    return RawRecord(id=id, dimension=dimension, quantity=quantity, timestamp=timestamp)


def check(**kwargs) -> UsageRecord | Rejection:
    return check_record(raw(**kwargs), dimensions=DIMS, window=WINDOW, now=NOW)


def code(**kwargs) -> str | None:
    result = check(**kwargs)
    return result.code if isinstance(result, Rejection) else None


# --------------------------------------------------------------------------- record rules


def test_a_good_record() -> None:
    record = check(timestamp="2026-11-22T13:42:17.25Z", quantity=MAX_QUANTITY)
    assert isinstance(record, UsageRecord)
    assert record.hour == "2026-11-22T13:00:00Z" and record.day == "2026-11-22"


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"timestamp": "2026-11-22T07:54:10Z"}, None),  # exactly the window old: still accepted
        ({"timestamp": "2026-11-22T07:54:09Z"}, "RecordTooOld"),
        ({"timestamp": "2026-11-22T13:59:10Z"}, None),  # exactly 5 minutes ahead
        ({"timestamp": "2026-11-22T13:59:11Z"}, "RecordInFuture"),
        ({"timestamp": "2026-11-22T13:00:00+00:00"}, "InvalidTimestamp"),
        ({"timestamp": "2026-11-22"}, "InvalidTimestamp"),
        ({"timestamp": 1795352400}, "InvalidTimestamp"),
        ({"dimension": "storage"}, "UnknownDimension"),
        ({"dimension": None}, "UnknownDimension"),
        ({"quantity": -1}, "InvalidQuantity"),
        ({"quantity": 1.0}, "InvalidQuantity"),
        ({"quantity": True}, "InvalidQuantity"),
        ({"quantity": "1"}, "InvalidQuantity"),
        ({"quantity": MAX_QUANTITY + 1}, "InvalidQuantity"),
        ({"quantity": 0}, None),
        ({"id": ""}, "InvalidId"),
        ({"id": "a" * 65}, "InvalidId"),
        ({"id": "a\nb"}, "InvalidId"),
        ({"id": ["x"]}, "InvalidId"),
        ({"id": "a" * 64}, None),
        ({"id": "récord#1 ✓"}, None),
    ],
)
def test_record_rules(kwargs: dict, expected: str | None) -> None:
    assert code(**kwargs) == expected


def test_the_first_failing_rule_is_reported_with_a_message() -> None:
    result = check(id="", dimension="nope", quantity=-1)
    assert isinstance(result, Rejection) and result.code == "InvalidId" and result.message
    assert result.document() == {"id": "", "code": "InvalidId", "message": result.message}


def test_hours_and_days_are_utc_truncations() -> None:
    moment = datetime(2026, 11, 22, 23, 59, 59, 999999, tzinfo=UTC)
    assert hour_key(moment) == "2026-11-22T23:00:00Z"
    assert day_key(moment) == "2026-11-22"
    assert hour_key(datetime(2026, 11, 22, 13, 0, tzinfo=UTC)) == "2026-11-22T13:00:00Z"


def test_shards_are_stable_and_spread() -> None:
    assert due_shard("customer-a") == due_shard("customer-a")
    assert len({due_shard(f"c{i}") for i in range(200)}) == 8


# --------------------------------------------------------------------------- request shape


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({"records": [{"id": "a", "dimension": "d", "quantity": 1, "timestamp": "t"}], "x": 1}, "x"),
        (
            {"records": [{"id": "a", "dimension": "d", "quantity": 1, "timestamp": "t", "extra": 1}]},
            "records.0.extra",
        ),
        ({"records": [{"id": "a", "dimension": "d", "quantity": 1}]}, "records.0.timestamp"),
        ({"records": []}, "records"),
        (
            {
                "records": [
                    {"id": str(i), "dimension": "d", "quantity": 1, "timestamp": "t"} for i in range(501)
                ]
            },
            "records",
        ),
    ],
)
def test_the_request_shape_is_strict(body: dict, where: str) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_body(json.dumps(body).encode(), UsageRequest)
    assert f"'{where}'" in caught.value.message


def test_duplicate_ids_inside_one_request_count_once() -> None:
    request = UsageRequest(
        records=[raw(id="a"), raw(id="a", quantity=9), raw(id="b"), raw(id="a", quantity=-1)]
    )
    valid, repeats, rejected = validate(request, CONFIG, NOW)
    assert [r.id for r in valid] == ["a", "b"] and valid[0].quantity == 1
    assert repeats == 1 and [r.code for r in rejected] == ["InvalidQuantity"]


# --------------------------------------------------------------------------- ingestion loop


@dataclass
class FakeStore:
    """Answers `commit` from a script of outcomes (then commits), remembering every attempt."""

    script: list = field(default_factory=list)
    attempts: list = field(default_factory=list)

    def commit(self, customer_id, entries, attribution, now) -> CommitOutcome:
        self.attempts.append([(e.record.id, e.billed_hour) for e in entries])
        return self.script.pop(0)(entries) if self.script else CommitOutcome(committed=True)


def run(store: FakeStore, *records: RawRecord) -> tuple:
    sleeps: list[float] = []
    result = ingest(
        store,
        "cust",
        Attribution("VSAK"),
        UsageRequest(records=list(records)),
        CONFIG,
        NOW,
        sleep=sleeps.append,
    )
    return result, sleeps


def test_duplicates_reported_by_the_store_are_taken_out_and_the_rest_committed() -> None:
    store = FakeStore([lambda entries: CommitOutcome(duplicates={"a"})])
    result, _ = run(store, raw(id="a"), raw(id="b"), raw(id="c", quantity=-5))
    assert (result.accepted, result.duplicates, [r.code for r in result.rejected]) == (
        1,
        1,
        ["InvalidQuantity"],
    )
    assert store.attempts == [
        [("a", "2026-11-22T13:00:00Z"), ("b", "2026-11-22T13:00:00Z")],
        [("b", "2026-11-22T13:00:00Z")],
    ]


def test_records_for_a_sealed_hour_move_to_the_current_hour() -> None:
    sealed = {("2026-11-22T10:00:00Z", "requests")}
    store = FakeStore([lambda entries: CommitOutcome(sealed=sealed)])
    result, _ = run(store, raw(id="old", timestamp="2026-11-22T10:30:00Z"), raw(id="new"))
    assert result.accepted == 2 and result.rejected == []
    assert store.attempts[-1] == [("old", "2026-11-22T13:00:00Z"), ("new", "2026-11-22T13:00:00Z")]


def test_when_the_current_hour_is_sealed_the_record_moves_to_the_next_hour() -> None:
    """The job's clock ran ahead (skew at the hour boundary, or a sandbox run dated ahead)."""
    sealed = {("2026-11-22T13:00:00Z", "requests"), ("2026-11-22T10:00:00Z", "requests")}
    store = FakeStore([lambda entries: CommitOutcome(sealed=sealed)])
    result, _ = run(
        store,
        raw(id="a"),
        raw(id="old", timestamp="2026-11-22T10:30:00Z"),
        raw(id="c", dimension="characters"),
    )
    assert result.accepted == 3 and result.rejected == []
    assert store.attempts[-1] == [
        ("a", "2026-11-22T14:00:00Z"),
        ("old", "2026-11-22T13:00:00Z"),
        ("c", "2026-11-22T13:00:00Z"),
    ]


def test_when_the_next_hour_is_sealed_too_the_record_is_rejected() -> None:
    sealed = {("2026-11-22T13:00:00Z", "requests"), ("2026-11-22T14:00:00Z", "requests")}
    store = FakeStore([lambda entries: CommitOutcome(sealed=sealed)] * 3)
    result, _ = run(store, raw(id="a"), raw(id="b", dimension="characters"))
    assert result.accepted == 1 and [(r.id, r.code) for r in result.rejected] == [("a", "HourClosed")]


def test_contention_is_retried_with_backoff_then_refused() -> None:
    store = FakeStore([lambda entries: CommitOutcome(contention=True)] * 2)
    result, sleeps = run(store, raw())
    assert result.accepted == 1 and len(sleeps) == 2 and sleeps[0] < sleeps[1] <= 1.0
    busy = FakeStore([lambda entries: CommitOutcome(contention=True)] * MAX_COMMIT_ATTEMPTS)
    with pytest.raises(ServiceError):
        run(busy, raw())


def test_chunks_stay_within_one_transaction() -> None:
    base = datetime(2026, 11, 22, 8, tzinfo=UTC)
    entries = [
        Entry(UsageRecord(f"r{i}", ("requests", "characters")[i % 2], 1, base + timedelta(hours=i % 6)), "h")
        for i in range(500)
    ]
    entries = [Entry(e.record, e.record.hour) for e in entries]
    chunks = list(chunk_entries(entries))
    assert sum(len(c) for c in chunks) == 500
    assert all(sum(transaction_items(c)) <= 100 for c in chunks)
    assert len(chunks) == 6


# --------------------------------------------------------------------------- the store's transaction


def stubbed_store() -> tuple[UsageStore, Stubber]:
    ddb = botocore.session.get_session().create_client(
        "dynamodb", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    return UsageStore("data", retention_days=400, dynamodb=ddb), Stubber(ddb)


def entries_of(*records: UsageRecord) -> list[Entry]:
    return [Entry(r, r.hour) for r in records]


def test_one_transaction_holds_records_and_both_aggregates() -> None:
    store, stub = stubbed_store()
    hour = datetime(2026, 11, 22, 12, 10, tzinfo=UTC)
    records = entries_of(UsageRecord("a", "requests", 7, hour), UsageRecord("b", "requests", 3, hour))
    captured = {}
    stub.add_response("transact_write_items", {})
    stub.client.meta.events.register(
        "provide-client-params.dynamodb.TransactWriteItems", lambda params, **_: captured.update(params)
    )
    with stub:
        outcome = store.commit("cust", records, Attribution("VSAK", "act-1", "activation"), NOW)
    assert outcome.committed
    items = captured["TransactItems"]
    assert [next(iter(i)) for i in items] == ["Put", "Put", "Update", "Update"]  # 2 records, 1 hour, 1 day
    put = items[0]["Put"]
    assert put["ConditionExpression"] == "attribute_not_exists(pk)"
    assert put["Item"]["pk"] == {"S": "USAGE#cust#REC#a"} and put["Item"]["activation_id"] == {"S": "act-1"}
    hour_update = items[2]["Update"]
    assert hour_update["Key"] == {
        "pk": {"S": "USAGE#cust"},
        "sk": {"S": "HOUR#2026-11-22T12:00:00Z#requests"},
    }
    assert hour_update["ExpressionAttributeValues"][":q"] == {"N": "10"}
    assert hour_update["ConditionExpression"] == (
        "attribute_not_exists(#sealed) AND (attribute_not_exists(#quantity) OR #quantity <= :room)"
    )
    assert hour_update["ExpressionAttributeValues"][":room"] == {"N": str(MAX_QUANTITY - 10)}
    assert hour_update["ReturnValuesOnConditionCheckFailure"] == "ALL_OLD"
    assert items[3]["Update"]["Key"]["sk"] == {"S": "DAY#2026-11-22#requests"}


def test_cancellation_reasons_say_which_records_are_duplicates_and_which_hours_are_sealed_or_full() -> None:
    store, stub = stubbed_store()
    hour = datetime(2026, 11, 22, 12, 10, tzinfo=UTC)
    records = entries_of(
        UsageRecord("a", "requests", 1, hour),
        UsageRecord("b", "characters", 1, hour),
        UsageRecord("c", "other", 1, hour),
    )
    sealed_item = {
        "pk": {"S": "USAGE#cust"},
        "quantity": {"N": "4"},
        "sealed_at": {"S": "2026-11-22T13:00:00Z"},
    }
    full_item = {"pk": {"S": "USAGE#cust"}, "quantity": {"N": str(MAX_QUANTITY)}}
    none = {"Code": "None"}
    reasons = [
        {"Code": "ConditionalCheckFailed"},  # record a: a duplicate
        none,
        none,
        none,  # hour requests
        {"Code": "ConditionalCheckFailed", "Item": sealed_item},  # hour characters: sealed
        {"Code": "ConditionalCheckFailed"},  # hour other: no item in the reason → read it
        none,
        none,
        none,
    ]
    stub.add_client_error(
        "transact_write_items",
        "TransactionCanceledException",
        "cancelled",
        response_meta=None,
        modeled_fields={"CancellationReasons": reasons},
    )
    stub.add_response("get_item", {"Item": full_item})
    stub.add_client_error(
        "transact_write_items",
        "TransactionCanceledException",
        "cancelled",
        modeled_fields={"CancellationReasons": [{"Code": "TransactionConflict"}]},
    )
    stub.add_client_error("transact_write_items", "ValidationException", "bad")
    with stub:
        outcome = store.commit("cust", records, Attribution("VSAK"), NOW)
        assert outcome.duplicates == {"a"} and outcome.sealed == {("2026-11-22T12:00:00Z", "characters")}
        assert outcome.full == {("2026-11-22T12:00:00Z", "other"): MAX_QUANTITY}
        assert not outcome.committed and not outcome.contention
        assert store.commit("cust", records, Attribution("VSAK"), NOW).contention
        with pytest.raises(ServiceError):
            store.commit("cust", records, Attribution("VSAK"), NOW)


def test_fit_hours_rejects_each_record_that_would_overflow_in_request_order() -> None:
    hour = datetime(2026, 11, 22, 12, 10, tzinfo=UTC)
    chunk = entries_of(
        UsageRecord("a", "requests", 10, hour),
        UsageRecord("b", "requests", 6, hour),
        UsageRecord("c", "requests", 5, hour),
        UsageRecord("d", "characters", 100, hour),
    )
    result = IngestResult()
    key = ("2026-11-22T12:00:00Z", "requests")
    kept = fit_hours(chunk, {key: MAX_QUANTITY - 15}, result)
    assert [e.record.id for e in kept] == ["a", "c", "d"]
    assert [(r.id, r.code) for r in result.rejected] == [("b", "HourlyTotalExceeded")]


# --------------------------------------------------------------------------- history range


@pytest.mark.parametrize(
    ("params", "ok"),
    [
        ({"from": ["2026-11-01"], "to": ["2026-11-30"]}, True),
        ({"from": ["2026-11-01"], "to": ["2026-11-01"]}, True),
        ({"from": ["2024-01-01"], "to": ["2024-12-31"]}, True),
        ({"from": ["2025-01-01"], "to": ["2026-01-01"]}, True),  # 366 days
        ({"from": ["2025-01-01"], "to": ["2026-01-02"]}, False),
        ({"from": ["2026-11-02"], "to": ["2026-11-01"]}, False),
        ({"from": ["2026-11-01"]}, False),
        ({"from": ["2026-11-01"], "to": ["2026-11-31"]}, False),
        ({"from": ["20261101"], "to": ["2026-11-30"]}, False),
        ({"from": ["2026-11-01", "2026-11-02"], "to": ["2026-11-30"]}, False),
        ({"from": ["2026-11-01"], "to": ["2026-11-30"], "customer": ["x"]}, False),
        (None, False),
    ],
)
def test_history_range(params: dict | None, ok: bool) -> None:
    if ok:
        first, last = parse_range(params)
        assert first <= last
    else:
        with pytest.raises(ValidationError):
            parse_range(params)


# --------------------------------------------------------------------------- attribution


@dataclass(frozen=True)
class Act:
    activation_id: str
    access_key: str
    status: str = "active"


class Activations:
    def __init__(self, found=(), error: Exception | None = None) -> None:
        self.found, self.error, self.calls = list(found), error, 0

    def for_customer(self, customer_id: str):
        self.calls += 1
        if self.error:
            raise self.error
        return self.found


def test_attribution_to_the_one_active_activation_of_the_key() -> None:
    store = Activations([Act("act-1", "K1"), Act("act-2", "K2"), Act("act-0", "K1", "deactivated")])
    clock = [0.0]
    attributor = ActivationAttributor(store, clock=lambda: clock[0])
    assert attributor.attribute("c", "K1") == Attribution("K1", "act-1", "activation")
    assert attributor.attribute("c", "K1").activation_id == "act-1" and store.calls == 1  # cached
    clock[0] = 301
    attributor.attribute("c", "K1")
    assert store.calls == 2


def test_attribution_falls_back_to_the_key() -> None:
    two = Activations([Act("act-1", "K1"), Act("act-2", "K1")])
    assert ActivationAttributor(two).attribute("c", "K1") == Attribution("K1", None, "ambiguous")
    assert ActivationAttributor(Activations()).attribute("c", "K1") == Attribution("K1", None, "key-only")
    broken = Activations(error=ServiceError("down"))
    assert ActivationAttributor(broken).attribute("c", "K1") == Attribution("K1", None, "key-only")
    assert ActivationAttributor(None).attribute("c", "K1") == Attribution("K1")
