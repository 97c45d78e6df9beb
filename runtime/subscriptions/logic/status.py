"""Whether a customer's subscription lets them activate a stack now, and what it reads as.

One function on purpose (`subscription_allows_activation`): the activation logic calls it with
the subscription store its handler built and passed in (logic builds no store). Grace ends by the
clock: a `grace` whose `grace_until` has passed reads as `inactive`, with no job involved.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from shared.timestamps import format_timestamp
from subscriptions.models import GRACE, INACTIVE, Subscription


class SubscriptionReader(Protocol):
    """What the check needs of `subscriptions.dal.store.SubscriptionStore`."""

    def get(self, customer_id: str) -> Subscription | None: ...


def subscription_allows_activation(store: SubscriptionReader, customer_id: str, now: datetime) -> bool:
    """True while active, unsubscribe-pending (AWS's final-metering hour) or in grace before
    `grace_until`; False when pending, inactive, past grace, or never subscribed."""
    if not customer_id:
        return False
    sub = store.get(customer_id)
    return sub is not None and sub.allows_activation(now)


def status_document(sub: Subscription | None, now: datetime) -> dict:
    """The `GET /v1/subscription` body; `grace_until` is set only while the status is grace."""
    if sub is None:
        return {"status": INACTIVE, "grace_until": None, "aws_account_id": None}
    status = sub.status_at(now)
    grace_until = format_timestamp(sub.grace_until) if status == GRACE and sub.grace_until else None
    return {"status": status, "grace_until": grace_until, "aws_account_id": sub.aws_account_id}
