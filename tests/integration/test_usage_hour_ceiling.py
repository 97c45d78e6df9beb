"""One record must not void an hour (issue 9, item 4): an hourly aggregate is metered as one
BatchMeterUsage record whose quantity is at most 2147483647, so `POST /v1/usage` rejects exactly
the record that would take its hour past that, keeps the rest, and concurrent requests cannot
race past the ceiling (it is the transaction's own condition)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.config import get_config
from tests.plugins.keys_world import SUB, Vault
from tests.plugins.usage_world import UsageWorld, hour_of, iso
from usage.bodies import UsageRequest
from usage.dal.usage_store import UsageStore
from usage.logic.ingest import ingest
from usage.models import MAX_QUANTITY, Attribution

HALF = MAX_QUANTITY // 2 + 1  # two of these do not fit in one hour


@pytest.fixture(name="key")
def key_fixture(vault: Vault) -> dict:
    return vault.create_key(label="stack")


def hour_totals(usage: UsageWorld) -> dict[tuple[str, str], int]:
    return {(h["hour"], h["dimension"]): int(h["quantity"]) for h in usage.hours()}


def request(*records: tuple[str, str, int, datetime]) -> UsageRequest:
    return UsageRequest.model_validate(
        {
            "records": [
                {"id": rid, "dimension": dim, "quantity": qty, "timestamp": iso(when)}
                for rid, dim, qty, when in records
            ]
        }
    )


def test_the_record_that_would_overflow_is_rejected_and_the_rest_accepted(
    usage: UsageWorld, key: dict
) -> None:
    hour = hour_of(datetime.now(UTC) - timedelta(hours=1))
    answer = usage.report(
        key,
        ("a", "requests", HALF, hour),
        ("b", "requests", HALF, hour),  # a + b > MAX: b alone is refused
        ("c", "requests", 5, hour),  # still fits after a
        ("d", "characters", HALF, hour),  # another dimension: its own ceiling
    )
    assert answer.status == 200, answer.body
    assert answer.body["accepted"] == 3 and answer.body["duplicates"] == 0
    [rejected] = answer.body["rejected"]
    assert rejected["id"] == "b" and rejected["code"] == "HourlyTotalExceeded"
    assert str(MAX_QUANTITY) in rejected["message"]
    assert hour_totals(usage) == {(iso(hour), "requests"): HALF + 5, (iso(hour), "characters"): HALF}
    assert {r["record_id"] for r in usage.of_type("usage-record")} == {"a", "c", "d"}  # b left no trace
    # The total stays meterable: at most what one Marketplace record carries.
    assert all(total <= MAX_QUANTITY for total in hour_totals(usage).values())


def test_an_hour_filled_by_an_earlier_request_refuses_only_what_no_longer_fits(
    usage: UsageWorld, key: dict
) -> None:
    hour = hour_of(datetime.now(UTC))
    assert usage.report(key, ("first", "requests", MAX_QUANTITY - 10, hour)).body["accepted"] == 1
    answer = usage.report(
        key,
        ("too-big", "requests", 11, hour),
        ("exact", "requests", 10, hour),
        ("nothing-left", "requests", 1, hour),
        ("zero", "requests", 0, hour),
        ("first", "requests", 5, hour),  # a duplicate stays a duplicate, not an overflow
    )
    assert answer.body["accepted"] == 2 and answer.body["duplicates"] == 1
    assert [(r["id"], r["code"]) for r in answer.body["rejected"]] == [
        ("too-big", "HourlyTotalExceeded"),
        ("nothing-left", "HourlyTotalExceeded"),
    ]
    assert hour_totals(usage) == {(iso(hour), "requests"): MAX_QUANTITY}
    # A retry of the refused record is refused again, and the accepted ones are duplicates.
    again = usage.report(key, ("too-big", "requests", 11, hour), ("exact", "requests", 10, hour))
    assert again.body["duplicates"] == 1 and [r["id"] for r in again.body["rejected"]] == ["too-big"]
    assert hour_totals(usage) == {(iso(hour), "requests"): MAX_QUANTITY}


def test_a_full_hour_does_not_block_other_hours_in_the_same_transaction(usage: UsageWorld, key: dict) -> None:
    t = hour_of(datetime.now(UTC))
    usage.report(key, ("fill", "requests", MAX_QUANTITY, t - timedelta(hours=2)))
    answer = usage.report(
        key,
        ("late", "requests", 1, t - timedelta(hours=2)),
        ("now", "requests", 7, t),
        ("earlier", "characters", 3, t - timedelta(hours=2)),
    )
    assert answer.body["accepted"] == 2
    assert [r["id"] for r in answer.body["rejected"]] == ["late"]
    totals = hour_totals(usage)
    assert totals[(iso(t - timedelta(hours=2)), "requests")] == MAX_QUANTITY
    assert totals[(iso(t), "requests")] == 7 and totals[(iso(t - timedelta(hours=2)), "characters")] == 3


def test_concurrent_requests_cannot_race_past_the_ceiling(usage: UsageWorld, key: dict) -> None:
    """A rival request commits between this request's checks and its transaction: the condition
    refuses the stale write, the stored total comes back, and only what still fits is counted."""
    config = get_config()
    hour = hour_of(datetime.now(UTC))
    store = UsageStore(config.tables["data"], retention_days=30)
    attribution = Attribution(access_key=key["access_key"])

    class RacingStore(UsageStore):
        raced = False

        def commit(self, customer_id, entries, attribution, now):  # noqa: ANN001, ANN201
            if not self.raced:
                self.raced = True
                rival = request(("rival", "requests", HALF, hour), ("rival-2", "requests", 100, hour))
                assert ingest(store, customer_id, attribution, rival, config, datetime.now(UTC)).accepted == 2
            return super().commit(customer_id, entries, attribution, now)

    mine = request(("mine", "requests", HALF, hour), ("small", "requests", 40, hour))
    racing = RacingStore(config.tables["data"], retention_days=30)
    result = ingest(racing, SUB, attribution, mine, config, datetime.now(UTC), sleep=lambda _s: None)
    assert racing.raced
    assert result.accepted == 1 and [r.id for r in result.rejected] == ["mine"]
    assert hour_totals(usage) == {(iso(hour), "requests"): HALF + 100 + 40}
    stored = {r["record_id"]: int(r["quantity"]) for r in usage.of_type("usage-record")}
    assert stored == {"rival": HALF, "rival-2": 100, "small": 40}  # every count has its record


def test_many_racing_requests_never_pass_the_ceiling(usage: UsageWorld, key: dict) -> None:
    """Requests whose transactions are each preceded by a rival's commit: the hour ends exactly at
    what fits, equal to the sum of the records it accepted, and every other request is refused."""
    config = get_config()
    table = config.tables["data"]
    hour = hour_of(datetime.now(UTC))
    attribution = Attribution(access_key=key["access_key"])
    quantity = MAX_QUANTITY // 5 + 3  # four of these fit in one hour, five do not
    results = []

    def send(name: str) -> None:
        result = ingest(
            Interleaved(table, retention_days=30),
            SUB,
            attribution,
            request((name, "requests", quantity, hour)),
            config,
            datetime.now(UTC),
            sleep=lambda _s: None,
        )
        results.append(result)

    class Interleaved(UsageStore):
        rivals = 0

        def commit(self, customer_id, entries, attribution, now):  # noqa: ANN001, ANN201
            if Interleaved.rivals < 3:
                Interleaved.rivals += 1
                send(f"rival-{Interleaved.rivals}")
            return super().commit(customer_id, entries, attribution, now)

    for i in range(3):
        send(f"mine-{i}")
    records = {r["record_id"]: int(r["quantity"]) for r in usage.of_type("usage-record")}
    total = hour_totals(usage)[(iso(hour), "requests")]
    assert len(results) == 6
    assert total == sum(records.values()) == 4 * quantity <= MAX_QUANTITY
    assert sum(r.accepted for r in results) == 4 == len(records)
    assert [r.code for res in results for r in res.rejected] == ["HourlyTotalExceeded"] * 2
