"""Link an AWS Marketplace subscription to the signed-in customer (docs/protocol.md §3).

The developer page receives the buyer from AWS Marketplace with a registration token
(`x-amzn-marketplace-token`), the customer signs in, and the page posts the token here.
ResolveCustomer turns it into the buyer's AWS account and licence; the link is one DynamoDB
transaction that also claims the account, so one AWS account belongs to one customer.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from aws_lambda_powertools import Logger

from shared.callers import Caller
from shared.errors import Conflict, InvalidRegistrationToken, ServiceError
from subscriptions.dal.marketplace import ResolvedCustomer
from subscriptions.dal.store import LinkConflict, StoreContention
from subscriptions.logic.events import EventContext, refresh_entitlements, replay_pending
from subscriptions.models import ACTIVE, INACTIVE, PENDING, Subscription

logger = Logger(child=True)
_ATTEMPTS = 5
_RELINKABLE = (INACTIVE, PENDING)


def initial_status(resolved: ResolvedCustomer) -> str:
    """A licence (new integration) is issued once the agreement exists → active. Legacy
    integrations wait for `subscribe-success` (AWS: payment may still fail) → pending."""
    return ACTIVE if resolved.license_arn else PENDING


def linked_state(
    before: Subscription | None, resolved: ResolvedCustomer, caller: Caller, now: datetime
) -> Subscription | None:
    """The subscription after linking `resolved`; None when nothing changes (idempotent)."""
    fresh = Subscription(
        customer_id=caller.customer_id,
        email=caller.email,
        aws_account_id=resolved.aws_account_id,
        product_code=resolved.product_code,
        status=initial_status(resolved),
        license_arn=resolved.license_arn,
        customer_identifier=resolved.customer_identifier,
        linked_at=now,
    )
    if before is None:
        return fresh
    if before.aws_account_id != resolved.aws_account_id:
        if before.status_at(now) not in _RELINKABLE:
            raise Conflict(
                "Your account is already linked to a live AWS Marketplace subscription of another "
                "AWS account; it must end before you link a new one."
            )
        return replace(fresh, version=before.version)
    same_licence = (before.license_id or None) == (fresh.license_id or None)
    if same_licence and (fresh.customer_identifier in (None, before.customer_identifier)):
        if before.email == caller.email:
            return None
        return replace(before, email=caller.email)
    if same_licence:  # legacy: a new customer identifier for the same account
        return replace(before, customer_identifier=fresh.customer_identifier, email=caller.email)
    # A new licence for the same account: the buyer subscribed again. The old agreement is
    # retired so its late events cannot end the new subscription.
    retired = before.retired_agreements
    if before.agreement_id:
        retired = (*retired, before.agreement_id)[-10:]
    return replace(
        fresh,
        customer_identifier=fresh.customer_identifier or before.customer_identifier,
        entitlements=before.entitlements,
        entitlements_updated_at=before.entitlements_updated_at,
        retired_agreements=retired,
        last_event_time=before.last_event_time,
        last_event_id=before.last_event_id,
        version=before.version,
    )


def with_approval(wanted: Subscription, before: Subscription | None, require_approval: bool) -> Subscription:
    """Approval belongs to the customer: once the vendor approved it, a relink or a new licence
    keeps it; otherwise a link made while `require_approval` is on waits for the vendor."""
    if before is not None and before.approved_at is not None:
        return replace(
            wanted,
            approval_required=before.approval_required,
            approved_at=before.approved_at,
            approved_by=before.approved_by,
        )
    required = require_approval or (before is not None and before.approval_required)
    return replace(wanted, approval_required=required, approved_at=None, approved_by=None)


def register(ctx: EventContext, caller: Caller, registration_token: str, now: datetime) -> dict:
    resolved = ctx.marketplace.resolve_customer(registration_token)
    if ctx.product_code and resolved.product_code != ctx.product_code:
        raise InvalidRegistrationToken("The registration token is for another product.")
    for _ in range(_ATTEMPTS):
        before = ctx.store.get(caller.customer_id)
        wanted = linked_state(before, resolved, caller, now)
        if wanted is not None:
            wanted = with_approval(wanted, before, ctx.require_approval)
        if wanted is None:
            sub = before
            break
        try:
            sub = ctx.store.link(wanted, before, now=now)
            break
        except LinkConflict:
            raise Conflict(
                "This AWS Marketplace subscription is already linked to another customer."
            ) from None
        except StoreContention:
            continue
    else:
        raise ServiceError("Too many concurrent changes to your subscription; retry.")
    assert sub is not None  # noqa: S101 - linked_state returns None only when `before` exists
    replayed = replay_pending(ctx, sub, now)
    try:
        refresh_entitlements(ctx, sub, now)
    except ServiceError:  # entitlements are refreshed again on the next licence event
        logger.warning("entitlements not refreshed at registration", extra={"customer_id": sub.customer_id})
    current = ctx.store.get(caller.customer_id) or sub
    logger.info(
        "marketplace subscription linked",
        extra={
            "customer_id": current.customer_id,
            "aws_account_id": current.aws_account_id,
            "license_id": current.license_id,
            "legacy": current.customer_identifier is not None,
            "replayed_events": replayed,
            "status": current.status_at(now),
        },
    )
    return {
        "status": current.status_at(now),
        "aws_account_id": current.aws_account_id,
        "product_code": current.product_code,
    }
