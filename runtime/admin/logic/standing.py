"""Suspension: the pure transitions, and the one check every protected call makes.

`check_standing` is enforced in exactly two places: the license API's authentication (every
signed call: a suspended team gets `403 AccountSuspended`, a subscription awaiting the vendor's
approval `402 SubscriptionPendingApproval`) and the developer API's writes (suspended only;
reads still work, so a suspended customer can still see keys, usage and subscription).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from admin.dal.standing import StandingContention, StandingStore
from admin.models import Standing
from shared.errors import AccountSuspended, ServiceError, SubscriptionPendingApproval
from subscriptions.dal.store import SubscriptionStore
from subscriptions.models import PENDING_APPROVAL

_ATTEMPTS = 5


def suspended(before: Standing, reason: str, operator: str, now: datetime) -> Standing | None:
    """The standing after a suspension; None when already suspended (the first reason stays)."""
    if before.suspended:
        return None
    return replace(before, suspended=True, reason=reason, changed_at=now, changed_by=operator)


def resumed(before: Standing, operator: str, now: datetime) -> Standing | None:
    """The standing after a resume; None when not suspended."""
    if not before.suspended:
        return None
    return replace(before, suspended=False, reason=None, changed_at=now, changed_by=operator)


def change_standing(
    store: StandingStore, team_id: str, *, suspend: bool, reason: str | None, operator: str, now: datetime
) -> tuple[Standing, bool]:
    """(the standing now, whether this call changed it), under the item's version condition."""
    for _ in range(_ATTEMPTS):
        before = store.get(team_id)
        after = suspended(before, reason or "", operator, now) if suspend else resumed(before, operator, now)
        if after is None:
            return before, False
        try:
            return store.save(after, before), True
        except StandingContention:
            continue
    raise ServiceError("Too many concurrent changes to this account; retry.")


def suspension_message(contact: str) -> str:
    reach = f" Contact {contact}." if contact else " Contact the vendor."
    return "The vendor has suspended this account." + reach


def check_standing(
    table: str, team_id: str, now: datetime, *, contact: str, signed: bool, dynamodb: object = None
) -> None:
    """Raise `AccountSuspended` for a suspended team; for signed calls also raise
    `SubscriptionPendingApproval` while the vendor has not approved the team's subscription."""
    if StandingStore(table, dynamodb=dynamodb).get(team_id).suspended:
        raise AccountSuspended(suspension_message(contact))
    if not signed:
        return
    sub = SubscriptionStore(table, dynamodb=dynamodb).get(team_id)
    if sub is not None and sub.status_at(now) == PENDING_APPROVAL:
        raise SubscriptionPendingApproval(
            "The vendor has not yet approved this subscription; calls are served once it is approved."
        )
