"""The Marketplace emulator over HTTP on 127.0.0.1, through real boto3 clients.

Every exchange is recorded from botocore's own events; at teardown each request is checked against the
input model and each response (success and error) against the output/error model, both with this
package's validator on the raw wire JSON and with botocore's ParamValidator on the parsed result.
"""

from __future__ import annotations

import http.client
import json
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from botocore.validate import ParamValidator

from sandbox.marketplace import MarketplaceEmulator
from sandbox.marketplace_model import (
    ENTITLEMENT,
    METERING,
    service_model,
    validate,
    validate_input,
    validate_output,
)
from tests.aws_fixtures import aws_fixture, structure
from tests.plugins.clock import Clock

PRODUCT = "exampleprod1234567890"
BUYER = "111122223333"
OTHER_BUYER = "222233334444"
NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)  # the fixture records are stamped 08:00 and 09:00 that day
COMMON_ERRORS = {"ValidationException", "SerializationException", "UnknownOperationException"}
SERVICES = {"marketplace-metering": METERING, "marketplace-entitlement-service": ENTITLEMENT}


class Wire:
    """Every request and response botocore exchanged with the emulator."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, dict, bytes]] = []
        self.responses: list[tuple[str, str, dict, dict | None]] = []

    def attach(self, client) -> None:
        events = client.meta.events
        events.register("before-send", self._before_send)
        events.register("response-received", self._received)

    def _before_send(self, request, **kwargs):
        target = request.headers.get("X-Amz-Target", b"")
        target = target.decode() if isinstance(target, bytes) else target
        headers = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in request.headers.items()}
        self.requests.append((target, request.url, headers, request.body or b""))

    def _received(self, response_dict, parsed_response, event_name, **kwargs):
        if response_dict is None:
            return
        _, service_id, operation = event_name.split(".")
        body = json.loads(response_dict["body"] or b"{}")
        raw = {"status": response_dict["status_code"], "body": body}
        self.responses.append((SERVICES[service_id], operation, raw, parsed_response))

    def last_body(self) -> dict:
        return self.responses[-1][2]["body"]


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def wire() -> Wire:
    return Wire()


class _RetrySleeps(list):
    """Stands in for the `time` module of botocore's endpoint, whose only use of it is the sleep
    between a retried call's attempts: the delays are recorded, not slept."""

    def sleep(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def retry_sleeps(monkeypatch) -> _RetrySleeps:
    import botocore.endpoint

    sleeps = _RetrySleeps()
    monkeypatch.setattr(botocore.endpoint, "time", sleeps)
    return sleeps


@pytest.fixture
def emulator(clock, wire):
    emu = MarketplaceEmulator(PRODUCT, ["api_calls", "storage_gb"], clock=clock)
    emu.start()
    yield emu
    emu.stop()
    _check_wire(wire)
    assert emu.response_problems == []


CONSTRAINT_ERRORS = {
    "ValidationException",
    "InvalidParameterException",
    "SerializationException",
    "InvalidTagException",
}


def _check_wire(wire: Wire) -> None:
    """Each request was model-valid or got a constraint error; each response fits the model."""
    assert len(wire.requests) == len(wire.responses)
    validator = ParamValidator()
    for (target, _url, headers, body), (service, operation, raw, parsed) in zip(
        wire.requests, wire.responses, strict=True
    ):
        assert headers["Content-Type"] == "application/x-amz-json-1.1"
        assert target == f"{service_model(service).metadata['targetPrefix']}.{operation}"
        problems = validate_input(service, operation, json.loads(body or b"{}"))
        if problems:
            assert raw["body"].get("__type") in CONSTRAINT_ERRORS, (target, problems, raw)
        _check_response(service, operation, raw, parsed, validator)


def _check_response(service: str, operation: str, raw: dict, parsed: dict | None, validator) -> None:
    body = raw["body"]
    if raw["status"] == 200:
        assert validate_output(service, operation, body) == [], (operation, body)
        result = {k: v for k, v in parsed.items() if k != "ResponseMetadata"}
        output = service_model(service).operation_model(operation).output_shape
        report = validator.validate(result, output)
        assert not report.has_errors(), report.generate_report()
        return
    assert set(body) == {"__type", "message"}, body
    code = body["__type"]
    modeled = {s.name: s for s in service_model(service).error_shapes}
    assert code in modeled or code in COMMON_ERRORS, code
    if code in modeled:
        assert validate(modeled[code], {"message": body["message"]}) == []
        assert raw["status"] == (500 if modeled[code].metadata.get("fault") else 400)


def post(url: str, target: str | None, body: bytes, headers: dict | None = None) -> tuple[int, dict]:
    """A raw awsJson1_1 call, for what botocore's serializer refuses to send."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)
    sent = {"Content-Type": "application/x-amz-json-1.1", **(headers or {})}
    if target:
        sent["X-Amz-Target"] = target
    try:
        connection.request("POST", parts.path or "/", body=body, headers=sent)
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def _client(service: str, url: str, wire: Wire, **config):
    client = boto3.client(
        service,
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
        config=Config(**config) if config else None,
    )
    wire.attach(client)
    return client


@pytest.fixture
def metering(emulator, wire):
    return _client("meteringmarketplace", emulator.endpoint_url, wire)


@pytest.fixture
def entitlement(emulator, wire):
    return _client("marketplace-entitlement", emulator.endpoint_url, wire)


@pytest.fixture
def raw_metering(emulator, wire):
    """No client-side parameter validation: the request reaches the emulator's validator as sent."""
    return _client("meteringmarketplace", emulator.endpoint_url, wire, parameter_validation=False)


@pytest.fixture
def raw_entitlement(emulator, wire):
    return _client("marketplace-entitlement", emulator.endpoint_url, wire, parameter_validation=False)


def usage(sub: dict, account: str = BUYER, *, ts: datetime = NOW, dimension="api_calls", quantity=1) -> dict:
    return {
        "Timestamp": ts,
        "CustomerAWSAccountId": account,
        "LicenseArn": sub["license_arn"],
        "Dimension": dimension,
        "Quantity": quantity,
    }


def error_code(excinfo) -> str:
    return excinfo.value.response["Error"]["Code"]


# ---------------------------------------------------------------- protocol & endpoints


def test_boto3_speaks_awsjson_to_both_services(emulator, metering, entitlement, wire):
    assert entitlement.meta.service_model.resolved_protocol == "json"
    assert metering.meta.service_model.resolved_protocol == "json"
    entitlement.get_entitlements(ProductCode=PRODUCT)
    target, url, headers, _ = wire.requests[-1]
    assert target == "AWSMPEntitlementService.GetEntitlements"
    assert url == emulator.endpoint_url + "/"
    assert headers["Content-Type"] == "application/x-amz-json-1.1"
    assert "smithy-protocol" not in {k.lower() for k in headers}


def test_service_specific_endpoint_env_vars(emulator, monkeypatch, wire):
    monkeypatch.setenv("AWS_ENDPOINT_URL_MARKETPLACE_METERING", emulator.endpoint_url)
    monkeypatch.setenv("AWS_ENDPOINT_URL_MARKETPLACE_ENTITLEMENT_SERVICE", emulator.endpoint_url)
    monkeypatch.delenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", raising=False)
    session = boto3.session.Session(aws_access_key_id="x", aws_secret_access_key="x", region_name="us-east-1")
    metering = session.client("meteringmarketplace")
    entitlement = session.client("marketplace-entitlement")
    wire.attach(metering)
    wire.attach(entitlement)
    assert metering.meta.endpoint_url == emulator.endpoint_url
    assert entitlement.meta.endpoint_url == emulator.endpoint_url
    token = emulator.create_subscription(BUYER)["registration_token"]
    assert metering.resolve_customer(RegistrationToken=token)["CustomerAWSAccountId"] == BUYER
    assert entitlement.get_entitlements(ProductCode=PRODUCT)["Entitlements"] == []


# ---------------------------------------------------------------- ResolveCustomer


def test_resolve_customer(emulator, metering, wire):
    sub = emulator.create_subscription(BUYER)
    result = metering.resolve_customer(RegistrationToken=sub["registration_token"])
    assert result["CustomerAWSAccountId"] == BUYER
    assert result["ProductCode"] == PRODUCT
    assert result["LicenseArn"] == sub["license_arn"]
    assert "CustomerIdentifier" not in result
    assert structure(wire.last_body()) == structure(aws_fixture("resolve-customer-response.json"))


def test_resolve_customer_legacy(emulator, metering, wire):
    sub = emulator.create_subscription(BUYER, legacy=True)
    result = metering.resolve_customer(RegistrationToken=sub["registration_token"])
    assert result["CustomerIdentifier"] == sub["customer_identifier"]
    assert structure(wire.last_body()) == structure(aws_fixture("resolve-customer-response-legacy.json"))


def test_resolve_customer_invalid_token(emulator, metering):
    emulator.create_subscription(BUYER)
    with pytest.raises(metering.exceptions.InvalidTokenException):
        metering.resolve_customer(RegistrationToken="not-a-token")


def test_resolve_customer_expired_token(emulator, metering, clock):
    token = emulator.create_subscription(BUYER)["registration_token"]
    clock.now = NOW + timedelta(hours=1)
    with pytest.raises(metering.exceptions.ExpiredTokenException):
        metering.resolve_customer(RegistrationToken=token)


def test_resolve_customer_server_side_validation(emulator, raw_metering):
    with pytest.raises(ClientError) as excinfo:
        raw_metering.resolve_customer()
    assert error_code(excinfo) == "ValidationException"
    assert "RegistrationToken" in str(excinfo.value)


# ---------------------------------------------------------------- BatchMeterUsage


def test_batch_meter_usage_success(emulator, metering):
    sub = emulator.create_subscription(BUYER)
    result = metering.batch_meter_usage(UsageRecords=[usage(sub, quantity=42)])
    (item,) = result["Results"]
    assert item["Status"] == "Success" and item["MeteringRecordId"]
    assert result["UnprocessedRecords"] == []
    assert emulator.metered() == [
        {
            "aws_account_id": BUYER,
            "license_arn": sub["license_arn"],
            "dimension": "api_calls",
            "quantity": 42,
            "timestamp": "2026-03-02T09:30:00Z",
            "status": "Success",
            "metering_record_id": item["MeteringRecordId"],
        }
    ]


def test_the_request_fixture_gets_the_response_fixture_shape(emulator, metering, wire):
    request = aws_fixture("batch-meter-usage-request.json")
    expected = aws_fixture("batch-meter-usage-response.json")
    assert validate_input(METERING, "BatchMeterUsage", request) == []
    emulator.create_subscription(BUYER, license_id="l-0123456789abcdef0123456789abcdef")
    emulator.create_subscription(OTHER_BUYER, license_id="l-fedcba9876543210fedcba9876543210")
    emulator.end_subscription(OTHER_BUYER)
    earlier = dict(request["UsageRecords"][1], Quantity=800)  # an 08:00 record already accepted
    metering.batch_meter_usage(UsageRecords=[earlier])
    emulator.inject_unprocessed(1)

    metering.batch_meter_usage(**request)

    body = wire.last_body()
    assert structure(body) == structure(expected)
    assert [r["Status"] for r in body["Results"]] == [r["Status"] for r in expected["Results"]]
    assert [r["UsageRecord"] for r in body["Results"]] == [r["UsageRecord"] for r in expected["Results"]]
    assert body["UnprocessedRecords"] == expected["UnprocessedRecords"]
    assert [m["quantity"] for m in emulator.metered()] == [800, 1250]


def test_twenty_five_records_at_most(emulator, metering):
    sub = emulator.create_subscription(BUYER)
    records = [
        usage(sub, ts=NOW - timedelta(minutes=20 * h), dimension=d)
        for h in range(13)
        for d in ("api_calls", "storage_gb")
    ]
    with pytest.raises(ClientError) as excinfo:
        metering.batch_meter_usage(UsageRecords=records)  # 26: botocore does not check max client-side
    assert error_code(excinfo) == "ValidationException"
    assert "less than or equal to 25" in str(excinfo.value)
    assert emulator.metered() == []
    result = metering.batch_meter_usage(UsageRecords=records[:25])
    assert [r["Status"] for r in result["Results"]] == ["Success"] * 25


def test_duplicate_record_same_hour(emulator, metering):
    sub = emulator.create_subscription(BUYER)
    hour = NOW.replace(minute=0)
    first = metering.batch_meter_usage(UsageRecords=[usage(sub, ts=hour, quantity=5)])["Results"][0]
    assert first["Status"] == "Success"
    # the same hour with another quantity, at the same or another minute
    for ts in (hour, hour + timedelta(minutes=20)):
        again = metering.batch_meter_usage(UsageRecords=[usage(sub, ts=ts, quantity=6)])["Results"][0]
        assert again["Status"] == "DuplicateRecord" and "MeteringRecordId" not in again
    # an identical record is idempotent: the original id, billed once
    same = metering.batch_meter_usage(UsageRecords=[usage(sub, ts=hour, quantity=5)])["Results"][0]
    assert (same["Status"], same["MeteringRecordId"]) == ("Success", first["MeteringRecordId"])
    # duplicates inside one batch; another dimension or hour is not a duplicate
    batch = [
        usage(sub, ts=hour - timedelta(hours=1), quantity=1),
        usage(sub, ts=hour - timedelta(hours=1), quantity=2),
        usage(sub, ts=hour, dimension="storage_gb", quantity=5),
    ]
    statuses = [r["Status"] for r in metering.batch_meter_usage(UsageRecords=batch)["Results"]]
    assert statuses == ["Success", "DuplicateRecord", "Success"]
    assert len(emulator.metered()) == 3


def test_customer_not_subscribed_after_the_subscription_ends(emulator, metering):
    sub = emulator.create_subscription(BUYER)
    other = emulator.create_subscription(OTHER_BUYER)
    emulator.end_subscription(BUYER)
    result = metering.batch_meter_usage(UsageRecords=[usage(sub), usage(other, OTHER_BUYER)])
    assert [r["Status"] for r in result["Results"]] == ["CustomerNotSubscribed", "Success"]
    assert "MeteringRecordId" not in result["Results"][0]


def test_unsubscribe_events_end_metering_after_the_final_window(emulator, metering):
    sub = emulator.create_subscription(BUYER)
    emulator.event("unsubscribe-pending", BUYER)
    assert metering.batch_meter_usage(UsageRecords=[usage(sub)])["Results"][0]["Status"] == "Success"
    emulator.event("unsubscribe-success", BUYER)
    result = metering.batch_meter_usage(UsageRecords=[usage(sub, dimension="storage_gb")])
    assert result["Results"][0]["Status"] == "CustomerNotSubscribed"


@pytest.mark.parametrize(
    ("offset", "accepted"),
    [
        (timedelta(hours=-5, minutes=-59), True),
        (timedelta(hours=-6), False),  # BatchMeterUsage API reference: refused 6 hours after
        (timedelta(hours=-23, minutes=-59), False),
        (timedelta(days=-3), False),
        (timedelta(minutes=4), True),
        (timedelta(minutes=10), False),
    ],
)
def test_timestamp_window(emulator, metering, offset, accepted):
    sub = emulator.create_subscription(BUYER)
    records = [usage(sub, dimension="storage_gb"), usage(sub, ts=NOW + offset)]
    if accepted:
        assert len(metering.batch_meter_usage(UsageRecords=records)["Results"]) == 2
    else:
        with pytest.raises(metering.exceptions.TimestampOutOfBoundsException):
            metering.batch_meter_usage(UsageRecords=records)
        assert emulator.metered() == []  # the whole batch is refused


def test_window_is_configurable(clock, wire):
    """The model text's lenient 24 h reading, for comparison; the default is the strict 6 h."""
    with MarketplaceEmulator(PRODUCT, ["api_calls"], clock=clock, window_hours=24) as emu:
        client = _client("meteringmarketplace", emu.endpoint_url, wire)
        sub = emu.create_subscription(BUYER)
        with pytest.raises(client.exceptions.TimestampOutOfBoundsException):
            client.batch_meter_usage(UsageRecords=[usage(sub, ts=NOW - timedelta(hours=24))])
        client.batch_meter_usage(UsageRecords=[usage(sub, ts=NOW - timedelta(hours=23))])
    _check_wire(wire)


def test_unknown_dimension(emulator, metering):
    sub = emulator.create_subscription(BUYER)
    with pytest.raises(metering.exceptions.InvalidUsageDimensionException):
        metering.batch_meter_usage(UsageRecords=[usage(sub), usage(sub, dimension="gpu_hours")])
    assert emulator.metered() == []


def test_invalid_license(emulator, metering):
    sub = emulator.create_subscription(BUYER)
    other = emulator.create_subscription(OTHER_BUYER)
    unknown = dict(usage(sub), LicenseArn="arn:aws:license-manager::444455556666:license:l-" + "0" * 32)
    with pytest.raises(metering.exceptions.InvalidLicenseException):
        metering.batch_meter_usage(UsageRecords=[usage(sub), unknown])
    with pytest.raises(metering.exceptions.InvalidLicenseException):  # another buyer's licence
        metering.batch_meter_usage(UsageRecords=[usage(other, BUYER)])
    assert emulator.metered() == []


def test_product_code_must_match(emulator, metering):
    sub = emulator.create_subscription(BUYER)
    with pytest.raises(metering.exceptions.InvalidProductCodeException):
        metering.batch_meter_usage(UsageRecords=[usage(sub)], ProductCode="someotherproduct")


def test_throttling_injection(emulator, metering, wire, retry_sleeps):
    sub = emulator.create_subscription(BUYER)
    no_retry = _client("meteringmarketplace", emulator.endpoint_url, wire, retries={"total_max_attempts": 1})
    emulator.inject_throttling(1)
    with pytest.raises(no_retry.exceptions.ThrottlingException):
        no_retry.batch_meter_usage(UsageRecords=[usage(sub)])
    assert emulator.metered() == []
    emulator.inject_throttling(1)  # the default client retries through it
    result = metering.batch_meter_usage(UsageRecords=[usage(sub)])
    assert result["ResponseMetadata"]["RetryAttempts"] == 1
    assert result["Results"][0]["Status"] == "Success"
    assert len(retry_sleeps) == 1 and 0 <= retry_sleeps[0] <= 1  # one backoff, botocore's first


def test_unprocessed_injection(emulator, metering):
    sub = emulator.create_subscription(BUYER)
    records = [usage(sub, ts=NOW - timedelta(hours=h)) for h in range(3)]
    emulator.inject_unprocessed(2)
    result = metering.batch_meter_usage(UsageRecords=records)
    assert len(result["Results"]) == 1
    assert [r["Timestamp"] for r in result["UnprocessedRecords"]] == [r["Timestamp"] for r in records[1:]]
    retried = metering.batch_meter_usage(UsageRecords=result["UnprocessedRecords"])
    assert [r["Status"] for r in retried["Results"]] == ["Success", "Success"]
    assert retried["UnprocessedRecords"] == []
    assert len(emulator.metered()) == 3


def test_batch_server_side_validation(emulator, raw_metering):
    sub = emulator.create_subscription(BUYER)
    cases = [
        ([dict(usage(sub), Quantity=-1)], "ValidationException"),
        ([dict(usage(sub), Dimension="")], "ValidationException"),
        ([{k: v for k, v in usage(sub).items() if k != "Timestamp"}], "ValidationException"),
        ([dict(usage(sub), CustomerIdentifier="X01EXAMPLEX")], "ValidationException"),
        (
            [
                dict(
                    usage(sub),
                    UsageAllocations=[
                        {"AllocatedUsageQuantity": 1, "Tags": [{"Key": "k", "Value": "v"}] * 6}
                    ],
                )
            ],
            "InvalidTagException",
        ),
        (
            [dict(usage(sub, quantity=3), UsageAllocations=[{"AllocatedUsageQuantity": 2}])],
            "InvalidUsageAllocationsException",
        ),
    ]
    for records, code in cases:
        with pytest.raises(ClientError) as excinfo:
            raw_metering.batch_meter_usage(UsageRecords=records)
        assert error_code(excinfo) == code, records
    assert emulator.metered() == []


def test_meter_usage_is_not_for_saas(emulator, metering):
    with pytest.raises(metering.exceptions.InvalidProductCodeException):
        metering.meter_usage(ProductCode=PRODUCT, Timestamp=NOW, UsageDimension="api_calls", UsageQuantity=1)


# ---------------------------------------------------------------- GetEntitlements


@pytest.fixture
def entitled(emulator):
    a = emulator.create_subscription(BUYER, entitlements={"seats": 10, "premium_support": True})
    b = emulator.create_subscription(OTHER_BUYER, entitlements={"seats": 3, "tier": "gold"}, legacy=True)
    return a, b


def test_get_entitlements_shape(emulator, entitlement, entitled, wire):
    a, _ = entitled
    request = aws_fixture("get-entitlements-request.json")
    request["Filter"]["LICENSE_ARN"] = [a["license_arn"]]
    result = entitlement.get_entitlements(**request)
    assert [(e["Dimension"], e["Value"]) for e in result["Entitlements"]] == [
        ("seats", {"IntegerValue": 10}),
        ("premium_support", {"BooleanValue": True}),
    ]
    expected = aws_fixture("get-entitlements-response.json")
    body = wire.last_body()
    assert structure(body["Entitlements"]) == structure(expected["Entitlements"])
    assert "NextToken" not in body
    assert result["Entitlements"][0]["ExpirationDate"] == datetime(2027, 3, 1, 23, 59, 59, tzinfo=UTC)


def test_get_entitlements_filters(entitlement, entitled):
    a, b = entitled

    def dims(**filters):
        found = entitlement.get_entitlements(ProductCode=PRODUCT, Filter=filters)["Entitlements"]
        return sorted((e["CustomerAWSAccountId"], e["Dimension"]) for e in found)

    assert dims() == [
        (BUYER, "premium_support"),
        (BUYER, "seats"),
        (OTHER_BUYER, "seats"),
        (OTHER_BUYER, "tier"),
    ]
    assert dims(CUSTOMER_AWS_ACCOUNT_ID=[OTHER_BUYER]) == [(OTHER_BUYER, "seats"), (OTHER_BUYER, "tier")]
    assert dims(LICENSE_ARN=[a["license_arn"]]) == [(BUYER, "premium_support"), (BUYER, "seats")]
    assert dims(DIMENSION=["seats"]) == [(BUYER, "seats"), (OTHER_BUYER, "seats")]
    assert dims(DIMENSION=["seats", "tier"], CUSTOMER_AWS_ACCOUNT_ID=[OTHER_BUYER]) == [
        (OTHER_BUYER, "seats"),
        (OTHER_BUYER, "tier"),
    ]
    assert dims(CUSTOMER_IDENTIFIER=[b["customer_identifier"]]) == [
        (OTHER_BUYER, "seats"),
        (OTHER_BUYER, "tier"),
    ]
    assert dims(CUSTOMER_AWS_ACCOUNT_ID=["999999999999"]) == []
    legacy_rows = entitlement.get_entitlements(ProductCode=PRODUCT, Filter={"DIMENSION": ["tier"]})[
        "Entitlements"
    ]
    assert legacy_rows[0]["CustomerIdentifier"] == b["customer_identifier"]
    with pytest.raises(entitlement.exceptions.InvalidParameterException):
        entitlement.get_entitlements(
            ProductCode=PRODUCT,
            Filter={
                "CUSTOMER_IDENTIFIER": [b["customer_identifier"]],
                "CUSTOMER_AWS_ACCOUNT_ID": [OTHER_BUYER],
            },
        )


def test_get_entitlements_pagination(entitlement, entitled):
    pages, token = [], None
    while True:
        kwargs = {"NextToken": token} if token else {}
        page = entitlement.get_entitlements(ProductCode=PRODUCT, MaxResults=3, **kwargs)
        pages.append(len(page["Entitlements"]))
        token = page.get("NextToken")
        if not token:
            break
    assert pages == [3, 1]
    paginator = entitlement.get_paginator("get_entitlements")
    items = [
        e
        for p in paginator.paginate(ProductCode=PRODUCT, PaginationConfig={"PageSize": 1})
        for e in p["Entitlements"]
    ]
    assert len(items) == 4
    with pytest.raises(entitlement.exceptions.InvalidParameterException):
        entitlement.get_entitlements(ProductCode=PRODUCT, NextToken="garbage")
    first = entitlement.get_entitlements(ProductCode=PRODUCT, MaxResults=1)
    with pytest.raises(entitlement.exceptions.InvalidParameterException):  # a token for another query
        entitlement.get_entitlements(
            ProductCode=PRODUCT, NextToken=first["NextToken"], Filter={"DIMENSION": ["seats"]}
        )


def test_get_entitlements_server_side_validation(entitlement, raw_entitlement, entitled):
    with pytest.raises(entitlement.exceptions.InvalidParameterException):
        entitlement.get_entitlements(ProductCode=PRODUCT, MaxResults=26)  # not checked client-side
    with pytest.raises(raw_entitlement.exceptions.InvalidParameterException):
        raw_entitlement.get_entitlements(ProductCode=PRODUCT, MaxResults=0)
    with pytest.raises(raw_entitlement.exceptions.InvalidParameterException):
        raw_entitlement.get_entitlements(ProductCode=PRODUCT, Filter={"COLOUR": ["blue"]})
    with pytest.raises(raw_entitlement.exceptions.InvalidParameterException):
        raw_entitlement.get_entitlements()


def test_ended_subscriptions_have_no_entitlements(emulator, entitlement, entitled):
    emulator.event("license-deprovisioned", BUYER)
    found = entitlement.get_entitlements(ProductCode=PRODUCT)["Entitlements"]
    assert {e["CustomerAWSAccountId"] for e in found} == {OTHER_BUYER}
    emulator.set_entitlements(OTHER_BUYER, {"seats": 5})
    found = entitlement.get_entitlements(ProductCode=PRODUCT)["Entitlements"]
    assert [(e["Dimension"], e["Value"]) for e in found] == [("seats", {"IntegerValue": 5})]


def test_throttling_applies_to_entitlements_too(emulator, wire, entitled):
    client = _client(
        "marketplace-entitlement", emulator.endpoint_url, wire, retries={"total_max_attempts": 1}
    )
    emulator.inject_throttling(1)
    with pytest.raises(client.exceptions.ThrottlingException):
        client.get_entitlements(ProductCode=PRODUCT)
    assert client.get_entitlements(ProductCode=PRODUCT)["Entitlements"]


# ---------------------------------------------------------------- concurrency


def test_concurrent_batches_bill_each_hour_once(emulator, wire):
    sub = emulator.create_subscription(BUYER)

    def send(quantity: int) -> str:
        client = _client("meteringmarketplace", emulator.endpoint_url, wire)
        return client.batch_meter_usage(UsageRecords=[usage(sub, quantity=quantity)])["Results"][0]["Status"]

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(send, range(1, 17)))
    assert statuses.count("Success") == 1 and statuses.count("DuplicateRecord") == 15
    assert len(emulator.metered()) == 1


# ---------------------------------------------------------------- raw wire


def test_raw_wire_errors(emulator):
    url = emulator.endpoint_url
    sub = emulator.create_subscription(BUYER)
    record = dict(usage(sub), Timestamp=int(NOW.timestamp()))
    cases = [
        (
            "AWSMPMeteringService.BatchMeterUsage",
            {"UsageRecords": [dict(record, Colour="blue")]},
            "ValidationException",
        ),
        (
            "AWSMPMeteringService.BatchMeterUsage",
            {"UsageRecords": [dict(record, Quantity="3")]},
            "SerializationException",
        ),
        (
            "AWSMPMeteringService.BatchMeterUsage",
            {"UsageRecords": [dict(record, Timestamp="2026-03-02")]},
            "SerializationException",
        ),
        (
            "AWSMPEntitlementService.GetEntitlements",
            {"ProductCode": PRODUCT, "Filter": {"DIMENSION": "seats"}},
            "SerializationException",
        ),
        ("AWSMPMeteringService.GetEntitlements", {"ProductCode": PRODUCT}, "UnknownOperationException"),
        (None, {}, "UnknownOperationException"),
    ]
    for target, params, code in cases:
        status, body = post(url, target, json.dumps(params).encode())
        assert (status, body["__type"]) == (400, code), (target, params, body)
    assert post(url, "AWSMPMeteringService.ResolveCustomer", b"{")[1]["__type"] == "SerializationException"
    status, body = post(
        url + "/service/AWSMPEntitlementService/operation/GetEntitlements",
        None,
        b"",
        {"smithy-protocol": "rpc-v2-cbor"},
    )
    assert status == 404  # rpcv2Cbor is not emulated (boto3 never picks it)
    assert emulator.metered() == []
    status, body = post(
        url, "AWSMPMeteringService.BatchMeterUsage", json.dumps({"UsageRecords": [record]}).encode()
    )
    assert status == 200 and body["Results"][0]["Status"] == "Success"


def test_retries_max_attempts_counts_retries_not_attempts(emulator, wire, retry_sleeps):
    """botocore: retries={"max_attempts": 1} still makes one retry; total_max_attempts=1 makes none."""
    client = _client("marketplace-entitlement", emulator.endpoint_url, wire, retries={"max_attempts": 1})
    assert client.meta.config.retries["total_max_attempts"] == 2
    emulator.inject_throttling(1)
    assert client.get_entitlements(ProductCode=PRODUCT)["ResponseMetadata"]["RetryAttempts"] == 1
    assert len(retry_sleeps) == 1
