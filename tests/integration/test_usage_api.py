"""`POST /v1/usage` through the license handler (signed) and `GET /v1/usage` through the keys
handler (Cognito claims), on moto: docs/protocol.md §3 and §4.2."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from tests.plugins.keys_world import OTHER_EMAIL, OTHER_SUB, SUB, Vault
from tests.plugins.usage_world import DATA_TABLE, UsageWorld, hour_of, iso
from usage.dal.usage_store import dump


@pytest.fixture(name="key")
def key_fixture(vault: Vault) -> dict:
    return vault.create_key(label="stack")


def now() -> datetime:
    return datetime.now(UTC)


def test_accepted_records_are_counted_once_with_their_key(usage: UsageWorld, key: dict) -> None:
    hour = hour_of(now() - timedelta(hours=1))
    answer = usage.report(key, ("r-1", "requests", 100_000, hour), ("r-2", "characters", 4200, hour))
    assert answer.status == 200, answer.body
    assert answer.body == {"accepted": 2, "duplicates": 0, "rejected": []}

    records = {i["record_id"]: i for i in usage.of_type("usage-record")}
    assert set(records) == {"r-1", "r-2"}
    assert records["r-1"]["access_key"] == key["access_key"]
    assert records["r-1"]["attribution"] == "key-only"  # no activation was made with this key
    assert records["r-1"]["hour"] == records["r-1"]["billed_hour"] == iso(hour)
    hours = {i["dimension"]: i for i in usage.hours()}
    assert {d: int(i["quantity"]) for d, i in hours.items()} == {"requests": 100_000, "characters": 4200}
    assert hours["requests"]["gsi1pk"].startswith("METERDUE#")
    assert hours["requests"]["gsi1sk"] == f"{iso(hour)}#{SUB}#requests"
    days = usage.of_type("usage-day")
    assert sorted((d["date"], d["dimension"], int(d["quantity"])) for d in days) == sorted(
        [(hour.strftime("%Y-%m-%d"), "requests", 100_000), (hour.strftime("%Y-%m-%d"), "characters", 4200)]
    )


def test_the_same_id_again_is_a_duplicate_whatever_its_quantity(usage: UsageWorld, key: dict) -> None:
    hour = hour_of(now())
    assert usage.report(key, ("same", "requests", 5, hour)).body["accepted"] == 1
    again = usage.report(key, ("same", "requests", 500, hour), ("new", "requests", 1, hour))
    assert again.body == {"accepted": 1, "duplicates": 1, "rejected": []}
    twice = usage.report(key, ("x", "requests", 1, hour), ("x", "requests", 1, hour))
    assert twice.body == {"accepted": 1, "duplicates": 1, "rejected": []}
    [aggregate] = usage.hours()
    assert int(aggregate["quantity"]) == 5 + 1 + 1
    assert int(aggregate["records"]) == 3


def test_ids_are_per_customer(usage: UsageWorld, key: dict, vault: Vault) -> None:
    other = vault.create_key(sub=OTHER_SUB, email=OTHER_EMAIL)
    hour = hour_of(now())
    assert usage.report(key, ("shared-id", "requests", 1, hour)).body["accepted"] == 1
    assert usage.report(other, ("shared-id", "requests", 1, hour)).body["accepted"] == 1


def test_rejected_records_do_not_block_the_rest(usage: UsageWorld, key: dict) -> None:
    t = now()
    body = {
        "records": [
            {"id": "ok-1", "dimension": "requests", "quantity": 3, "timestamp": iso(t - timedelta(hours=2))},
            {
                "id": "old",
                "dimension": "requests",
                "quantity": 3,
                "timestamp": iso(t - timedelta(hours=3, minutes=5)),
            },
            {
                "id": "future",
                "dimension": "requests",
                "quantity": 3,
                "timestamp": iso(t + timedelta(minutes=10)),
            },
            {"id": "dim", "dimension": "gigabytes", "quantity": 3, "timestamp": iso(t)},
            {"id": "neg", "dimension": "requests", "quantity": -1, "timestamp": iso(t)},
            {"id": "frac", "dimension": "requests", "quantity": 1.5, "timestamp": iso(t)},
            {"id": "str", "dimension": "requests", "quantity": "3", "timestamp": iso(t)},
            {"id": "", "dimension": "requests", "quantity": 3, "timestamp": iso(t)},
            {"id": "x" * 65, "dimension": "requests", "quantity": 3, "timestamp": iso(t)},
            {"id": 7, "dimension": "requests", "quantity": 3, "timestamp": iso(t)},
            {"id": "ts", "dimension": "requests", "quantity": 3, "timestamp": "2026-11-22 13:00"},
            {"id": "ok-2", "dimension": "characters", "quantity": 0, "timestamp": iso(t)},
        ]
    }
    answer = usage.post_usage(key, body)
    assert answer.status == 200
    assert answer.body["accepted"] == 2 and answer.body["duplicates"] == 0
    codes = [(r["id"], r["code"]) for r in answer.body["rejected"]]
    assert codes == [
        ("old", "RecordTooOld"),
        ("future", "RecordInFuture"),
        ("dim", "UnknownDimension"),
        ("neg", "InvalidQuantity"),
        ("frac", "InvalidQuantity"),
        ("str", "InvalidQuantity"),
        ("", "InvalidId"),
        ("x" * 64, "InvalidId"),
        (None, "InvalidId"),
        ("ts", "InvalidTimestamp"),
    ]
    assert all(r["message"] for r in answer.body["rejected"])
    assert sorted(i["record_id"] for i in usage.of_type("usage-record")) == ["ok-1", "ok-2"]


@pytest.mark.parametrize(
    "body",
    [
        {"records": [], "extra": 1},
        {
            "records": [
                {
                    "id": "a",
                    "dimension": "requests",
                    "quantity": 1,
                    "timestamp": "2026-11-22T13:00:00Z",
                    "x": 1,
                }
            ]
        },
        {"records": [{"id": "a", "dimension": "requests", "quantity": 1}]},
        {"records": []},
        {"records": "nope"},
        {"records": ["nope"]},
        {"rec": []},
        [],
    ],
    ids=[
        "unknown-top",
        "unknown-in-record",
        "missing-field",
        "empty",
        "not-list",
        "not-object",
        "typo",
        "array",
    ],
)
def test_a_bad_body_is_refused_whole_and_nothing_is_written(
    usage: UsageWorld, key: dict, body: object
) -> None:
    good = {"id": "good", "dimension": "requests", "quantity": 1, "timestamp": iso(now())}
    if isinstance(body, dict) and isinstance(body.get("records"), list) and "extra" in body:
        body["records"].append(good)
    answer = usage.post_usage(key, body)
    assert answer.status == 400 and answer.code == "ValidationError"
    assert usage.items() == []


def test_too_many_records_and_non_json(usage: UsageWorld, key: dict) -> None:
    t = iso(now())
    many = {
        "records": [
            {"id": f"r{i}", "dimension": "requests", "quantity": 1, "timestamp": t} for i in range(501)
        ]
    }
    assert usage.post_usage(key, many).status == 400
    assert usage.post_usage(key, b"{not json").status == 400
    assert usage.post_usage(key, json.dumps({"records": []}).encode(), query=[("dry_run", "1")]).status == 400
    assert usage.items() == []


@pytest.mark.slow(reason="a large batch is many DynamoDB transactions on in-process moto")
def test_a_large_batch_is_counted_in_several_transactions(usage: UsageWorld, key: dict) -> None:
    t = now()
    records = [
        {
            "id": f"r{i}",
            "dimension": ("requests", "characters")[i % 2],
            "quantity": 2,
            "timestamp": iso(t - timedelta(hours=i % 3)),
        }
        for i in range(150)  # > 100 transaction items (moto copies every table per item: keep it small)
    ]
    answer = usage.post_usage(key, {"records": records})
    assert answer.body == {"accepted": 150, "duplicates": 0, "rejected": []}
    assert sum(int(h["quantity"]) for h in usage.hours()) == 300
    retry = usage.post_usage(key, {"records": records})
    assert retry.body == {"accepted": 0, "duplicates": 150, "rejected": []}
    assert sum(int(h["quantity"]) for h in usage.hours()) == 300


def test_unsigned_or_badly_signed_requests_write_nothing(usage: UsageWorld, key: dict) -> None:
    body = json.dumps(
        {"records": [{"id": "a", "dimension": "requests", "quantity": 1, "timestamp": iso(now())}]}
    )
    event = usage.vault.signed_event(
        key["access_key"], key["secret_key"], "POST", "/v1/usage", body=body.encode()
    )
    event["body"] = body.replace('"quantity": 1', '"quantity": 9')
    assert usage.vault.license_api(event).code == "SignatureDoesNotMatch"
    del event["headers"]["Authorization"]
    assert usage.vault.license_api(event).code == "MissingAuthentication"
    assert usage.items() == []


def test_records_are_attributed_to_the_activation_made_with_the_key(usage: UsageWorld, key: dict) -> None:
    activation = {
        "pk": "ACT#act-usage-test",
        "sk": "ACTIVATION",
        "type": "activation",
        "activation_id": "act-usage-test",
        "customer_id": SUB,
        "access_key": key["access_key"],
        "status": "active",
        "gsi1pk": f"CUSTACT#{SUB}",
        "gsi1sk": "2026-11-22T00:00:00.000000Z#act-usage-test",
    }
    usage.ddb.put_item(TableName=DATA_TABLE, Item=dump(activation))
    assert usage.report(key, ("a1", "requests", 1, now())).body["accepted"] == 1
    [record] = usage.of_type("usage-record")
    assert record["activation_id"] == "act-usage-test"
    assert record["attribution"] == "activation"


def test_get_usage_per_day_and_dimension_for_the_caller_only(
    usage: UsageWorld, key: dict, vault: Vault
) -> None:
    t = now()
    earlier = t - timedelta(hours=2)
    usage.report(key, ("a", "requests", 10, t), ("b", "requests", 5, earlier), ("c", "characters", 7, t))
    other = vault.create_key(sub=OTHER_SUB, email=OTHER_EMAIL)
    usage.report(other, ("a", "requests", 999, t))
    first = (t - timedelta(days=1)).strftime("%Y-%m-%d")
    last = (t + timedelta(days=1)).strftime("%Y-%m-%d")

    answer = usage.get_usage(first, last)
    assert answer.status == 200
    expected: dict[tuple[str, str], int] = {}
    for when, dim, qty in ((t, "requests", 10), (earlier, "requests", 5), (t, "characters", 7)):
        day = when.strftime("%Y-%m-%d")
        expected[(day, dim)] = expected.get((day, dim), 0) + qty
    assert answer.body == {
        "usage": [{"date": d, "dimension": dim, "quantity": q} for (d, dim), q in sorted(expected.items())]
    }
    mine = usage.get_usage(first, last, sub=OTHER_SUB, email=OTHER_EMAIL).body["usage"]
    assert [row["quantity"] for row in mine] == [999]
    assert usage.get_usage("2020-01-01", "2020-01-31").body == {"usage": []}


@pytest.mark.parametrize(
    ("first", "last", "extra"),
    [
        ("2026-11-01", None, []),
        (None, "2026-11-30", []),
        ("2026-11-30", "2026-11-01", []),
        ("2026-01-01", "2027-01-02", []),
        ("2026-13-01", "2026-12-01", []),
        ("2026-W47-1", "2026-12-01", []),
        ("2026-11-01", "2026-11-30", [("page", "2")]),
        ("2026-11-01", "2026-11-30", [("from", "2026-11-02")]),
    ],
    ids=["no-to", "no-from", "reversed", "367-days", "bad-month", "week-date", "unknown-param", "twice"],
)
def test_get_usage_validation(usage: UsageWorld, first: str | None, last: str | None, extra: list) -> None:
    query = [(n, v) for n, v in (("from", first), ("to", last)) if v is not None] + extra
    answer = usage.get_usage(first, last, query=query)
    assert answer.status == 400 and answer.code == "ValidationError", answer.body


def test_get_usage_accepts_366_days_and_needs_a_token(usage: UsageWorld) -> None:
    assert usage.get_usage("2024-01-01", "2024-12-31").status == 200  # a leap year: 366 days
    assert usage.get_usage("2026-11-01", "2026-11-30", claims=False).code == "InvalidToken"
