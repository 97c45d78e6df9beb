"""Typed models of the AWS Marketplace subscription feature.

A `Subscription` is what the platform knows about one customer's Marketplace subscription;
a `MarketplaceEvent` is one notification from AWS Marketplace (an EventBridge event or an
SNS message), normalized so the state machine in `logic.events` reads one shape.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from shared.timestamps import parse_timestamp

ACTIVE = "active"
PENDING = "pending"
UNSUBSCRIBE_PENDING = "unsubscribe-pending"
GRACE = "grace"
INACTIVE = "inactive"
# Not stored: what `status_at` reads while the vendor has not approved a subscription that
# needs approval (`subscriptions.require_approval`); the Marketplace state goes on underneath.
PENDING_APPROVAL = "pending-approval"
STATUSES = (ACTIVE, PENDING, UNSUBSCRIBE_PENDING, GRACE, INACTIVE, PENDING_APPROVAL)
# Marketplace states that wait for the vendor's approval; an ended subscription that was never
# approved was never served, so it reads as inactive (nothing to be graceful about).
_AWAITING_APPROVAL = (ACTIVE, PENDING, UNSUBSCRIBE_PENDING)

# The l-… id is the one part every form of a licence ARN shares (SOURCES.md §3): ResolveCustomer
# says `arn:aws:license-manager::<acct>:license:l-<id>`, EventBridge events
# `aws:license-manager:<region>:<acct>:l-<id>`.
_LICENSE_ID_RE = re.compile(r"(?:^|[:/])(l-[0-9A-Za-z]+)$")


def license_id(arn: str | None) -> str | None:
    """The `l-…` id of a licence ARN in any of its forms; None when there is none."""
    if not arn:
        return None
    match = _LICENSE_ID_RE.search(arn.strip())
    return match.group(1) if match else None


def same_license(a: str | None, b: str | None) -> bool:
    first, second = license_id(a), license_id(b)
    return first is not None and first == second


def metering_license_arn(current: str | None, event_arn: str) -> str:
    """The ARN to meter a replacement licence with, in ResolveCustomer's form.

    EventBridge names a licence as `aws:license-manager:<region>:<acct>:l-<id>`, BatchMeterUsage
    takes `arn:aws:license-manager::<acct>:license:l-<id>` (SOURCES.md §3; AWS docs "Amazon
    EventBridge events" and "BatchMeterUsage"). The owner account of the form BatchMeterUsage
    takes is kept from the current licence when there is one (the same product's licences
    share their issuer); otherwise it is the event's. An inference: AWS documents no mapping.
    """
    new_id = license_id(event_arn)
    if new_id is None or event_arn.startswith("arn:"):
        return event_arn
    if current and current.startswith("arn:") and license_id(current):
        return current[: current.rindex(license_id(current) or "")] + new_id
    parts = event_arn.split(":")
    owner = parts[3] if len(parts) > 4 else ""
    return f"arn:aws:license-manager::{owner}:license:{new_id}"


@dataclass(frozen=True)
class Subscription:
    """One customer's subscription item (`pk=SUB#<customer_id>`, `sk=SUB`)."""

    customer_id: str
    email: str
    aws_account_id: str
    product_code: str
    status: str  # as stored; `status_at` turns a lapsed grace into inactive
    license_arn: str | None = None
    customer_identifier: str | None = None  # legacy integrations only
    grace_until: datetime | None = None
    entitlements: dict = field(default_factory=dict)
    entitlements_updated_at: datetime | None = None
    agreement_id: str | None = None
    retired_agreements: tuple[str, ...] = ()
    linked_at: datetime | None = None
    updated_at: datetime | None = None
    last_event_time: datetime | None = None
    last_event_id: str | None = None
    approval_required: bool = False  # set when linked while `require_approval` was on
    approved_at: datetime | None = None
    approved_by: str | None = None  # the operator's IAM principal ARN
    version: int = 0  # 0 = not stored yet

    @property
    def license_id(self) -> str | None:
        return license_id(self.license_arn)

    @property
    def awaiting_approval(self) -> bool:
        return self.approval_required and self.approved_at is None

    def status_at(self, now: datetime) -> str:
        """Grace ends by the clock, not by a job: a lapsed grace reads as inactive. A subscription
        awaiting the vendor's approval reads as pending-approval while Marketplace says it is live."""
        status = self.status
        if status == GRACE and (self.grace_until is None or now >= self.grace_until):
            status = INACTIVE
        if self.awaiting_approval:
            return PENDING_APPROVAL if status in _AWAITING_APPROVAL else INACTIVE
        return status

    def allows_activation(self, now: datetime) -> bool:
        return self.status_at(now) in (ACTIVE, UNSUBSCRIBE_PENDING, GRACE)


@dataclass(frozen=True)
class MarketplaceEvent:
    """One notification from AWS Marketplace, whichever way it came.

    `kind` is the SNS action (`subscribe-success`, …, `entitlement-updated`) or, for EventBridge,
    `agreement-created|agreement-amended|agreement-ended|agreement-ending|agreement-advisory|
    license-updated|license-deprovisioned|other`.
    """

    event_id: str  # `eb:<EventBridge id>` or `sns:<SNS MessageId>`: the dedupe key
    channel: str  # "eventbridge" | "sns"
    kind: str
    time: datetime
    detail_type: str = ""
    aws_account_id: str | None = None
    customer_identifier: str | None = None
    product_code: str | None = None
    product_id: str | None = None  # the catalog `prod-…` id, when the event names it
    license_arn: str | None = None
    agreement_id: str | None = None
    previous_agreement_id: str | None = None
    agreement_status: str | None = None
    offer_id: str | None = None
    free_trial: bool | None = None

    @property
    def license_id(self) -> str | None:
        return license_id(self.license_arn)


def event_to_dict(event: MarketplaceEvent) -> dict:
    """A plain JSON-able form (times as RFC 3339 with microseconds), for keeping an event."""
    document = {k: v for k, v in event.__dict__.items() if v is not None}
    document["time"] = event.time.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return document


def event_from_dict(document: dict) -> MarketplaceEvent:
    values = dict(document)
    values["time"] = parse_timestamp(values["time"])
    known = MarketplaceEvent.__dataclass_fields__
    return MarketplaceEvent(**{k: v for k, v in values.items() if k in known})


# -- item layout (the platform-data table), read by the subscription store and by other features'
# stores that read a subscription item directly (metering, teams)

SUB_SK = "SUB"


def sub_pk(customer_id: str) -> str:
    return f"SUB#{customer_id}"


def timestamp_or_none(value: Any) -> datetime | None:
    return parse_timestamp(value) if isinstance(value, str) and value else None


def plain_numbers(value: Any) -> Any:
    """DynamoDB numbers come back as Decimal; whole ones become int for JSON callers."""
    if isinstance(value, dict):
        return {k: plain_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain_numbers(v) for v in value]
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else value
    return value


def subscription_from_item(item: dict[str, Any]) -> Subscription:
    return Subscription(
        customer_id=item["customer_id"],
        email=item.get("email", ""),
        aws_account_id=item["aws_account_id"],
        product_code=item.get("product_code", ""),
        status=item["status"],
        license_arn=item.get("license_arn"),
        customer_identifier=item.get("customer_identifier"),
        grace_until=timestamp_or_none(item.get("grace_until")),
        entitlements=plain_numbers(item.get("entitlements") or {}),
        entitlements_updated_at=timestamp_or_none(item.get("entitlements_updated_at")),
        agreement_id=item.get("agreement_id"),
        retired_agreements=tuple(item.get("retired_agreements") or ()),
        linked_at=timestamp_or_none(item.get("linked_at")),
        updated_at=timestamp_or_none(item.get("updated_at")),
        last_event_time=timestamp_or_none(item.get("last_event_time")),
        last_event_id=item.get("last_event_id"),
        approval_required=bool(item.get("approval_required", False)),
        approved_at=timestamp_or_none(item.get("approved_at")),
        approved_by=item.get("approved_by"),
        version=int(item.get("version", 0)),
    )
