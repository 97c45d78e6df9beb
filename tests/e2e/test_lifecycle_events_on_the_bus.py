"""Lifecycle events end to end (issue 14, item 5): what a customer and an operator do in the
sandbox reaches the vendor's event bus as one event per transition, through the tables' streams,
the translator and an EventBridge rule, as a vendor's own consumer would receive them."""

from __future__ import annotations

from collections import Counter

import pytest

from tests.plugins.admin_calls import activate, admin_call, customer

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("sandbox")]


def events_of(api, team_id: str) -> list[dict]:
    status, body, _ = api.call("GET", "/_sandbox/events")
    assert status == 200, body
    return [e for e in body["events"] if e["detail"].get("team_id") == team_id]


def test_each_transition_is_one_event_with_a_stable_id(sandbox, api):
    who = customer(api, account="210000000011")
    status, answer = activate(api, who)
    assert status == 200, answer
    assert (
        admin_call(sandbox, api, "POST", f"/v1/admin/customers/{who['team_id']}/suspend", {"reason": "test"})[
            0
        ]
        == 200
    )
    assert admin_call(sandbox, api, "POST", f"/v1/admin/customers/{who['team_id']}/resume")[0] == 200
    # The key is used by a live stack (its activation above): revoking it needs the confirmation.
    path = f"/v1/keys/{who['key']['access_key']}"
    assert api.call("DELETE", path, headers=who["bearer"])[0] == 409
    status, _, _ = api.call("DELETE", f"{path}?confirm=true", headers=who["bearer"])
    assert status == 204

    events = events_of(api, who["team_id"])
    counts = Counter(e["detail-type"] for e in events)
    assert counts == {
        "key.created": 1,
        "subscription.subscribed": 1,
        "stack.activated": 1,
        "customer.suspended": 1,
        "customer.resumed": 1,
        "key.revoked": 1,
    }, counts
    for event in events:
        assert event["source"] == "vendstack.platform"
        assert event["detail"]["type"] == event["detail-type"]
        assert event["detail"]["event_id"].startswith(event["detail-type"] + ":")
    suspended = next(e for e in events if e["detail-type"] == "customer.suspended")
    assert suspended["detail"]["operator"] == "arn:aws:iam::123456789012:user/vendstack-operator"
    # Reading again delivers nothing new: each committed write was translated once.
    again = events_of(api, who["team_id"])
    assert sorted(e["detail"]["event_id"] for e in again) == sorted(e["detail"]["event_id"] for e in events)
    assert len({e["detail"]["event_id"] for e in events}) == len(events)
