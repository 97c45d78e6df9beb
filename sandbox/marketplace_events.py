"""The payloads AWS Marketplace delivers about a subscription, built in the shapes of the fixtures in
`tests/fixtures/aws/` (SOURCES.md §1-§3): SNS notifications as the SQS message body (raw delivery off,
`Message` a JSON string) and EventBridge events from `aws.agreement-marketplace`.

Only identifiers and times vary; keys, nesting and value types are the fixtures'. SNS messages are
signed as SNS signs them (AWS docs: "Verifying the signatures of Amazon SNS messages"), by `SnsSigner`
with a certificate only the sandbox trusts: the platform's verifier accepts it only where the
sandbox's worker environment names it (`VS_SANDBOX_SNS_CERTS`), never when deployed.
"""

from __future__ import annotations

import base64
import json
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property

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


SIGNED_KEYS = ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")


class SnsSigner:
    """Signs SNS notifications with SignatureVersion 1 (SHA1withRSA) or 2 (SHA256withRSA) under a
    throwaway RSA-2048 key and its self-signed certificate (CN sns.amazonaws.com), made at first use."""

    def __init__(self, version: str = "1") -> None:
        self.version = version
        self.cert_url = (
            f"https://sns.{REGION}.amazonaws.com/SimpleNotificationService-vendstack-sandbox-"
            f"{secrets.token_hex(16)}.pem"
        )

    @cached_property
    def _key_and_pem(self) -> tuple[object, str]:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import rsa
        from cryptography.x509.oid import NameOID

        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name(
            [
                x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com"),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "vendstack sandbox - NOT an AWS certificate"),
            ]
        )
        now = datetime.now(UTC)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=400))  # the sandbox's clock may be moved back
            .not_valid_after(now + timedelta(days=3650))
            .sign(key, hashes.SHA256())
        )
        return key, certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")

    def trust(self) -> dict[str, str]:
        """`{SigningCertURL: PEM}`: what the sandbox's workers get as `VS_SANDBOX_SNS_CERTS`."""
        return {self.cert_url: self._key_and_pem[1]}

    def sign(self, envelope: dict) -> dict:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        key = self._key_and_pem[0]
        canonical = "".join(f"{k}\n{envelope[k]}\n" for k in SIGNED_KEYS if k in envelope)
        digest = hashes.SHA1() if self.version == "1" else hashes.SHA256()  # noqa: S303 - SNS v1 is SHA1
        signature = key.sign(canonical.encode("utf-8"), padding.PKCS1v15(), digest)  # type: ignore[attr-defined]
        return {
            **envelope,
            "SignatureVersion": self.version,
            "Signature": base64.b64encode(signature).decode("ascii"),
            "SigningCertURL": self.cert_url,
        }


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
