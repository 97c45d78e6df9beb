"""A local AWS Marketplace emulator: Metering (ResolveCustomer, BatchMeterUsage), Entitlement
(GetEntitlements), Agreement (DescribeAgreement) and Deployment (Quick Launch's deployment
parameters, `sandbox.marketplace_deployment`) over HTTP on 127.0.0.1, reached by boto3 through
`endpoint_url` (or the `AWS_ENDPOINT_URL_MARKETPLACE_METERING` /
`AWS_ENDPOINT_URL_MARKETPLACE_ENTITLEMENT_SERVICE` / `AWS_ENDPOINT_URL_MARKETPLACE_AGREEMENT` variables).

moto has no Marketplace, so this fills the gap (README, "What is real and what is emulated"). It
speaks awsJson1_1, the protocol boto3 picks for both services (botocore prefers `json` over
`smithy-rpc-v2-cbor`, which the entitlement model also lists), and checks every request and every
response against botocore's service models (`sandbox.marketplace_model`). Behaviour follows the
models' documentation and the notes in `tests/fixtures/aws/SOURCES.md` §4; event payloads follow
the fixtures (`sandbox.marketplace_events`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import secrets
import string
import threading
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from sandbox import marketplace_events as events
from sandbox.local_http import local_server, serve_in_background
from sandbox.marketplace_deployment import AgreementFacts, DeploymentService
from sandbox.marketplace_model import (
    AGREEMENT,
    ENTITLEMENT,
    METERING,
    Problem,
    service_model,
    summary,
    validate,
    validate_input,
    validate_output,
)

log = logging.getLogger(__name__)

SELLER_ACCOUNT_ID = "444455556666"
METERING_PREFIX = "AWSMPMeteringService"
ENTITLEMENT_PREFIX = "AWSMPEntitlementService"
AGREEMENT_PREFIX = "AWSMPCommerceService_v20200301"
JSON_CONTENT_TYPE = "application/x-amz-json-1.1"
MAX_BODY = 1024 * 1024  # BatchMeterUsage: "each request must be less than 1 MB in size"

OPERATIONS = {
    f"{METERING_PREFIX}.BatchMeterUsage": (METERING, "BatchMeterUsage"),
    f"{METERING_PREFIX}.ResolveCustomer": (METERING, "ResolveCustomer"),
    f"{METERING_PREFIX}.MeterUsage": (METERING, "MeterUsage"),
    f"{METERING_PREFIX}.RegisterUsage": (METERING, "RegisterUsage"),
    f"{ENTITLEMENT_PREFIX}.GetEntitlements": (ENTITLEMENT, "GetEntitlements"),
    # awsJson1_0 (botocore resolves the model's `json` protocol; SOURCES.md §8), same error shape.
    f"{AGREEMENT_PREFIX}.DescribeAgreement": (AGREEMENT, "DescribeAgreement"),
}
# The error each service answers for a request that breaks the model's constraints. The metering model
# defines none, so it is AWS's common `ValidationException`; the entitlement model defines
# `InvalidParameterException` ("One or more parameters in your request was invalid").
CONSTRAINT_ERROR = {
    METERING: "ValidationException",
    ENTITLEMENT: "InvalidParameterException",
    AGREEMENT: "ValidationException",
}
TAG_SHAPES = {"TagList", "TagKey", "TagValue"}

_LOWER = string.ascii_lowercase + string.digits
_UPPER = string.ascii_uppercase + string.digits


class ApiError(Exception):
    """An awsJson1_1 error: `{"__type": code, "message": message}` with an HTTP status."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _rfc3339(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _random(alphabet: str, length: int) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


def _license_arn(license_id: str) -> str:
    return f"arn:aws:license-manager::{SELLER_ACCOUNT_ID}:license:{license_id}"


def _agreement_end(start: datetime) -> datetime:
    """A 12-month agreement ending at 23:59:59 UTC the day before the anniversary (as in the fixtures)."""
    try:
        anniversary = start.date().replace(year=start.year + 1)
    except ValueError:  # 29 February
        anniversary = date(start.year + 1, 3, 1)
    return datetime.combine(anniversary - timedelta(days=1), time(23, 59, 59), tzinfo=UTC)


def _entitlement_value(value: Any) -> dict:
    if isinstance(value, dict):
        return dict(value)  # already an EntitlementValue
    if isinstance(value, bool):
        return {"BooleanValue": value}
    if isinstance(value, int):
        return {"IntegerValue": value}
    if isinstance(value, float):
        return {"DoubleValue": value}
    if isinstance(value, str):
        return {"StringValue": value}
    raise TypeError(f"unsupported entitlement value {value!r}")


@dataclass
class _Subscription:
    aws_account_id: str
    license_id: str
    agreement_id: str
    customer_identifier: str
    registration_token: str
    token_expires: datetime
    start: datetime
    end: datetime
    legacy: bool
    entitlements: dict[str, dict] = field(default_factory=dict)
    status: str = "active"  # active → ending (final-metering window) → ended

    @property
    def license_arn(self) -> str:
        return _license_arn(self.license_id)


@dataclass
class _Agreement:
    """A purchase agreement of this seller: for this product, or for another of its products."""

    agreement_id: str
    aws_account_id: str
    product_id: str
    offer_id: str
    start: datetime
    end: datetime
    status: str = "ACTIVE"


@dataclass
class _Accepted:
    quantity: Decimal
    metering_record_id: str


class MarketplaceEmulator:
    """One SaaS product (`product_code`, usage `dimensions`) listed by seller 444455556666."""

    seller_account_id = SELLER_ACCOUNT_ID

    def __init__(
        self,
        product_code: str,
        dimensions: list[str],
        *,
        clock: Callable[[], datetime] | None = None,
        token_ttl_s: float = 3600,
        window_hours: float = 6,
        future_skew_s: float = 300,
        product_id: str | None = None,
        product_title: str = "Vendstack Service",
    ) -> None:
        self.product_code = product_code
        self.dimensions = list(dimensions)
        self.clock = clock or (lambda: datetime.now(UTC))
        self.token_ttl = timedelta(seconds=token_ttl_s)
        self.window = timedelta(hours=window_hours)
        self.future_skew = timedelta(seconds=future_skew_s)
        self.product_id = product_id or "prod-" + _random(_LOWER, 13)
        self.product_title = product_title
        self.offer_id = "offer-" + _random(_LOWER, 13)
        self.response_problems: list[str] = []  # responses that broke the output model (should stay empty)
        self._lock = threading.RLock()
        self._subscriptions: list[_Subscription] = []
        self._agreements: dict[str, _Agreement] = {}
        self._accepted: dict[tuple, _Accepted] = {}
        self._metered: list[dict] = []
        self._throttle_calls = 0
        self._unprocessed_records = 0
        self.calls: Counter[str] = Counter()  # operation name → requests received
        self.sns_signer = events.SnsSigner()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        # The Deployment Service (Quick Launch) on the same endpoint; buyer secrets go to moto once
        # the sandbox sets `deployment.buyer_secrets`.
        self.deployment = DeploymentService(
            seller_account_id=SELLER_ACCOUNT_ID,
            product_ids=self._seller_product_ids,
            agreement=self._agreement_facts,
            clock=self.now,
        )

    def _seller_product_ids(self) -> set[str]:
        with self._lock:
            return {self.product_id, *(a.product_id for a in self._agreements.values())}

    def _agreement_facts(self, agreement_id: str) -> AgreementFacts | None:
        with self._lock:
            agreement = self._agreements.get(agreement_id)
            if agreement is None:
                return None
            active = agreement.status == "ACTIVE"
            return AgreementFacts(agreement.aws_account_id, agreement.product_id, active)

    # ---------------------------------------------------------------- lifecycle

    def start(self, port: int = 0) -> str:
        """Serve on 127.0.0.1 (port 0 = any free port); returns the endpoint URL."""
        if self._server is not None:
            return self.endpoint_url
        server = local_server(_Handler, port)
        server.emulator = self  # type: ignore[attr-defined]
        self._server = server
        self._thread = serve_in_background(server, "marketplace-emulator")
        return self.endpoint_url

    def stop(self) -> None:
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("emulator not started")
        return self._server.server_address[1]

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> MarketplaceEmulator:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def now(self) -> datetime:
        return _utc(self.clock())

    # ---------------------------------------------------------------- control API

    def create_subscription(
        self,
        aws_account_id: str,
        *,
        legacy: bool = False,
        entitlements: dict | None = None,
        license_id: str | None = None,
    ) -> dict:
        """A buyer subscribes: a licence, an agreement and a registration token (valid `token_ttl_s`).

        `legacy` = a pre-Concurrent-Agreements integration (ResolveCustomer returns CustomerIdentifier and
        no LicenseArn; records are metered with CustomerIdentifier + ProductCode). `entitlements` maps a
        dimension to a value (int, float, bool, str or an EntitlementValue dict) for GetEntitlements.
        """
        now = self.now()
        license_id = license_id or "l-" + secrets.token_hex(16)
        with self._lock:
            if any(s.license_id == license_id for s in self._subscriptions):
                raise ValueError(f"licence {license_id} already exists")
            sub = _Subscription(
                aws_account_id=aws_account_id,
                license_id=license_id,
                agreement_id="agmt-" + _random(_LOWER, 25),
                customer_identifier=_random(_UPPER, 11),
                registration_token=base64.urlsafe_b64encode(secrets.token_bytes(48)).decode(),
                token_expires=now + self.token_ttl,
                start=now,
                end=_agreement_end(now),
                legacy=legacy,
                entitlements={k: _entitlement_value(v) for k, v in (entitlements or {}).items()},
            )
            self._subscriptions.append(sub)
            self._agreements[sub.agreement_id] = _Agreement(
                sub.agreement_id, aws_account_id, self.product_id, self.offer_id, sub.start, sub.end
            )
        result = {
            "registration_token": sub.registration_token,
            "license_arn": sub.license_arn,
            "product_code": self.product_code,
            "agreement_id": sub.agreement_id,
        }
        if legacy:
            result["customer_identifier"] = sub.customer_identifier
        return result

    def other_product_agreement(self, aws_account_id: str, product_id: str | None = None) -> str:
        """The buyer accepts an offer for *another* product of the same seller: an agreement (no
        licence for this product, no metering); its events reach this product's rule too."""
        now = self.now()
        agreement = _Agreement(
            agreement_id="agmt-" + _random(_LOWER, 25),
            aws_account_id=aws_account_id,
            product_id=product_id or "prod-" + _random(_LOWER, 13),
            offer_id="offer-" + _random(_LOWER, 13),
            start=now,
            end=_agreement_end(now),
        )
        if agreement.product_id == self.product_id:
            raise ValueError("that is this product's id")
        with self._lock:
            self._agreements[agreement.agreement_id] = agreement
        return agreement.agreement_id

    def agreement_event(self, kind: str, agreement_id: str) -> dict:
        """An agreement event (`purchase-agreement-*`) about any agreement of the seller, as AWS
        delivers it: created/ended name no product (SOURCES.md §3)."""
        if not kind.startswith("purchase-agreement-"):
            raise ValueError(f"not an agreement event kind: {kind!r}")
        now = self.now()
        with self._lock:
            agreement = self._agreements[agreement_id]
            if kind == "purchase-agreement-ended":
                agreement.status = "CANCELLED"
            subject = events.EventSubject(
                seller_account_id=self.seller_account_id,
                aws_account_id=agreement.aws_account_id,
                customer_identifier="",
                product_code="",
                product_id=agreement.product_id,
                product_title=self.product_title,
                offer_id=agreement.offer_id,
                agreement_id=agreement.agreement_id,
                license_id="",
                start=agreement.start,
                end=agreement.end,
            )
        return events.build(kind, subject, now)

    def end_subscription(self, aws_account_id: str) -> None:
        """Ends every subscription of the account: later records → CustomerNotSubscribed."""
        with self._lock:
            subs = [s for s in self._subscriptions if s.aws_account_id == aws_account_id]
            if not subs:
                raise KeyError(f"no subscription for account {aws_account_id}")
            for sub in subs:
                sub.status = "ended"

    def set_entitlements(self, aws_account_id: str, entitlements: dict) -> None:
        """Replaces the latest subscription's entitlements (then send an `entitlement-updated` event)."""
        with self._lock:
            self._latest(aws_account_id).entitlements = {
                k: _entitlement_value(v) for k, v in entitlements.items()
            }

    def event(self, kind: str, aws_account_id: str) -> dict:
        """The payload AWS delivers for the account's latest subscription, and its state change:
        subscribe-fail, unsubscribe-success, license-deprovisioned end it; unsubscribe-pending and
        purchase-agreement-ended open the final-metering window (metering still accepted)."""
        if kind not in events.KINDS:
            raise ValueError(f"unknown Marketplace event kind {kind!r}; expected one of {events.KINDS}")
        now = self.now()
        with self._lock:
            sub = self._latest(aws_account_id)
            if kind in ("subscribe-fail", "unsubscribe-success", "license-deprovisioned"):
                sub.status = "ended"
            elif kind in ("unsubscribe-pending", "purchase-agreement-ended") and sub.status == "active":
                sub.status = "ending"
            if kind == "purchase-agreement-ended":
                self._agreements[sub.agreement_id].status = "CANCELLED"
            subject = events.EventSubject(
                seller_account_id=self.seller_account_id,
                aws_account_id=sub.aws_account_id,
                customer_identifier=sub.customer_identifier,
                product_code=self.product_code,
                product_id=self.product_id,
                product_title=self.product_title,
                offer_id=self.offer_id,
                agreement_id=sub.agreement_id,
                license_id=sub.license_id,
                start=sub.start,
                end=sub.end,
            )
        payload = events.build(kind, subject, now)
        return self.sns_signer.sign(payload) if kind in events.SNS_KINDS else payload

    def sns_trust(self) -> dict[str, str]:
        """The certificate the emulator signs SNS messages with, for the sandbox's workers only."""
        return self.sns_signer.trust()

    def metered(self) -> list[dict]:
        with self._lock:
            return [dict(r) for r in self._metered]

    def subscriptions(self) -> list[dict]:
        with self._lock:
            return [
                {
                    "aws_account_id": s.aws_account_id,
                    "license_arn": s.license_arn,
                    "agreement_id": s.agreement_id,
                    "status": s.status,
                    "legacy": s.legacy,
                }
                for s in self._subscriptions
            ]

    def inject_throttling(self, calls: int) -> None:
        """The next `calls` API calls (any operation) fail with ThrottlingException."""
        with self._lock:
            self._throttle_calls += calls

    def inject_unprocessed(self, records: int) -> None:
        """The next `records` usage records come back in UnprocessedRecords (taken from the end of each
        batch, carried over to later batches until used up)."""
        with self._lock:
            self._unprocessed_records += records

    def _latest(self, aws_account_id: str) -> _Subscription:
        for sub in reversed(self._subscriptions):
            if sub.aws_account_id == aws_account_id:
                return sub
        raise KeyError(f"no subscription for account {aws_account_id}")

    # ---------------------------------------------------------------- wire

    def handle(self, target: str | None, body: bytes) -> tuple[int, dict]:
        """One awsJson1_1 call: (HTTP status, JSON body). Used by the HTTP handler."""
        try:
            if target not in OPERATIONS:
                raise ApiError("UnknownOperationException", f"Unknown operation {target!r}")
            service, operation = OPERATIONS[target]
            with self._lock:
                self.calls[operation] += 1
                if self._throttle_calls > 0:
                    self._throttle_calls -= 1
                    raise ApiError("ThrottlingException", "Rate exceeded")
            params = self._parse(body)
            self._check_input(service, operation, params)
            result = getattr(self, f"_op_{operation}")(params)
            problems = validate_output(service, operation, result)
            if problems:
                self.response_problems.append(f"{operation}: {summary(problems)}")
                log.error("marketplace emulator built an invalid %s response: %s", operation, problems)
                raise ApiError("InternalServiceErrorException", "emulator response broke the model", 500)
            return 200, result
        except ApiError as error:
            return error.status, {"__type": error.code, "message": error.message}
        except Exception:  # a bug in the emulator: answer as AWS would, keep the traceback
            log.exception("marketplace emulator failed on %s", target)
            return 500, {"__type": "InternalServiceErrorException", "message": "internal error"}

    @staticmethod
    def _parse(body: bytes) -> dict:
        try:
            params = json.loads(body or b"{}")
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ApiError("SerializationException", f"Malformed JSON body: {exc}") from None
        if not isinstance(params, dict):
            raise ApiError("SerializationException", "Request body must be a JSON object")
        return params

    @staticmethod
    def _check_input(service: str, operation: str, params: dict) -> None:
        problems = validate_input(service, operation, params)
        if not problems:
            return
        types = [p for p in problems if p.kind == "type"]
        if types:
            raise ApiError("SerializationException", str(types[0]))
        tags = [p for p in problems if p.shape in TAG_SHAPES]
        if tags and service == METERING:
            raise ApiError("InvalidTagException", summary(tags))
        raise ApiError(CONSTRAINT_ERROR[service], summary(problems))

    # ---------------------------------------------------------------- metering

    def _op_ResolveCustomer(self, params: dict) -> dict:  # noqa: N802 - named after the operation
        token = params["RegistrationToken"]
        now = self.now()
        with self._lock:
            sub = next((s for s in self._subscriptions if s.registration_token == token), None)
            if sub is None:
                raise ApiError("InvalidTokenException", "Registration token is invalid.")
            if now >= sub.token_expires:
                raise ApiError("ExpiredTokenException", "Registration token has expired.")
            if sub.legacy:
                return {
                    "CustomerIdentifier": sub.customer_identifier,
                    "CustomerAWSAccountId": sub.aws_account_id,
                    "ProductCode": self.product_code,
                }
            return {
                "CustomerAWSAccountId": sub.aws_account_id,
                "ProductCode": self.product_code,
                "LicenseArn": sub.license_arn,
            }

    def _op_MeterUsage(self, params: dict) -> dict:  # noqa: N802
        raise ApiError(
            "InvalidProductCodeException",
            f"Product {params['ProductCode']} is a SaaS product: MeterUsage is for AMI and container "
            "products; use BatchMeterUsage.",
        )

    def _op_RegisterUsage(self, params: dict) -> dict:  # noqa: N802
        raise ApiError(
            "PlatformNotSupportedException",
            "RegisterUsage is for paid container products on Amazon ECS/EKS; this product is SaaS.",
        )

    def _op_BatchMeterUsage(self, params: dict) -> dict:  # noqa: N802
        records: list[dict] = params["UsageRecords"]
        product_code = params.get("ProductCode") or ""
        if product_code and product_code != self.product_code:
            raise ApiError("InvalidProductCodeException", f"Invalid product code {product_code}.")
        quantities = [self._quantity(record, i) for i, record in enumerate(records, 1)]
        now = self.now()
        for record in records:
            if record["Dimension"] not in self.dimensions:
                raise ApiError(
                    "InvalidUsageDimensionException",
                    f"Dimension {record['Dimension']!r} is not a usage dimension of {self.product_code}.",
                )
        for record in records:
            self._check_window(record["Timestamp"], now)
        with self._lock:
            subs = [self._record_subscription(record, product_code) for record in records]
            held = min(self._unprocessed_records, len(records))
            self._unprocessed_records -= held
            cut = len(records) - held
            results = [
                self._meter(record, quantity, sub)
                for record, quantity, sub in zip(records[:cut], quantities[:cut], subs[:cut], strict=True)
            ]
        return {"Results": results, "UnprocessedRecords": [dict(r) for r in records[cut:]]}

    @staticmethod
    def _quantity(record: dict, index: int) -> Decimal:
        """The record's quantity by value; checks the Quantity/QuantityAsDecimal and allocation rules."""
        where = f"UsageRecords.{index}"
        if "Quantity" in record and "QuantityAsDecimal" in record:
            raise ApiError("ValidationException", f"{where}: use Quantity or QuantityAsDecimal, not both.")
        decimal = "QuantityAsDecimal" in record
        quantity = Decimal(record["QuantityAsDecimal"]) if decimal else Decimal(record.get("Quantity", 0))
        allocations = record.get("UsageAllocations")
        if allocations:
            total = Decimal(0)
            tag_sets: set[frozenset] = set()
            for allocation in allocations:
                has_int = "AllocatedUsageQuantity" in allocation
                has_dec = "AllocatedUsageQuantityAsDecimal" in allocation
                if has_int == has_dec:
                    raise ApiError(
                        "InvalidUsageAllocationsException",
                        f"{where}: each allocation must specify exactly one of AllocatedUsageQuantity "
                        "or AllocatedUsageQuantityAsDecimal.",
                    )
                if has_dec != decimal:
                    raise ApiError(
                        "InvalidUsageAllocationsException",
                        f"{where}: allocations must use the same type of quantity as the usage record.",
                    )
                name = "AllocatedUsageQuantityAsDecimal" if has_dec else "AllocatedUsageQuantity"
                total += Decimal(allocation[name])
                tags = frozenset((t["Key"], t["Value"]) for t in allocation.get("Tags", []))
                if tags in tag_sets:
                    raise ApiError(
                        "InvalidUsageAllocationsException", f"{where}: allocation tag sets must differ."
                    )
                tag_sets.add(tags)
            if total != quantity:
                raise ApiError(
                    "InvalidUsageAllocationsException",
                    f"{where}: allocated quantities sum to {total}, not the usage quantity {quantity}.",
                )
        return quantity

    def _check_window(self, timestamp: float, now: datetime) -> None:
        """As strict as AWS's API reference: "Usage records aren't accepted 6 hours or more after an
        event" (AWS docs: "BatchMeterUsage", AWS Marketplace Metering Service API reference; a newer
        model text says 24 h, `window_hours=24` emulates that reading), plus the month-end close."""
        try:
            moment = datetime.fromtimestamp(timestamp, UTC)
        except (OverflowError, OSError, ValueError):
            raise ApiError(
                "TimestampOutOfBoundsException", f"Timestamp {timestamp!r} is out of range."
            ) from None
        if now - moment >= self.window:
            raise ApiError(
                "TimestampOutOfBoundsException",
                f"Timestamp {_rfc3339(moment)} is {self.window} or more in the past.",
            )
        if moment - now > self.future_skew:
            raise ApiError("TimestampOutOfBoundsException", f"Timestamp {_rfc3339(moment)} is in the future.")
        month_start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        if moment < month_start and now >= month_start + timedelta(hours=6):
            raise ApiError(
                "TimestampOutOfBoundsException",
                f"Timestamp {_rfc3339(moment)} is in a billing month closed at "
                f"{_rfc3339(month_start + timedelta(hours=6))}.",
            )

    def _record_subscription(self, record: dict, product_code: str) -> tuple[str, _Subscription | None]:
        """(dedupe mode, subscription) for a record; raises the request-level identity errors."""
        customer_id = record.get("CustomerIdentifier")
        account = record.get("CustomerAWSAccountId")
        license_arn = record.get("LicenseArn")
        if customer_id is not None:
            if account is not None or license_arn is not None:
                raise ApiError(
                    "ValidationException",
                    "CustomerIdentifier and CustomerAWSAccountId/LicenseArn are mutually exclusive.",
                )
            if not product_code:
                raise ApiError("ValidationException", "ProductCode is required with CustomerIdentifier.")
            sub = next((s for s in self._subscriptions if s.customer_identifier == customer_id), None)
            if sub is None or not sub.legacy:
                raise ApiError(
                    "InvalidCustomerIdentifierException",
                    f"Invalid CustomerIdentifier {customer_id!r} (not supported for new integrations).",
                )
            return "product", sub
        if account is None:
            raise ApiError("ValidationException", "A UsageRecord needs CustomerAWSAccountId and LicenseArn.")
        if license_arn is None:
            if not product_code:
                raise ApiError("ValidationException", "LicenseArn is required with CustomerAWSAccountId.")
            subs = [s for s in self._subscriptions if s.aws_account_id == account]
            return "product", (subs[-1] if subs else None)
        sub = next((s for s in self._subscriptions if s.license_arn == license_arn), None)
        if sub is None or sub.aws_account_id != account:
            raise ApiError(
                "InvalidLicenseException",
                f"License {license_arn} is not valid for customer {account}.",
            )
        return "license", sub

    def _meter(self, record: dict, quantity: Decimal, target: tuple[str, _Subscription | None]) -> dict:
        mode, sub = target
        echo = dict(record)
        if sub is None or sub.status == "ended":
            return {"UsageRecord": echo, "Status": "CustomerNotSubscribed"}
        timestamp = record["Timestamp"]
        key = (mode, sub.license_id, record["Dimension"], int(timestamp // 3600))
        previous = self._accepted.get(key)
        if previous is not None:
            if previous.quantity == quantity:  # identical record: idempotent, not billed twice
                record_id = previous.metering_record_id
                return {"UsageRecord": echo, "MeteringRecordId": record_id, "Status": "Success"}
            return {"UsageRecord": echo, "Status": "DuplicateRecord"}
        record_id = str(uuid.uuid4())
        self._accepted[key] = _Accepted(quantity, record_id)
        self._metered.append(
            {
                "aws_account_id": sub.aws_account_id,
                "license_arn": sub.license_arn,
                "dimension": record["Dimension"],
                "quantity": int(quantity) if quantity == quantity.to_integral_value() else float(quantity),
                "timestamp": _rfc3339(datetime.fromtimestamp(timestamp, UTC)),
                "status": "Success",
                "metering_record_id": record_id,
            }
        )
        return {"UsageRecord": echo, "MeteringRecordId": record_id, "Status": "Success"}

    # ---------------------------------------------------------------- agreement

    def _op_DescribeAgreement(self, params: dict) -> dict:  # noqa: N802
        """The fields of marketplace-agreement-describe-agreement-response*.json: the product is
        `proposalSummary.resources[].id` (AWS docs: "DescribeAgreement", Agreement API reference)."""
        with self._lock:
            agreement = self._agreements.get(params["agreementId"])
            if agreement is None:
                raise ApiError("ResourceNotFoundException", f"Agreement {params['agreementId']} not found.")
            return {
                "agreementId": agreement.agreement_id,
                "acceptor": {"accountId": agreement.aws_account_id},
                "proposer": {"accountId": self.seller_account_id},
                "startTime": int(agreement.start.timestamp()),
                "endTime": int(agreement.end.timestamp()),
                "acceptanceTime": int(agreement.start.timestamp()),
                "agreementType": "PurchaseAgreement",
                "estimatedCharges": {"currencyCode": "USD", "agreementValue": "0"},
                "proposalSummary": {
                    "resources": [{"id": agreement.product_id, "type": "SaaSProduct"}],
                    "offerId": agreement.offer_id,
                },
                "status": agreement.status,
            }

    # ---------------------------------------------------------------- entitlement

    def _op_GetEntitlements(self, params: dict) -> dict:  # noqa: N802
        filters: dict[str, list[str]] = params.get("Filter") or {}
        if "CUSTOMER_IDENTIFIER" in filters and "CUSTOMER_AWS_ACCOUNT_ID" in filters:
            raise ApiError(
                "InvalidParameterException",
                "CustomerIdentifier and CustomerAWSAccountId are mutually exclusive filters.",
            )
        page_size = params.get("MaxResults", 25)
        query = hashlib.sha256(
            json.dumps([params["ProductCode"], sorted((k, sorted(v)) for k, v in filters.items())]).encode()
        ).hexdigest()[:16]
        offset = self._decode_token(params["NextToken"], query) if "NextToken" in params else 0
        rows = self._entitlements(params["ProductCode"], filters)
        page = rows[offset : offset + page_size]
        result: dict[str, Any] = {"Entitlements": page}
        if offset + page_size < len(rows):
            result["NextToken"] = self._encode_token(offset + page_size, query)
        return result

    def _entitlements(self, product_code: str, filters: dict[str, list[str]]) -> list[dict]:
        if product_code != self.product_code:
            return []
        rows = []
        with self._lock:
            for sub in self._subscriptions:
                if sub.status == "ended":
                    continue
                facts = {
                    "CUSTOMER_AWS_ACCOUNT_ID": sub.aws_account_id,
                    "CUSTOMER_IDENTIFIER": sub.customer_identifier,
                    "LICENSE_ARN": sub.license_arn,
                }
                if any(key in filters and value not in filters[key] for key, value in facts.items()):
                    continue
                for dimension, value in sub.entitlements.items():
                    if "DIMENSION" in filters and dimension not in filters["DIMENSION"]:
                        continue
                    row: dict[str, Any] = {"ProductCode": self.product_code, "Dimension": dimension}
                    if sub.legacy:
                        row["CustomerIdentifier"] = sub.customer_identifier
                    row.update(
                        CustomerAWSAccountId=sub.aws_account_id,
                        Value=dict(value),
                        ExpirationDate=int(sub.end.timestamp()),
                        LicenseArn=sub.license_arn,
                    )
                    rows.append(row)
        return rows

    @staticmethod
    def _encode_token(offset: int, query: str) -> str:
        return base64.urlsafe_b64encode(json.dumps({"o": offset, "q": query}).encode()).decode()

    @staticmethod
    def _decode_token(token: str, query: str) -> int:
        try:
            data = json.loads(base64.urlsafe_b64decode(token.encode()))
            if data["q"] == query and isinstance(data["o"], int) and data["o"] >= 0:
                return data["o"]
        except (binascii.Error, ValueError, KeyError, TypeError):
            pass
        raise ApiError("InvalidParameterException", "Invalid NextToken.")


class _Handler(BaseHTTPRequestHandler):
    server_version = "MarketplaceEmulator"
    protocol_version = "HTTP/1.1"
    # Without this every reply waits ~40 ms for a delayed ACK (Nagle + keep-alive).
    disable_nagle_algorithm = True

    def do_POST(self) -> None:  # noqa: N802 - http.server API
        emulator: MarketplaceEmulator = self.server.emulator  # type: ignore[attr-defined]
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self.rfile.read(length)
            self._send(413, {"__type": "ValidationException", "message": "Request must be less than 1 MB."})
            return
        body = self.rfile.read(length)
        if emulator.deployment.handles(self.path):
            self._send_rest(*emulator.deployment.handle("POST", self.path, body))
            return
        if self.path != "/" or self.headers.get("smithy-protocol"):
            # An rpcv2Cbor request (POST /service/<svc>/operation/<op>): boto3 never sends one.
            self._send(404, {"__type": "UnknownOperationException", "message": "only awsJson1_1 is emulated"})
            return
        status, payload = emulator.handle(self.headers.get("X-Amz-Target"), body)
        self._send(status, payload)

    def do_GET(self) -> None:  # noqa: N802 - http.server API; the Deployment Service's restJson1 reads
        self._rest("GET")

    def do_DELETE(self) -> None:  # noqa: N802 - http.server API
        self._rest("DELETE")

    def _rest(self, method: str) -> None:
        emulator: MarketplaceEmulator = self.server.emulator  # type: ignore[attr-defined]
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if 0 < length <= MAX_BODY else b""
        if not emulator.deployment.handles(self.path):
            self._send(404, {"__type": "UnknownOperationException", "message": "no such route"})
            return
        self._send_rest(*emulator.deployment.handle(method, self.path, body))

    def _send_rest(self, status: int, payload: dict | None, error_type: str | None) -> None:
        """A restJson1 answer: the error type in `x-amzn-ErrorType`, 204 with no body."""
        data = json.dumps(payload).encode() if payload is not None else b""
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
        if error_type:
            self.send_header("x-amzn-ErrorType", error_type)
        self.end_headers()
        self.wfile.write(data)

    def _send(self, status: int, payload: dict) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", JSON_CONTENT_TYPE)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
        if "__type" in payload:
            self.send_header("x-amzn-ErrorType", payload["__type"])
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server API
        log.debug("marketplace emulator: " + format, *args)


__all__ = [
    "ApiError",
    "MarketplaceEmulator",
    "Problem",
    "SELLER_ACCOUNT_ID",
    "service_model",
    "validate",
]
