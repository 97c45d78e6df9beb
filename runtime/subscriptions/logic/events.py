"""Subscription state from AWS Marketplace events: parse, decide, apply.

Two channels carry the same facts (SOURCES.md §1-§3):

- EventBridge (`source: aws.agreement-marketplace`): agreement and licence events naming the
  buyer's account (`detail.acceptor.accountId`), the agreement and, for licence events, the
  licence ARN in a form unlike ResolveCustomer's — so licences are compared on their `l-…` id.
- SNS (legacy, delivered through SQS): `subscribe-success|subscribe-fail|unsubscribe-pending|
  unsubscribe-success|entitlement-updated`, naming only a `customer-identifier`.

Rules: an event is applied at most once (dedupe on its id, in the same transaction as the
change); an event older than the last applied one never changes the state; an event about
an agreement or licence that is not the customer's current one is ignored; an event for an
account or identifier nobody has linked yet is kept and replayed at registration.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from aws_lambda_powertools import Logger

from shared.errors import ServiceError
from shared.timestamps import parse_timestamp
from subscriptions.dal.marketplace import Marketplace
from subscriptions.dal.store import (
    LinkConflict,
    StoreContention,
    SubscriptionStore,
    account_pending_key,
    identifier_pending_key,
)
from subscriptions.models import (
    ACTIVE,
    GRACE,
    INACTIVE,
    PENDING,
    UNSUBSCRIBE_PENDING,
    MarketplaceEvent,
    Subscription,
    metering_license_arn,
)

logger = Logger(child=True)

EVENTBRIDGE_SOURCE = "aws.agreement-marketplace"
_DETAIL_KINDS = {
    "Purchase Agreement Created": "agreement-created",
    "Purchase Agreement Amended": "agreement-amended",
    "Purchase Agreement Ended": "agreement-ended",
    "Purchase Agreement Ending": "agreement-ending",
    "Purchase Agreement Advisory Issued": "agreement-advisory",
    "License Updated": "license-updated",
    "License Deprovisioned": "license-deprovisioned",
}
SNS_ACTIONS = (
    "subscribe-success",
    "subscribe-fail",
    "unsubscribe-pending",
    "unsubscribe-success",
    "entitlement-updated",
)
# What each event says the subscription now is. subscribe-fail → pending: AWS says payment may
# have failed and to wait for subscribe-success before allowing use (saas-notification.md).
TARGET_STATUS = {
    "subscribe-success": ACTIVE,
    "subscribe-fail": PENDING,
    "unsubscribe-pending": UNSUBSCRIBE_PENDING,
    "unsubscribe-success": GRACE,
    "agreement-created": ACTIVE,
    "agreement-amended": ACTIVE,
    "agreement-ended": GRACE,
    "license-updated": ACTIVE,
    "license-deprovisioned": GRACE,
}
REFRESHES_ENTITLEMENTS = {"entitlement-updated", "license-updated"}
_ATTEMPTS = 5
_RETIRED_KEPT = 10

APPLIED = "applied"
REFRESHED = "refreshed"
STALE = "stale"
IGNORED = "ignored"
DUPLICATE = "duplicate"
KEPT = "kept"


class MalformedEvent(ValueError):
    """The payload is not one of the shapes AWS Marketplace sends."""


# ---------------------------------------------------------------------------------- parsing


def _text(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def _section(detail: dict, name: str) -> dict:
    value = detail.get(name)
    return value if isinstance(value, dict) else {}


def _time(value: Any, what: str) -> datetime:
    try:
        return parse_timestamp(value)
    except (TypeError, ValueError):
        raise MalformedEvent(f"{what} is not an RFC 3339 UTC timestamp") from None


def is_eventbridge(document: Any) -> bool:
    return isinstance(document, dict) and "detail-type" in document and "detail" in document


def parse_eventbridge(event: dict) -> MarketplaceEvent:
    """An `aws.agreement-marketplace` event (marketplace-eventbridge-*.json)."""
    if event.get("source") != EVENTBRIDGE_SOURCE:
        raise MalformedEvent(f"source is {str(event.get('source'))[:64]!r}, not {EVENTBRIDGE_SOURCE}")
    event_id = _text(event.get("id"))
    detail_type = _text(event.get("detail-type"))
    detail = event.get("detail")
    if event_id is None or detail_type is None or not isinstance(detail, dict):
        raise MalformedEvent("an EventBridge event needs id, detail-type and detail")
    base = detail_type.rsplit(" - ", 1)[0]
    agreement = _section(detail, "agreement")
    account = _text(_section(detail, "acceptor").get("accountId"))
    if account is not None and not (len(account) == 12 and account.isdigit()):
        raise MalformedEvent("detail.acceptor.accountId is not a 12-digit account id")
    return MarketplaceEvent(
        event_id=f"eb:{event_id}",
        channel="eventbridge",
        kind=_DETAIL_KINDS.get(base, "other"),
        time=_time(event.get("time"), "time"),
        detail_type=detail_type,
        aws_account_id=account,
        product_code=_text(_section(detail, "product").get("code")),
        product_id=_text(_section(detail, "product").get("id")),
        license_arn=_text(_section(detail, "license").get("arn")),
        agreement_id=_text(agreement.get("id")),
        previous_agreement_id=_text(agreement.get("previousAgreementId")),
        agreement_status=_text(agreement.get("status")),
        offer_id=_text(_section(detail, "offer").get("id")),
    )


def parse_sns(envelope: dict) -> MarketplaceEvent | None:
    """An SNS notification envelope (marketplace-sns-*.json); None for non-notifications."""
    kind = envelope.get("Type")
    if kind != "Notification":
        if kind in ("SubscriptionConfirmation", "UnsubscribeConfirmation"):
            return None
        raise MalformedEvent("an SNS envelope needs Type Notification")
    message_id = _text(envelope.get("MessageId"))
    raw = envelope.get("Message")
    if message_id is None or not isinstance(raw, str):
        raise MalformedEvent("an SNS notification needs MessageId and a Message string")
    try:
        message = json.loads(raw)
    except json.JSONDecodeError:
        raise MalformedEvent("the SNS Message is not JSON") from None
    if not isinstance(message, dict):
        raise MalformedEvent("the SNS Message is not a JSON object")
    action = _text(message.get("action"))
    identifier = _text(message.get("customer-identifier"))
    if action is None or identifier is None:
        raise MalformedEvent("the Marketplace message needs action and customer-identifier")
    trial = message.get("isFreeTrialTermPresent")  # a string, "true"/"false" (per AWS)
    return MarketplaceEvent(
        event_id=f"sns:{message_id}",
        channel="sns",
        kind=action if action in SNS_ACTIONS else "other",
        time=_time(envelope.get("Timestamp"), "Timestamp"),
        detail_type=action,
        customer_identifier=identifier,
        product_code=_text(message.get("product-code")),
        offer_id=_text(message.get("offer-identifier")),
        free_trial=(str(trial).lower() == "true") if trial is not None else None,
    )


def sqs_document(body: str) -> dict:
    """An SQS message body as a JSON object, or `MalformedEvent`."""
    try:
        document = json.loads(body)
    except (TypeError, json.JSONDecodeError):
        raise MalformedEvent("the SQS body is not JSON") from None
    if not isinstance(document, dict):
        raise MalformedEvent("the SQS body is not a JSON object")
    return document


def parse_sqs_body(body: str) -> MarketplaceEvent | None:
    """An SQS message body: an SNS envelope (raw delivery off), or an EventBridge event."""
    document = sqs_document(body)
    if is_eventbridge(document):
        return parse_eventbridge(document)
    return parse_sns(document)


# ---------------------------------------------------------------------------------- deciding


@dataclass(frozen=True)
class Decision:
    outcome: str  # APPLIED | REFRESHED | STALE | IGNORED
    after: Subscription | None  # the new state; None = unchanged
    refresh: bool
    reason: str


def grace_end(event_time: datetime, grace_days: int) -> datetime:
    return (event_time + timedelta(days=grace_days)).replace(microsecond=0)


def decide(
    sub: Subscription, event: MarketplaceEvent, grace_days: int, *, has_entitlements: bool = True
) -> Decision:
    """The pure state machine: what `event` does to `sub`."""
    if event.kind == "entitlement-updated":
        if not has_entitlements:
            return Decision(IGNORED, None, False, "entitlements exist only for contract pricing")
        return Decision(REFRESHED, None, True, "entitlements changed")
    target = TARGET_STATUS.get(event.kind)
    if target is None:
        return Decision(IGNORED, None, False, f"{event.kind} does not change a subscription")
    if sub.last_event_time is not None and event.time < sub.last_event_time:
        return Decision(STALE, None, False, "older than the last applied event")
    changes: dict[str, Any] = {}
    if event.kind.startswith("license-"):
        ignored = _licence_changes(sub, event, changes)
    elif event.kind.startswith("agreement-"):
        ignored = _agreement_changes(sub, event, changes)
    else:
        ignored = None
    if ignored is not None:
        return Decision(IGNORED, None, False, ignored)
    target, grace_until = _grace(sub, target, event.time, grace_days)
    after = replace(
        sub,
        status=target,
        grace_until=grace_until,
        last_event_time=event.time,
        last_event_id=event.event_id,
        **changes,
    )
    refresh = has_entitlements and event.kind in REFRESHES_ENTITLEMENTS
    return Decision(APPLIED, after, refresh, f"{event.kind} → {target}")


def _retire(sub: Subscription) -> tuple[str, ...]:
    """The retired agreements once the subscription's current one is replaced."""
    if not sub.agreement_id:
        return sub.retired_agreements
    return (*sub.retired_agreements, sub.agreement_id)[-_RETIRED_KEPT:]


def _licence_changes(sub: Subscription, event: MarketplaceEvent, changes: dict[str, Any]) -> str | None:
    """What a licence event changes (into `changes`), or why it is ignored."""
    if event.agreement_id is not None and event.agreement_id in sub.retired_agreements:
        return "about the licence of a replaced agreement"
    if sub.license_id is not None and event.license_id != sub.license_id:
        if not (event.kind == "license-updated" and event.license_id and event.product_code):
            return "about another licence"
        # A replacement licence of this product for this account (Concurrent Agreements:
        # AWS docs "Concurrent Agreements" in the BatchMeterUsage API reference): adopted, so
        # metering bills the current licence; its agreement replaces the old one.
        changes["license_arn"] = metering_license_arn(sub.license_arn, event.license_arn or "")
    agreement = event.agreement_id
    if agreement and agreement != sub.agreement_id and (changes or not sub.agreement_id):
        changes.update(agreement_id=agreement, retired_agreements=_retire(sub))  # learnt from the licence
    return None


def _agreement_changes(sub: Subscription, event: MarketplaceEvent, changes: dict[str, Any]) -> str | None:
    """What an agreement event changes (into `changes`), or why it is ignored."""
    agreement = event.agreement_id
    if agreement is not None and agreement in sub.retired_agreements:
        return "about a replaced agreement"
    if event.kind == "agreement-created":
        replaced = bool(sub.agreement_id and agreement and sub.agreement_id != agreement)
        retired = _retire(sub) if replaced else sub.retired_agreements
        changes.update(agreement_id=agreement or sub.agreement_id, retired_agreements=retired)
        return None
    if sub.agreement_id and agreement and agreement != sub.agreement_id:
        return "about another agreement"
    if event.kind == "agreement-amended" and event.agreement_status not in (None, "ACTIVE"):
        return "amended agreement is not active"
    if not sub.agreement_id and agreement:
        changes["agreement_id"] = agreement
    return None


def _grace(
    sub: Subscription, target: str, event_time: datetime, grace_days: int
) -> tuple[str, datetime | None]:
    """The status an ending event leads to, and until when the grace lasts."""
    if target != GRACE:
        return target, None
    if sub.status == GRACE and sub.grace_until is not None:
        return target, sub.grace_until  # a second ending event does not extend the grace
    if sub.status in (PENDING, INACTIVE):
        return INACTIVE, None  # never active: nothing to be graceful about
    return target, grace_end(event_time, grace_days)


# ---------------------------------------------------------------------------------- applying


@dataclass(frozen=True)
class EventContext:
    store: SubscriptionStore
    marketplace: Marketplace
    product_code: str
    grace_days: int
    # Contract pricing (`pricing_model` contract | contract_with_usage) is the only kind with
    # entitlements: AWS docs "Amazon SNS notifications for SaaS products" (the
    # aws-mp-entitlement-notification topic is for contract products) and "GetEntitlements"
    # (AWS Marketplace Entitlement Service API reference). A usage-priced product never calls it.
    has_entitlements: bool = False
    product_id: str = ""  # the catalog `prod-…` id, to tell this product's agreements apart
    require_approval: bool = False  # a newly linked subscription waits for the vendor's approval


def refresh_entitlements(ctx: EventContext, sub: Subscription, now: datetime) -> None:
    """Raises `ServiceError` when AWS Marketplace is unavailable (the event is then redelivered).
    Does nothing for a usage-priced product, which has no entitlements to fetch."""
    if not ctx.has_entitlements:
        return
    entitlements = ctx.marketplace.entitlements_for(
        sub.product_code or ctx.product_code, license_arn=sub.license_arn, aws_account_id=sub.aws_account_id
    )
    if entitlements != sub.entitlements or sub.entitlements_updated_at is None:
        ctx.store.set_entitlements(sub.customer_id, entitlements, fetched_at=now, now=now)


def foreign_agreement(ctx: EventContext, sub: Subscription, event: MarketplaceEvent) -> str | None:
    """Why an agreement event is not this product's, or None when it is.

    Agreement events name no product code, and the rule receives every agreement of the seller
    (AWS docs: "Amazon EventBridge events for SaaS products"): a buyer's agreement for another
    product must not change this product's subscription. An agreement is this product's when
    the event names this product's id, when it is the subscription's agreement (learnt from a
    licence event, which names the product, or from an earlier verified event), or when AWS
    Marketplace's Agreement API says so (AWS docs: "DescribeAgreement", AWS Marketplace Agreement
    API reference: `proposalSummary.resources[].id` is the product id). Raises `ServiceError`
    when that API is unavailable, so the event is redelivered.
    """
    if not event.kind.startswith("agreement-"):
        return None
    if event.product_id:
        return None if event.product_id == ctx.product_id else "about another product's agreement"
    agreement = event.agreement_id
    if agreement is None:
        return "the agreement event names no agreement"
    if agreement == sub.agreement_id or agreement in sub.retired_agreements:
        return None
    if not ctx.product_id:
        logger.error("agreement event not applied: no product id configured", extra=_facts(event))
        return "unknown agreement and no product id to check it against"
    if ctx.product_id in ctx.marketplace.agreement_products(agreement):
        return None
    return "about another product's agreement"


def apply_to(
    ctx: EventContext, customer_id: str, event: MarketplaceEvent, now: datetime, *, refresh: bool = True
) -> str:
    """Apply one event to one customer's subscription, at most once."""
    foreign: str | None = None
    checked = False
    for _ in range(_ATTEMPTS):
        before = ctx.store.get(customer_id)
        if before is None:
            return IGNORED
        if not checked:
            foreign, checked = foreign_agreement(ctx, before, event), True
        if foreign is not None:
            decision = Decision(IGNORED, None, False, foreign)
        else:
            decision = decide(before, event, ctx.grace_days, has_entitlements=ctx.has_entitlements)
        if decision.refresh and refresh and not ctx.store.was_processed(event.event_id):
            # Before the event is marked processed, so a failure is retried with the event.
            refresh_entitlements(ctx, before, now)
        try:
            stored = ctx.store.apply_event(
                event,
                customer_id=customer_id,
                before=before,
                after=decision.after,
                outcome=decision.outcome,
                now=now,
            )
        except StoreContention:
            continue
        if stored is None:
            logger.info("marketplace event already processed", extra=_facts(event, customer_id))
            return DUPLICATE
        logger.info(
            "marketplace event processed",
            extra={
                **_facts(event, customer_id),
                "outcome": decision.outcome,
                "reason": decision.reason,
                "status": stored.status,
            },
        )
        return decision.outcome
    raise ServiceError("Too many concurrent changes to one subscription; retry.")


def _facts(event: MarketplaceEvent, customer_id: str | None = None) -> dict[str, Any]:
    facts = {
        "event_id": event.event_id,
        "kind": event.kind,
        "event_time": event.time.isoformat(),
        "aws_account_id": event.aws_account_id,
        "agreement_id": event.agreement_id,
        "license_id": event.license_id,
    }
    if customer_id:
        facts["customer_id"] = customer_id
    return {k: v for k, v in facts.items() if v is not None}


def _pending_key(event: MarketplaceEvent) -> str | None:
    if event.aws_account_id:
        return account_pending_key(event.aws_account_id)
    if event.customer_identifier:
        return identifier_pending_key(event.customer_identifier)
    return None


def locate(
    ctx: EventContext, event: MarketplaceEvent, now: datetime, *, resolve: bool = True
) -> Subscription | None:
    """The subscription an event is about: by account, or by legacy customer identifier.

    A customer identifier nobody has linked (new integrations never learn it from
    ResolveCustomer) is looked up once through GetEntitlements, whose rows name the account.
    """
    if event.aws_account_id:
        return ctx.store.by_account(event.aws_account_id)
    identifier = event.customer_identifier
    if not identifier:
        return None
    sub = ctx.store.by_customer_identifier(identifier)
    if sub is not None or not resolve or not ctx.has_entitlements:
        return sub  # usage pricing has no GetEntitlements: kept until registration links it
    try:
        account = ctx.marketplace.account_of_identifier(ctx.product_code, identifier)
    except ServiceError:
        logger.warning("customer identifier lookup failed", extra=_facts(event))
        return None
    sub = ctx.store.by_account(account) if account else None
    if sub is None or sub.customer_identifier:
        return None
    try:  # remember the identifier, so later messages map directly
        return ctx.store.link(replace(sub, customer_identifier=identifier), sub, now=now)
    except (LinkConflict, StoreContention):
        return ctx.store.by_customer_identifier(identifier)


def handle_event(ctx: EventContext, event: MarketplaceEvent, now: datetime) -> str:
    """Process one parsed event end to end; returns its outcome."""
    if event.kind not in TARGET_STATUS and event.kind != "entitlement-updated":
        logger.info("marketplace event needs no action", extra=_facts(event))
        return IGNORED
    if event.kind == "entitlement-updated" and not ctx.has_entitlements:
        logger.info("entitlement-updated ignored: the product is usage-priced", extra=_facts(event))
        return IGNORED
    if (event.product_code and ctx.product_code and event.product_code != ctx.product_code) or (
        event.product_id and ctx.product_id and event.product_id != ctx.product_id
    ):
        logger.info("marketplace event for another product", extra=_facts(event))
        return IGNORED
    sub = locate(ctx, event, now)
    if sub is None:
        key = _pending_key(event)
        if key is None:
            raise MalformedEvent("the event names neither an account nor a customer identifier")
        ctx.store.keep_pending(key, event, now=now)
        sub = locate(ctx, event, now, resolve=False)  # linked meanwhile? then replay ourselves
        if sub is None:
            logger.warning("marketplace event for an unlinked customer kept", extra=_facts(event))
            return KEPT
        replay_pending(ctx, sub, now)
        return APPLIED if ctx.store.was_processed(event.event_id) else KEPT
    return apply_to(ctx, sub.customer_id, event, now)


def replay_pending(ctx: EventContext, sub: Subscription, now: datetime) -> int:
    """Apply, oldest first, the events kept for this subscription's account and identifier."""
    keys = [account_pending_key(sub.aws_account_id)]
    if sub.customer_identifier:
        keys.append(identifier_pending_key(sub.customer_identifier))
    kept = [(key, sk, event) for key in keys for sk, event in ctx.store.pending(key)]
    for key, sk, event in sorted(kept, key=lambda entry: (entry[2].time, entry[1])):
        apply_to(ctx, sub.customer_id, event, now, refresh=False)
        ctx.store.drop_pending(key, sk)
    return len(kept)
