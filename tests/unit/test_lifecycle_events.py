"""The lifecycle translator: which committed writes become which events, once per transition,
with ids that repeat exactly when the fact repeats (so consumers can deduplicate)."""

from __future__ import annotations

from boto3.dynamodb.types import TypeSerializer

from events.dal.bus import LifecycleBus, PublishFailed
from events.logic.translate import SOURCE, translate

_s = TypeSerializer()


def record(new: dict, old: dict | None = None, name: str | None = None) -> dict:
    body = {"NewImage": {k: _s.serialize(v) for k, v in new.items()}}
    if old is not None:
        body["OldImage"] = {k: _s.serialize(v) for k, v in old.items()}
    return {"eventName": name or ("MODIFY" if old else "INSERT"), "dynamodb": body}


KEY = {
    "pk": "KEY#VSAKAAAAAAAAAAAAAAAA",
    "sk": "KEY",
    "type": "key",
    "access_key": "VSAKAAAAAAAAAAAAAAAA",
    "owner": "team-1",
    "status": "active",
    "created_at": "2026-11-27T10:00:00.000000Z",
    "expires_at": "2027-01-01T00:00:00Z",
}
SUB = {
    "pk": "SUB#team-1",
    "sk": "SUB",
    "type": "subscription",
    "customer_id": "team-1",
    "aws_account_id": "111111111111",
    "product_code": "p",
    "status": "active",
    "linked_at": "2026-11-27T10:00:00Z",
    "version": 1,
}


def types(events) -> list[str]:
    return [e.detail_type for e in events]


def test_key_created_and_revoked_once():
    (created,) = translate(record(KEY))
    assert created.detail_type == "key.created"
    assert created.detail["team_id"] == "team-1" and created.detail["access_key"] == KEY["access_key"]
    used = {**KEY, "last_used_at": "2026-11-27T11:00:00Z"}
    assert translate(record(used, KEY)) == []  # a use is no lifecycle fact
    revoked = {**used, "status": "revoked", "revoked_at": "2026-11-27T12:00:00Z"}
    assert types(translate(record(revoked, used))) == ["key.revoked"]
    assert translate(record(revoked, revoked)) == []


def test_subscription_subscribed_approved_and_grace():
    waiting = {**SUB, "approval_required": True}
    (subscribed,) = translate(record(waiting))
    assert (
        subscribed.detail_type == "subscription.subscribed" and subscribed.detail["approval_required"] is True
    )
    approved = {
        **waiting,
        "approved_at": "2026-11-27T11:00:00Z",
        "approved_by": "arn:aws:iam::1:user/o",
        "version": 2,
    }
    (event,) = translate(record(approved, waiting))
    assert (
        event.detail_type == "subscription.approved" and event.detail["operator"] == "arn:aws:iam::1:user/o"
    )
    graced = {**approved, "status": "grace", "grace_until": "2026-12-07T00:00:00Z", "version": 3}
    assert types(translate(record(graced, approved))) == ["subscription.entered_grace"]
    assert translate(record({**graced, "version": 4}, graced)) == []  # still in the same grace


def test_suspended_and_resumed():
    standing = {"pk": "STANDING#team-1", "sk": "STANDING", "type": "standing", "team_id": "team-1"}
    on = {
        **standing,
        "suspended": True,
        "changed_at": "2026-11-27T10:00:00Z",
        "changed_by": "arn:o",
        "version": 1,
    }
    assert types(translate(record(on))) == ["customer.suspended"]
    off = {**on, "suspended": False, "version": 2}
    assert types(translate(record(off, on))) == ["customer.resumed"]


def test_activation_once_per_issue():
    act = {
        "pk": "ACT#act-1",
        "sk": "ACTIVATION",
        "type": "activation",
        "activation_id": "act-1",
        "customer_id": "team-1",
        "status": "active",
        "issued_at": "2026-11-27T10:00:00Z",
        "account_id": "111111111111",
    }
    assert types(translate(record(act))) == ["stack.activated"]
    assert translate(record({**act, "status": "deactivated"}, act)) == []
    update = {**act, "issued_at": "2026-11-27T11:00:00Z", "last_request_type": "Update"}
    assert types(translate(record(update, act))) == ["stack.activated"]


def test_hour_metered_and_metering_failed():
    hour = {
        "pk": "USAGE#team-1",
        "sk": "HOUR#2026-11-27T10:00:00Z#requests",
        "type": "usage-hour",
        "customer_id": "team-1",
        "dimension": "requests",
        "hour": "2026-11-27T10:00:00Z",
        "quantity": 7,
    }
    pending = {**hour, "meter_status": "pending"}
    assert translate(record(pending, hour)) == []
    metered = {
        **pending,
        "meter_status": "metered",
        "metering_record_id": "mr-1",
        "metered_at": "2026-11-27T14:00:00Z",
    }
    (event,) = translate(record(metered, pending))
    assert event.detail_type == "usage.hour_metered" and event.detail["metering_record_id"] == "mr-1"
    assert translate(record({**metered, "updated_at": "x"}, metered)) == []
    failed = {**pending, "meter_status": "failed", "meter_error": "refused"}
    assert types(translate(record(failed, pending))) == ["usage.metering_failed"]
    assert translate(record({**hour, "quantity": 9}, hour)) == []  # ingestion is not a lifecycle fact


def test_ids_are_deterministic_and_distinct():
    first = translate(record(KEY))[0]
    again = translate(record(KEY))[0]  # the same stream record delivered twice
    assert first.event_id == again.event_id
    other = translate(
        record({**KEY, "pk": "KEY#VSAKBBBBBBBBBBBBBBBB", "access_key": "VSAKBBBBBBBBBBBBBBBB"})
    )[0]
    assert other.event_id != first.event_id
    assert first.event_id.startswith("key.created:")


def test_removals_and_other_items_say_nothing():
    assert translate(record(KEY, name="REMOVE")) == []
    assert translate(record({"pk": "NONCE#x", "sk": "NONCE", "type": "nonce"})) == []


class FakeEvents:
    def __init__(self, fail_first: int = 0) -> None:
        self.calls: list[list[dict]] = []
        self.fail_first = fail_first

    def put_events(self, Entries):  # noqa: N803 - boto3's parameter name
        self.calls.append(Entries)
        if self.fail_first:
            self.fail_first -= 1
            return {
                "FailedEntryCount": 1,
                "Entries": [{"ErrorCode": "InternalFailure"}] + [{"EventId": "e"}] * (len(Entries) - 1),
            }
        return {"FailedEntryCount": 0, "Entries": [{"EventId": "e"}] * len(Entries)}


def test_the_bus_sends_ten_at_a_time_and_resends_only_failed_entries():
    events = translate(record(KEY)) * 12
    fake = FakeEvents(fail_first=1)
    assert LifecycleBus("bus", events_client=fake).publish(events) == 12
    assert [len(c) for c in fake.calls] == [10, 1, 2]
    assert all(entry["Source"] == SOURCE and entry["EventBusName"] == "bus" for entry in fake.calls[0])


def test_the_bus_raises_when_entries_keep_failing():
    fake = FakeEvents(fail_first=10)
    try:
        LifecycleBus("bus", events_client=fake).publish(translate(record(KEY)))
    except PublishFailed:
        return
    raise AssertionError("a batch EventBridge keeps refusing must fail, so the stream retries it")
