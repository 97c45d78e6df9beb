"""The Marketplace emulator without HTTP: the model validator, the fixtures, the event payloads and the
metering rules, driven through `MarketplaceEmulator.handle` (the same entry point the HTTP server uses)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from sandbox import marketplace_events
from sandbox.marketplace import MarketplaceEmulator
from sandbox.marketplace_model import ENTITLEMENT, METERING, validate_input, validate_output
from tests.aws_fixtures import aws_fixture, structure
from tests.plugins.clock import Clock

PRODUCT = "exampleprod1234567890"
BUYER = "111122223333"
OTHER_BUYER = "222233334444"
NOW = datetime(2026, 3, 2, 10, 15, 30, 123000, tzinfo=UTC)
METER = "AWSMPMeteringService."
ENTITLE = "AWSMPEntitlementService."


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def emulator(clock) -> MarketplaceEmulator:
    return MarketplaceEmulator(PRODUCT, ["api_calls", "storage_gb"], clock=clock)


def call(emulator: MarketplaceEmulator, target: str, params) -> tuple[int, dict]:
    body = params if isinstance(params, bytes) else json.dumps(params).encode()
    return emulator.handle(target, body)


def record(sub: dict, account: str = BUYER, *, ts: datetime = NOW, dimension="api_calls", quantity=1) -> dict:
    return {
        "Timestamp": int(ts.timestamp()),
        "CustomerAWSAccountId": account,
        "LicenseArn": sub["license_arn"],
        "Dimension": dimension,
        "Quantity": quantity,
    }


# ---------------------------------------------------------------- the model validator


@pytest.mark.parametrize(
    ("service", "operation", "name"),
    [
        (METERING, "BatchMeterUsage", "batch-meter-usage-request.json"),
        (ENTITLEMENT, "GetEntitlements", "get-entitlements-request.json"),
    ],
)
def test_request_fixtures_pass_the_input_model(service, operation, name):
    assert validate_input(service, operation, aws_fixture(name)) == []


@pytest.mark.parametrize(
    ("service", "operation", "name"),
    [
        (METERING, "BatchMeterUsage", "batch-meter-usage-response.json"),
        (METERING, "ResolveCustomer", "resolve-customer-response.json"),
        (METERING, "ResolveCustomer", "resolve-customer-response-legacy.json"),
        (ENTITLEMENT, "GetEntitlements", "get-entitlements-response.json"),
    ],
)
def test_response_fixtures_pass_the_output_model(service, operation, name):
    assert validate_output(service, operation, aws_fixture(name)) == []


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({}, "at 'UsageRecords' failed to satisfy constraint: Member must not be null"),
        ({"UsageRecords": [], "Bogus": 1}, "Unknown member 'Bogus'"),
        ({"UsageRecords": [{"Timestamp": 1, "Dimension": "d"}] * 26}, "size less than or equal to 25"),
        ({"UsageRecords": [{"Timestamp": 1, "Dimension": ""}]}, "length greater than or equal to 1"),
        (
            {"UsageRecords": [{"Timestamp": 1, "Dimension": "d", "Quantity": -1}]},
            "greater than or equal to 0",
        ),
        ({"UsageRecords": [{"Timestamp": 1, "Dimension": "d", "Quantity": 2**31}]}, "less than or equal to"),
        ({"UsageRecords": [{"Timestamp": 1, "Dimension": "d", "CustomerAWSAccountId": "12ab"}]}, "pattern"),
        ({"UsageRecords": [{"Timestamp": "2026-03-02T09:00:00Z", "Dimension": "d"}]}, "epoch seconds"),
    ],
)
def test_validator_reports_model_violations(params, fragment):
    problems = validate_input(METERING, "BatchMeterUsage", params)
    assert any(fragment in str(p) for p in problems), problems


def test_validator_checks_enums_and_map_keys():
    assert validate_input(ENTITLEMENT, "GetEntitlements", {"ProductCode": "p", "Filter": {"NOPE": ["x"]}})
    bad = {"Results": [{"Status": "Accepted"}]}
    assert "enum" in str(validate_output(METERING, "BatchMeterUsage", bad)[0])


# ---------------------------------------------------------------- wire errors


def test_unknown_target_and_bad_bodies(emulator):
    assert call(emulator, "AWSMPMeteringService.Nope", {})[1]["__type"] == "UnknownOperationException"
    assert call(emulator, None, {})[1]["__type"] == "UnknownOperationException"
    status, body = call(emulator, METER + "ResolveCustomer", b"{not json")
    assert (status, body["__type"]) == (400, "SerializationException")
    status, body = call(emulator, METER + "ResolveCustomer", {"RegistrationToken": 7})
    assert body["__type"] == "SerializationException"
    status, body = call(emulator, METER + "ResolveCustomer", {})
    assert (status, body["__type"]) == (400, "ValidationException")
    assert body["message"].startswith("1 validation error detected:")
    status, body = call(emulator, ENTITLE + "GetEntitlements", {"ProductCode": PRODUCT, "MaxResults": 26})
    assert (status, body["__type"]) == (400, "InvalidParameterException")


def test_meter_usage_and_register_usage_answer_modeled_errors(emulator):
    status, body = call(
        emulator,
        METER + "MeterUsage",
        {"ProductCode": PRODUCT, "Timestamp": 1, "UsageDimension": "api_calls"},
    )
    assert (status, body["__type"]) == (400, "InvalidProductCodeException")
    status, body = call(emulator, METER + "RegisterUsage", {"ProductCode": PRODUCT, "PublicKeyVersion": 1})
    assert body["__type"] == "PlatformNotSupportedException"
    status, body = call(emulator, METER + "RegisterUsage", {"ProductCode": PRODUCT})
    assert body["__type"] == "ValidationException"


# ---------------------------------------------------------------- ResolveCustomer


def test_resolve_customer_shapes_match_the_fixtures(emulator):
    new = emulator.create_subscription(BUYER)
    legacy = emulator.create_subscription(OTHER_BUYER, legacy=True)
    assert "customer_identifier" not in new and legacy["customer_identifier"]
    status, body = call(emulator, METER + "ResolveCustomer", {"RegistrationToken": new["registration_token"]})
    assert status == 200
    assert structure(body) == structure(aws_fixture("resolve-customer-response.json"))
    assert body == {"CustomerAWSAccountId": BUYER, "ProductCode": PRODUCT, "LicenseArn": new["license_arn"]}
    _, body = call(emulator, METER + "ResolveCustomer", {"RegistrationToken": legacy["registration_token"]})
    assert structure(body) == structure(aws_fixture("resolve-customer-response-legacy.json"))
    assert body["CustomerIdentifier"] == legacy["customer_identifier"]


def test_license_arn_form(emulator):
    arn = emulator.create_subscription(BUYER)["license_arn"]
    prefix = "arn:aws:license-manager::444455556666:license:l-"
    assert arn.startswith(prefix)
    assert len(arn) == len(prefix) + 32 and int(arn[len(prefix) :], 16) >= 0


def test_registration_tokens_expire(emulator, clock):
    token = emulator.create_subscription(BUYER)["registration_token"]
    clock.now = NOW + timedelta(seconds=3599)
    assert call(emulator, METER + "ResolveCustomer", {"RegistrationToken": token})[0] == 200
    clock.now = NOW + timedelta(seconds=3600)
    assert call(emulator, METER + "ResolveCustomer", {"RegistrationToken": token})[1]["__type"] == (
        "ExpiredTokenException"
    )


# ---------------------------------------------------------------- BatchMeterUsage rules


def test_records_are_refused_six_hours_after_the_usage_by_default(emulator, clock):
    """The strict reading of the BatchMeterUsage API reference is the emulator's default."""
    sub = emulator.create_subscription(BUYER)
    usage = datetime(2026, 3, 10, 10, 0, tzinfo=UTC)
    clock.now = usage + timedelta(hours=5, minutes=59)
    status, _ = call(emulator, METER + "BatchMeterUsage", {"UsageRecords": [record(sub, ts=usage)]})
    assert status == 200
    clock.now = usage + timedelta(hours=6)
    status, body = call(
        emulator, METER + "BatchMeterUsage", {"UsageRecords": [record(sub, ts=usage, dimension="storage_gb")]}
    )
    assert (status, body["__type"]) == (400, "TimestampOutOfBoundsException")


def test_month_end_grace_closes_the_previous_month_at_six(clock):
    emulator = MarketplaceEmulator(PRODUCT, ["api_calls", "storage_gb"], clock=clock, window_hours=24)
    sub = emulator.create_subscription(BUYER)
    late = datetime(2026, 3, 31, 23, 30, tzinfo=UTC)
    clock.now = datetime(2026, 4, 1, 5, 59, tzinfo=UTC)
    status, _ = call(emulator, METER + "BatchMeterUsage", {"UsageRecords": [record(sub, ts=late)]})
    assert status == 200
    clock.now = datetime(2026, 4, 1, 6, 0, tzinfo=UTC)
    status, body = call(
        emulator, METER + "BatchMeterUsage", {"UsageRecords": [record(sub, ts=late, dimension="storage_gb")]}
    )
    assert (status, body["__type"]) == (400, "TimestampOutOfBoundsException")


def test_usage_allocations_must_add_up(emulator):
    sub = emulator.create_subscription(BUYER)
    rec = record(sub, quantity=10) | {"UsageAllocations": [{"AllocatedUsageQuantity": 4}]}
    assert call(emulator, METER + "BatchMeterUsage", {"UsageRecords": [rec]})[1]["__type"] == (
        "InvalidUsageAllocationsException"
    )
    rec["UsageAllocations"].append({"AllocatedUsageQuantity": 6, "Tags": [{"Key": "team", "Value": "a"}]})
    assert call(emulator, METER + "BatchMeterUsage", {"UsageRecords": [rec]})[0] == 200
    tags = [{"Key": f"k{i}", "Value": "v"} for i in range(6)]
    rec = record(sub, dimension="storage_gb") | {
        "UsageAllocations": [{"AllocatedUsageQuantity": 1, "Tags": tags}]
    }
    assert (
        call(emulator, METER + "BatchMeterUsage", {"UsageRecords": [rec]})[1]["__type"]
        == "InvalidTagException"
    )


def test_decimal_quantities_dedupe_by_value(emulator):
    sub = emulator.create_subscription(BUYER)
    first = record(sub, quantity=17)
    again = {k: v for k, v in first.items() if k != "Quantity"} | {"QuantityAsDecimal": "17.00"}
    _, one = call(emulator, METER + "BatchMeterUsage", {"UsageRecords": [first]})
    _, two = call(emulator, METER + "BatchMeterUsage", {"UsageRecords": [again]})
    assert two["Results"][0]["Status"] == "Success"
    assert two["Results"][0]["MeteringRecordId"] == one["Results"][0]["MeteringRecordId"]
    both = first | {"QuantityAsDecimal": "17"}
    assert (
        call(emulator, METER + "BatchMeterUsage", {"UsageRecords": [both]})[1]["__type"]
        == "ValidationException"
    )


def test_legacy_customer_identifier_metering(emulator):
    legacy = emulator.create_subscription(BUYER, legacy=True)
    rec = {"Timestamp": int(NOW.timestamp()), "CustomerIdentifier": legacy["customer_identifier"]}
    rec |= {"Dimension": "api_calls", "Quantity": 3}
    status, body = call(emulator, METER + "BatchMeterUsage", {"UsageRecords": [rec]})
    assert (status, body["__type"]) == (400, "ValidationException")  # ProductCode required
    status, body = call(emulator, METER + "BatchMeterUsage", {"UsageRecords": [rec], "ProductCode": PRODUCT})
    assert body["Results"][0]["Status"] == "Success"
    assert emulator.metered()[0]["license_arn"] == legacy["license_arn"]
    unknown = rec | {"CustomerIdentifier": "NOPE"}
    _, body = call(emulator, METER + "BatchMeterUsage", {"UsageRecords": [unknown], "ProductCode": PRODUCT})
    assert body["__type"] == "InvalidCustomerIdentifierException"
    _, body = call(
        emulator, METER + "BatchMeterUsage", {"UsageRecords": [rec], "ProductCode": "otherproduct"}
    )
    assert body["__type"] == "InvalidProductCodeException"


def test_every_response_built_here_was_model_valid(emulator):
    sub = emulator.create_subscription(BUYER, entitlements={"seats": 3, "tier": "gold", "ratio": 0.5})
    call(emulator, METER + "BatchMeterUsage", {"UsageRecords": [record(sub)]})
    call(emulator, ENTITLE + "GetEntitlements", {"ProductCode": PRODUCT})
    assert emulator.response_problems == []


# ---------------------------------------------------------------- events


EVENT_FIXTURES = {
    "subscribe-success": "marketplace-sns-subscription-subscribe-success.json",
    "subscribe-fail": "marketplace-sns-subscription-subscribe-fail.json",
    "unsubscribe-pending": "marketplace-sns-subscription-unsubscribe-pending.json",
    "unsubscribe-success": "marketplace-sns-subscription-unsubscribe-success.json",
    "entitlement-updated": "marketplace-sns-entitlement-updated.json",
    "purchase-agreement-created": "marketplace-eventbridge-purchase-agreement-created-proposer.json",
    "purchase-agreement-amended": "marketplace-eventbridge-purchase-agreement-amended-proposer.json",
    "purchase-agreement-ended": "marketplace-eventbridge-purchase-agreement-ended-proposer.json",
    "license-updated": "marketplace-eventbridge-license-updated-manufacturer.json",
    "license-deprovisioned": "marketplace-eventbridge-license-deprovisioned-manufacturer.json",
}


def test_every_kind_has_a_fixture():
    assert set(EVENT_FIXTURES) == set(marketplace_events.KINDS)


@pytest.mark.parametrize("kind", sorted(EVENT_FIXTURES))
def test_event_payloads_have_the_fixture_shapes(emulator, kind):
    sub = emulator.create_subscription(BUYER)
    payload = emulator.event(kind, BUYER)
    expected = aws_fixture(EVENT_FIXTURES[kind])
    assert structure(payload) == structure(expected)
    assert list(payload) == list(expected)
    if "Message" in expected:
        message, expected_message = json.loads(payload["Message"]), json.loads(expected["Message"])
        assert structure(message) == structure(expected_message)
        assert list(message) == list(expected_message)
        assert message["action"] == kind and message["product-code"] == PRODUCT
        assert payload["TopicArn"].endswith(f"-notification-{PRODUCT}")
        assert payload["Timestamp"] == "2026-03-02T10:15:30.123Z"
        assert payload["UnsubscribeURL"].count(payload["TopicArn"]) == 1
    else:
        detail = payload["detail"]
        assert payload["detail-type"] == expected["detail-type"]
        assert payload["source"] == "aws.agreement-marketplace"
        assert payload["account"] == "444455556666"
        assert payload["time"] == "2026-03-02T10:15:30Z"
        assert detail["acceptor"] == {"accountId": BUYER}
        assert detail["agreement"]["id"] == sub["agreement_id"]
        assert payload["resources"] == [f"arn:aws:aws-marketplace::aws:agreement:{sub['agreement_id']}"]
        if "license" in detail:
            license_id = sub["license_arn"].rsplit(":", 1)[1]
            assert detail["license"]["arn"] == f"aws:license-manager:us-east-1:444455556666:{license_id}"
            assert detail["product"]["code"] == PRODUCT


@pytest.mark.parametrize(
    ("kind", "status"),
    [
        ("subscribe-success", "active"),
        ("entitlement-updated", "active"),
        ("purchase-agreement-created", "active"),
        ("purchase-agreement-amended", "active"),
        ("license-updated", "active"),
        ("unsubscribe-pending", "ending"),
        ("purchase-agreement-ended", "ending"),
        ("subscribe-fail", "ended"),
        ("unsubscribe-success", "ended"),
        ("license-deprovisioned", "ended"),
    ],
)
def test_lifecycle_events_change_the_subscription(emulator, kind, status):
    emulator.create_subscription(BUYER)
    emulator.event(kind, BUYER)
    assert emulator.subscriptions()[0]["status"] == status


def test_event_rejects_unknown_kinds_and_accounts(emulator):
    emulator.create_subscription(BUYER)
    with pytest.raises(ValueError, match="unknown Marketplace event kind"):
        emulator.event("purchase-agreement-advisory-issued", BUYER)
    with pytest.raises(KeyError):
        emulator.event("subscribe-success", OTHER_BUYER)


@pytest.mark.parametrize("timestamp", [1e20, -1e20, float("nan")])
def test_absurd_timestamps_are_out_of_bounds(emulator, timestamp):
    sub = emulator.create_subscription(BUYER)
    body = json.dumps({"UsageRecords": [record(sub) | {"Timestamp": timestamp}]}).encode()
    status, answer = call(emulator, METER + "BatchMeterUsage", body)
    assert (status, answer["__type"]) == (400, "TimestampOutOfBoundsException")


# ---------------------------------------------------------------- DescribeAgreement

AGREE = "AWSMPCommerceService_v20200301."


def _shape(value):
    """Keys and value types, recursively: what the fixture pins (values are made up)."""
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_shape(v) for v in value[:1]]
    return type(value).__name__


def test_describe_agreement_names_the_product_in_the_documented_shape(emulator):
    sub = emulator.create_subscription(BUYER)
    status, body = call(emulator, AGREE + "DescribeAgreement", {"agreementId": sub["agreement_id"]})
    assert status == 200 and emulator.response_problems == []
    assert body["proposalSummary"]["resources"] == [{"id": emulator.product_id, "type": "SaaSProduct"}]
    assert body["acceptor"] == {"accountId": BUYER} and body["status"] == "ACTIVE"
    assert _shape(body) == _shape(aws_fixture("marketplace-agreement-describe-agreement-response.json"))
    assert validate_output("marketplace-agreement", "DescribeAgreement", body) == []
    assert (
        validate_input(
            "marketplace-agreement",
            "DescribeAgreement",
            aws_fixture("marketplace-agreement-describe-agreement-request.json"),
        )
        == []
    )


def test_describe_agreement_of_another_product_and_unknown_agreements(emulator):
    other = emulator.other_product_agreement(BUYER, "prod-otherproduct0001")
    status, body = call(emulator, AGREE + "DescribeAgreement", {"agreementId": other})
    assert status == 200 and body["proposalSummary"]["resources"][0]["id"] == "prod-otherproduct0001"
    event = emulator.agreement_event("purchase-agreement-ended", other)
    assert event["detail"]["agreement"]["id"] == other and "product" not in event["detail"]
    status, body = call(emulator, AGREE + "DescribeAgreement", {"agreementId": other})
    assert body["status"] == "CANCELLED"
    status, body = call(
        emulator, AGREE + "DescribeAgreement", {"agreementId": "agmt-nosuchagreement00000000"}
    )
    assert (status, body["__type"]) == (400, "ResourceNotFoundException")
    status, body = call(emulator, AGREE + "DescribeAgreement", {})
    assert (status, body["__type"]) == (400, "ValidationException")
