"""The payloads AWS Marketplace delivers about a subscription, built in the shapes of the fixtures in
`tests/fixtures/aws/` (SOURCES.md §1-§3): SNS notifications as the SQS message body (raw delivery off,
`Message` a JSON string) and EventBridge events from `aws.agreement-marketplace`.

Only identifiers and times vary; keys, nesting and value types are the fixtures'. SNS `Signature` values
are placeholders (nothing here can sign as SNS).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime

SNS_TOPIC_OWNER = "999988887777"  # AWS-owned Marketplace topic account (fixture convention)
REGION = "us-east-1"

SNS_KINDS = (
    "subscribe-success",
    "subscribe-fail",
    "unsubscribe-pending",
    "unsubscribe-success",
    "entitlement-updated",
)
EVENTBRIDGE_KINDS = {
    # Seller is both manufacturer and proposer of a direct offer → only "- Proposer" agreement events;
    # licence events exist only as "- Manufacturer" (SOURCES.md §3).
    "purchase-agreement-created": "Purchase Agreement Created - Proposer",
    "purchase-agreement-amended": "Purchase Agreement Amended - Proposer",
    "purchase-agreement-ended": "Purchase Agreement Ended - Proposer",
    "license-updated": "License Updated - Manufacturer",
    "license-deprovisioned": "License Deprovisioned - Manufacturer",
}
KINDS = (*SNS_KINDS, *EVENTBRIDGE_KINDS)


@dataclass(frozen=True)
class EventSubject:
    """What an event says about one subscription."""

    seller_account_id: str
    aws_account_id: str
    customer_identifier: str
    product_code: str
    product_id: str
    product_title: str
    offer_id: str
    agreement_id: str
    license_id: str
    start: datetime
    end: datetime
    free_trial: bool = False


def _iso_seconds(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _iso_millis(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def sns_notification(kind: str, subject: EventSubject, now: datetime) -> dict:
    """The SQS message body for an `aws-mp-subscription-notification-*` / `aws-mp-entitlement-notification-*`
    message (marketplace-sns-*.json)."""
    if kind not in SNS_KINDS:
        raise ValueError(f"not an SNS notification kind: {kind!r}")
    message: dict[str, str] = {
        "action": kind,
        "customer-identifier": subject.customer_identifier,
        "product-code": subject.product_code,
    }
    if kind in ("subscribe-success", "subscribe-fail"):
        message["offer-identifier"] = subject.offer_id
    if kind != "entitlement-updated":
        message["isFreeTrialTermPresent"] = "true" if subject.free_trial else "false"
    topic = "entitlement" if kind == "entitlement-updated" else "subscription"
    topic_arn = f"arn:aws:sns:{REGION}:{SNS_TOPIC_OWNER}:aws-mp-{topic}-notification-{subject.product_code}"
    return {
        "Type": "Notification",
        "MessageId": str(uuid.uuid4()),
        "TopicArn": topic_arn,
        "Message": json.dumps(message, separators=(",", ":")),
        "Timestamp": _iso_millis(now),
        "SignatureVersion": "1",
        "Signature": "EXAMPLEsignature" + "A" * 70 + "==",
        "SigningCertURL": f"https://sns.{REGION}.amazonaws.com/SimpleNotificationService-"
        + "EXAMPLE"
        + "0" * 32
        + ".pem",
        "UnsubscribeURL": f"https://sns.{REGION}.amazonaws.com/?Action=Unsubscribe&SubscriptionArn="
        f"{topic_arn}:{uuid.uuid4()}",
    }


def eventbridge_event(kind: str, subject: EventSubject, now: datetime) -> dict:
    """The EventBridge event (marketplace-eventbridge-*.json) delivered to the seller's default bus."""
    if kind not in EVENTBRIDGE_KINDS:
        raise ValueError(f"not an EventBridge event kind: {kind!r}")
    acceptor = {"accountId": subject.aws_account_id}
    proposer = {"accountId": subject.seller_account_id}
    offer = {"id": subject.offer_id}
    agreement_ref = {"id": subject.agreement_id}
    resale = {"id": "resaleauthz-" + subject.agreement_id.removeprefix("agmt-")[:12]}
    detail: dict
    if kind == "purchase-agreement-created":
        detail = {
            "agreement": {
                **agreement_ref,
                "intent": "NEW",
                "status": "ACTIVE",
                "acceptanceTime": _iso_seconds(subject.start),
                "startTime": _iso_seconds(subject.start),
                "endTime": _iso_seconds(subject.end),
            },
            "resaleAuthorization": resale,
            "acceptor": acceptor,
            "proposer": proposer,
            "offer": offer,
        }
    elif kind == "purchase-agreement-amended":
        detail = {
            "agreement": {
                **agreement_ref,
                "intent": "AMEND",
                "status": "ACTIVE",
                "acceptanceTime": _iso_seconds(subject.start),
                "startTime": _iso_seconds(subject.start),
                "endTime": _iso_seconds(subject.end),
                "autoRenewalEnabled": True,
            },
            "renewalSummary": {
                "lockoutStartTime": _iso_seconds(subject.end.replace(day=1, hour=0, minute=0, second=0)),
                "disabledBy": None,
            },
            "product": {"id": subject.product_id, "title": subject.product_title},
            "resaleAuthorization": resale,
            "acceptor": acceptor,
            "proposer": proposer,
            "offer": offer,
        }
    elif kind == "purchase-agreement-ended":
        detail = {
            "agreement": {**agreement_ref, "status": "CANCELLED"},
            "resaleAuthorization": resale,
            "acceptor": acceptor,
            "proposer": proposer,
            "offer": offer,
        }
    else:  # license-updated, license-deprovisioned
        detail = {
            "agreement": agreement_ref,
            "product": {"code": subject.product_code, "id": subject.product_id},
            # The documented literal form (SOURCES.md §3): no "arn:" prefix, a region, no "license:"
            # segment. Compare on the l-… id.
            "license": {
                "arn": f"aws:license-manager:{REGION}:{subject.seller_account_id}:{subject.license_id}"
            },
            "acceptor": acceptor,
            "proposer": proposer,
            "offer": offer,
        }
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": EVENTBRIDGE_KINDS[kind],
        "source": "aws.agreement-marketplace",
        "account": subject.seller_account_id,
        "time": _iso_seconds(now),
        "region": REGION,
        "resources": [f"arn:aws:aws-marketplace::aws:agreement:{subject.agreement_id}"],
        "detail": {"requestId": str(uuid.uuid4()), "catalog": "AWSMarketplace", **detail},
    }


def build(kind: str, subject: EventSubject, now: datetime) -> dict:
    if kind in SNS_KINDS:
        return sns_notification(kind, subject, now)
    if kind in EVENTBRIDGE_KINDS:
        return eventbridge_event(kind, subject, now)
    raise ValueError(f"unknown Marketplace event kind {kind!r}; expected one of {', '.join(KINDS)}")
