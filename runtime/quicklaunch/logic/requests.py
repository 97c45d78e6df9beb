"""Ask the Quick Launch job to look at a customer: after a registration links a subscription,
and after an agreement or licence event about a linked account (the agreement id, which
PutDeploymentParameter needs, comes from those events: ResolveCustomer does not return it)."""

from __future__ import annotations

from datetime import datetime

from quicklaunch.dal.records import DeploymentKeyRecords
from subscriptions.dal.store import SubscriptionStore
from subscriptions.models import MarketplaceEvent

KINDS = ("agreement-", "license-")


def request_for_event(
    subscriptions: SubscriptionStore, records: DeploymentKeyRecords, event: MarketplaceEvent, now: datetime
) -> str | None:
    """The customer the job will look at, or None when the event is about no linked account."""
    if not event.aws_account_id or not event.kind.startswith(KINDS):
        return None
    sub = subscriptions.by_account(event.aws_account_id)
    if sub is None:
        return None  # registration asks when the account is linked
    records.mark_due(sub.customer_id, now)
    return sub.customer_id
