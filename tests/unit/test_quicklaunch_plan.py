"""The pure rules of Quick Launch's deployment keys (`quicklaunch.logic.plan`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from quicklaunch.logic.plan import DELIVER, ISSUE, KEEP, REVOKE, SCHEDULE_REVOCATION, Action, next_due, plan
from quicklaunch.models import DELIVERED, ISSUING, REVOKED, DeploymentKey, deployment_key_label
from subscriptions.models import ACTIVE, GRACE, INACTIVE, PENDING, UNSUBSCRIBE_PENDING, Subscription

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
GRACE_DAYS = 10


def sub(
    status: str = ACTIVE, agreement: str | None = "agmt-new", grace_until: datetime | None = None
) -> Subscription:
    return Subscription(
        customer_id="c1",
        email="c1@example.com",
        aws_account_id="111122223333",
        product_code="code",
        status=status,
        agreement_id=agreement,
        grace_until=grace_until,
    )


def key(agreement: str, state: str = DELIVERED, revoke_after: datetime | None = None) -> DeploymentKey:
    return DeploymentKey(
        "c1", agreement, "VSAK" + "A" * 16, state, NOW - timedelta(days=1), revoke_after=revoke_after
    )


def test_active_subscription_with_an_agreement_gets_a_key():
    assert plan(sub(), [], NOW, GRACE_DAYS) == [Action(ISSUE, "agmt-new"), Action(DELIVER, "agmt-new")]


@pytest.mark.parametrize("status", [PENDING, UNSUBSCRIBE_PENDING, GRACE, INACTIVE])
def test_no_key_unless_active(status):
    assert plan(sub(status, grace_until=NOW + timedelta(days=1)), [], NOW, GRACE_DAYS) == []


def test_no_agreement_known_yet_means_nothing():
    assert plan(sub(agreement=None), [], NOW, GRACE_DAYS) == []
    assert plan(None, [key("agmt-new")], NOW, GRACE_DAYS) == []


def test_delivered_key_of_the_live_agreement_is_left_alone():
    assert plan(sub(), [key("agmt-new")], NOW, GRACE_DAYS) == []


def test_undelivered_key_is_delivered_again_not_reissued():
    assert plan(sub(), [key("agmt-new", ISSUING)], NOW, GRACE_DAYS) == [Action(DELIVER, "agmt-new")]


def test_replaced_agreement_key_is_rotated_and_the_old_one_retired_after_grace():
    actions = plan(sub(), [key("agmt-old")], NOW, GRACE_DAYS)
    assert actions == [
        Action(ISSUE, "agmt-new"),
        Action(DELIVER, "agmt-new"),
        Action(SCHEDULE_REVOCATION, "agmt-old", NOW + timedelta(days=GRACE_DAYS)),
    ]


def test_scheduled_revocation_happens_when_due_not_before():
    due = NOW + timedelta(hours=1)
    keys = [key("agmt-new"), key("agmt-old", revoke_after=due)]
    assert plan(sub(), keys, NOW, GRACE_DAYS) == []
    assert plan(sub(), keys, due, GRACE_DAYS) == [Action(REVOKE, "agmt-old")]
    assert next_due(keys) == due


def test_ended_subscription_key_is_revoked_when_its_grace_ends():
    grace_until = NOW + timedelta(days=3)
    in_grace = sub(GRACE, grace_until=grace_until)
    assert plan(in_grace, [key("agmt-new")], NOW, GRACE_DAYS) == [
        Action(SCHEDULE_REVOCATION, "agmt-new", grace_until)
    ]
    lapsed = plan(in_grace, [key("agmt-new")], grace_until, GRACE_DAYS)
    assert lapsed == [Action(REVOKE, "agmt-new")]


def test_reinstated_agreement_keeps_its_key():
    keys = [key("agmt-new", revoke_after=NOW + timedelta(days=2))]
    assert plan(sub(), keys, NOW, GRACE_DAYS) == [Action(KEEP, "agmt-new")]
    assert plan(sub(UNSUBSCRIBE_PENDING), keys, NOW, GRACE_DAYS) == [Action(KEEP, "agmt-new")]


def test_revoked_keys_are_done():
    keys = [key("agmt-old", REVOKED, revoke_after=NOW - timedelta(days=1)), key("agmt-new")]
    assert plan(sub(), keys, NOW, GRACE_DAYS) == []
    assert next_due(keys) is None


def test_label_fits_the_key_rules():
    label = deployment_key_label("agmt-" + "x" * 80)
    assert 1 <= len(label) <= 64 and label.isprintable()


def test_client_token_is_deterministic_and_fits_the_model():
    import re

    from quicklaunch.logic.deliver import client_token
    from sandbox.marketplace_model import DEPLOYMENT, service_model

    shape = service_model(DEPLOYMENT).shape_for("ClientToken")
    token = client_token("agmt-1", "VSAKAAAAAAAAAAAAAAAA", "DeploymentKey")
    assert token == client_token("agmt-1", "VSAKAAAAAAAAAAAAAAAA", "DeploymentKey")
    assert token != client_token("agmt-1", "VSAKBBBBBBBBBBBBBBBB", "DeploymentKey")
    assert shape.metadata["min"] <= len(token) <= shape.metadata["max"]
    assert re.match(shape.metadata["pattern"], token)


def test_job_never_runs_ahead_of_the_real_clock_outside_the_sandbox():
    """An invocation dated in the future must not revoke a key before its grace has ended."""
    from quicklaunch.handlers.job import job_clock

    future = {"time": "2030-01-01T00:00:00Z"}
    assert job_clock(future, env={}, real_now=NOW) == NOW
    assert job_clock(future, env={"VS_SANDBOX_EVENT_CLOCK": "1"}, real_now=NOW) == datetime(
        2030, 1, 1, tzinfo=UTC
    )
    assert job_clock({"time": "2026-11-27T11:00:00Z"}, env={}, real_now=NOW) == NOW - timedelta(hours=1)
    with pytest.raises(ValueError, match="RFC 3339"):
        job_clock({"time": "garbage"}, env={}, real_now=NOW)
    assert job_clock({}, env={}, real_now=NOW) == NOW
