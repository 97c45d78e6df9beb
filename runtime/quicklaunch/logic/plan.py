"""What to do about one customer's Quick Launch deployment keys: a pure function of the
subscription, the keys already issued and the clock (no I/O, so every rule is unit-tested).

Rules (README "Quick Launch"):

- a subscription that is active, with a known agreement and no key for it: issue one and deliver it;
- a key drawn but not yet delivered (a failed or interrupted run): deliver it again, with the same
  `clientToken`, so AWS applies it once;
- a key whose agreement is no longer the subscription's (renewed or replaced): revoke it when the
  grace period ends, counted from the moment the replacement is seen;
- the live agreement's key when the subscription is in grace (or past it): revoke it when that
  grace ends;
- a key whose revocation was scheduled but whose agreement is live and active again: keep it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from quicklaunch.models import ISSUING, REVOKED, DeploymentKey
from subscriptions.models import ACTIVE, GRACE, INACTIVE, Subscription

ISSUE = "issue"
DELIVER = "deliver"
SCHEDULE_REVOCATION = "schedule-revocation"
REVOKE = "revoke"
KEEP = "keep"
# Only an ended subscription's key goes: unsubscribe-pending (still in its final-metering window)
# and pending (legacy: payment not confirmed yet) keep the key they have.
ENDED = (GRACE, INACTIVE)


@dataclass(frozen=True)
class Action:
    kind: str
    agreement_id: str
    at: datetime | None = None  # SCHEDULE_REVOCATION: when


def plan(sub: Subscription | None, keys: list[DeploymentKey], now: datetime, grace_days: int) -> list[Action]:
    if sub is None:
        return []
    status = sub.status_at(now)
    live = sub.agreement_id
    actions: list[Action] = []
    by_agreement = {k.agreement_id: k for k in keys}
    if status == ACTIVE and live and live not in by_agreement:
        actions.append(Action(ISSUE, live))
        actions.append(Action(DELIVER, live))
    for key in keys:
        if key.state == REVOKED:
            continue
        if key.agreement_id == live and status not in ENDED:
            if key.state == ISSUING and status == ACTIVE:
                actions.append(Action(DELIVER, key.agreement_id))
            if key.revoke_after is not None:
                actions.append(Action(KEEP, key.agreement_id))
            continue
        if key.revoke_after is None:
            if key.agreement_id != live:
                at = now + timedelta(days=grace_days)
            else:  # the live agreement ended: its grace is the subscription's
                at = sub.grace_until or now
            if at <= now:
                actions.append(Action(REVOKE, key.agreement_id))
            else:
                actions.append(Action(SCHEDULE_REVOCATION, key.agreement_id, at))
        elif key.revoke_after <= now:
            actions.append(Action(REVOKE, key.agreement_id))
    return actions


def next_due(keys: list[DeploymentKey]) -> datetime | None:
    """When the job must look at this customer again (a scheduled revocation), or None."""
    due = [k.revoke_after for k in keys if k.state != REVOKED and k.revoke_after is not None]
    return min(due) if due else None
