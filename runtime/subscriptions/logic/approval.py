"""The vendor's approval of a subscription (`subscriptions.require_approval`).

With approval on, a newly linked subscription carries `approval_required` and reads as
`pending-approval` (`Subscription.status_at`) until an operator approves it: signed calls then
answer `402 SubscriptionPendingApproval` and nothing is activated. Approval is orthogonal to the
Marketplace state: events go on moving the stored status underneath, and once approved the
subscription reads as whatever Marketplace says. `approve` is the pure transition.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from shared.errors import Conflict, NotFound, ServiceError
from subscriptions.dal.store import StoreContention, SubscriptionStore
from subscriptions.models import Subscription

_ATTEMPTS = 5


class NothingToApprove(Exception):
    """The subscription was linked without the approval requirement."""


def approve(sub: Subscription, operator: str, now: datetime) -> Subscription | None:
    """The approved subscription; None when it is approved already (approving twice changes nothing)."""
    if not sub.approval_required:
        raise NothingToApprove()
    if sub.approved_at is not None:
        return None
    return replace(sub, approved_at=now, approved_by=operator)


def approve_customer(
    store: SubscriptionStore, customer_id: str, operator: str, now: datetime
) -> Subscription:
    """Approve one customer's subscription, under its version condition. `404` when there is none,
    `409` when it never needed approval."""
    for _ in range(_ATTEMPTS):
        before = store.get(customer_id)
        if before is None:
            raise NotFound("No such customer subscription.")
        try:
            after = approve(before, operator, now)
        except NothingToApprove:
            raise Conflict("This subscription does not wait for approval.") from None
        if after is None:
            return before
        try:
            return store.save(after, before, now=now)
        except StoreContention:
            continue
    raise ServiceError("Too many concurrent changes to this subscription; retry.")
