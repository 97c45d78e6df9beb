"""The activation custom resource, run as CloudFormation would run it, against local stand-ins.

S3 and Secrets Manager are moto in server mode; the vendor's license API and its presigned
downloads are a local HTTP server; CloudFormation's ResponseURL is another. All on 127.0.0.1.
"""

import importlib.util
import json
import os
import secrets
import sys
import threading
import time
import tracemalloc
import uuid
from pathlib import Path

import boto3
import pytest
from moto.server import ThreadedMotoServer


def _load_fixtures():
    if "activation_fixtures" not in sys.modules:
        path = Path(__file__).with_name("activation_fixtures.py")
        spec = importlib.util.spec_from_file_location("activation_fixtures", path)
        module = importlib.util.module_from_spec(spec)
        sys.modules["activation_fixtures"] = module
        spec.loader.exec_module(module)
    return sys.modules["activation_fixtures"]


fx = _load_fixtures()

MiB = 1024 * 1024
LEAKS = (fx.SECRET_KEY, "PRESIGNEDQUERYSECRET", "RESPONSEURLSECRET", "Signature=", "X-Amz-Signature")


@pytest.fixture(scope="module")
def act():
    return fx.load_activation_module()


@pytest.fixture(scope="module")
def vendor_key():
    return fx.new_vendor_key()


@pytest.fixture(scope="module")
def moto_url():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def _aws_account(monkeypatch, endpoint_url):
    """Points boto3 at a moto server and creates the stack's bucket and key secret there."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint_url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    s3 = boto3.client("s3", region_name="us-east-1")
    bucket = f"staging-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    secret = boto3.client("secretsmanager", region_name="us-east-1").create_secret(
        Name=f"vendstack-key-{bucket}",
        SecretString=json.dumps({"access_key": fx.ACCESS_KEY, "secret_key": fx.SECRET_KEY}),
    )
    monkeypatch.setenv("STAGING_BUCKET", bucket)
    monkeypatch.setenv("SECRET_ARN", secret["ARN"])
    return s3, bucket


@pytest.fixture
def aws(monkeypatch, moto_url):
    return _aws_account(monkeypatch, moto_url)


@pytest.fixture
def cfn():
    recorder = fx.ResponseRecorder()
    yield recorder
    recorder.close()


def _artifact(size: int) -> bytes:
    return secrets.token_bytes(size)


@pytest.fixture
def make_vendor(act, vendor_key):
    made = []

    def make(artifacts=None):
        vendor = fx.FakeVendor(
            act, vendor_key, artifacts or {"api": _artifact(5000), "usage-reporter": b"PK\x05\x06"}
        )
        made.append(vendor)
        return vendor

    yield make
    for vendor in made:
        vendor.close()


@pytest.fixture
def vendor(make_vendor):
    return make_vendor()


def _invoke(act, cfn, request_type, api_url, public_key, *, physical_id=None, remaining_s=300.0, **extra):
    properties = {"VendorApiUrl": api_url, "VendorPublicKey": public_key, **extra}
    event = fx.cfn_event(request_type, cfn.url, properties, physical_id)
    started = time.monotonic()
    act.handler(event, fx.FakeContext(remaining_s))
    elapsed = time.monotonic() - started
    return cfn.only_response(), elapsed


def _objects(s3, bucket):
    return [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]


def _assert_no_leak(text):
    for leak in LEAKS:
        assert leak not in text


# --- Create -------------------------------------------------------------------------------------


def test_activation_create_stages_verified_artifacts(act, aws, cfn, vendor, vendor_key, capsys):
    s3, bucket = aws
    response, _ = _invoke(act, cfn, "Create", vendor.api_url, fx.public_key_b64(vendor_key))

    assert response["Status"] == "SUCCESS", response
    assert response["PhysicalResourceId"] == "act-0001"
    assert response["Data"] == {
        "Bucket": bucket,
        "Product": "textlens",
        "Version": "1.0.0",
        "ActivationId": "act-0001",
        "ApiKey": "textlens/1.0.0/api.zip",
        "ApiSha256": fx._sha256(vendor.artifacts["api"]),
        "UsageReporterKey": "textlens/1.0.0/usage-reporter.zip",
        "UsageReporterSha256": fx._sha256(vendor.artifacts["usage-reporter"]),
    }
    request = json.loads(fx.AWS_FIXTURES.joinpath("cfn-custom-resource-create.json").read_text())
    for field in ("StackId", "RequestId", "LogicalResourceId"):
        assert response[field] == request[field]
    recorded = cfn.responses[0]
    assert len(recorded["raw"]) <= 4096
    assert recorded["headers"]["Content-Type"] == ""
    for name, data in vendor.artifacts.items():
        obj = s3.get_object(Bucket=bucket, Key=f"textlens/1.0.0/{name}.zip")
        assert obj["Body"].read() == data
        assert obj["Metadata"]["sha256"] == fx._sha256(data)
    # The vendor got one signed activation request with the fields of docs/protocol.md §4.1.
    assert vendor.signature_failures == 0
    [call] = vendor.requests
    assert (call["method"], call["path"]) == ("POST", "/v1/activations")
    assert json.loads(call["body"]) == {
        "stack_id": request["StackId"],
        "account_id": "444455556666",
        "region": "us-east-1",
        "request_type": "Create",
    }
    _assert_no_leak(capsys.readouterr().out + json.dumps(response))


def test_activation_create_fails_fast_when_vendor_unreachable(act, aws, cfn, vendor_key):
    closed = f"http://127.0.0.1:{fx.free_port()}/prod"
    response, elapsed = _invoke(act, cfn, "Create", closed, fx.public_key_b64(vendor_key))

    assert response["Status"] == "FAILED"
    assert "unreachable" in response["Reason"]
    assert closed.removeprefix("http://").removesuffix("/prod") in response["Reason"]
    assert response["PhysicalResourceId"].startswith("activation-failed-")
    assert elapsed < 5.0  # three attempts with 0.5 s + 1 s backoff, far from any Lambda timeout


def test_activation_create_fails_on_changed_byte_and_stages_nothing(act, aws, cfn, vendor, vendor_key):
    s3, bucket = aws
    corrupted = bytearray(vendor.artifacts["api"])
    corrupted[100] ^= 0x01
    vendor.served["api"] = bytes(corrupted)

    response, _ = _invoke(act, cfn, "Create", vendor.api_url, fx.public_key_b64(vendor_key))

    assert response["Status"] == "FAILED"
    assert "artifact 'api' does not match the signed manifest: sha256" in response["Reason"]
    assert response["PhysicalResourceId"] == "act-0001"  # the rollback Delete releases it
    assert _objects(s3, bucket) == []


def test_activation_create_fails_on_changed_multipart_artifact_and_aborts(
    act, aws, cfn, make_vendor, vendor_key
):
    s3, bucket = aws
    vendor = make_vendor({"api": _artifact(9 * MiB)})
    corrupted = bytearray(vendor.artifacts["api"])
    corrupted[-1] ^= 0xFF  # in the second part: the first has been uploaded by then
    vendor.served["api"] = bytes(corrupted)

    response, _ = _invoke(act, cfn, "Create", vendor.api_url, fx.public_key_b64(vendor_key))

    assert response["Status"] == "FAILED"
    assert "artifact 'api'" in response["Reason"] and "sha256" in response["Reason"]
    assert _objects(s3, bucket) == []
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def test_activation_create_fails_on_altered_manifest(act, aws, cfn, vendor, vendor_key):
    s3, bucket = aws
    vendor.tamper_manifest = True

    response, _ = _invoke(act, cfn, "Create", vendor.api_url, fx.public_key_b64(vendor_key))

    assert response["Status"] == "FAILED"
    assert response["Reason"] == "manifest signature does not verify with VendorPublicKey"
    assert _objects(s3, bucket) == []


def test_activation_create_fails_with_another_vendor_key(act, aws, cfn, vendor):
    response, _ = _invoke(act, cfn, "Create", vendor.api_url, fx.public_key_b64(fx.new_vendor_key()))

    assert response["Status"] == "FAILED"
    assert response["Reason"] == "manifest signature does not verify with VendorPublicKey"


def test_activation_create_fails_on_manifest_for_another_account(act, aws, cfn, vendor, vendor_key):
    vendor.manifest_account = "111122223333"

    response, _ = _invoke(act, cfn, "Create", vendor.api_url, fx.public_key_b64(vendor_key))

    assert response["Status"] == "FAILED"
    assert "another AWS account" in response["Reason"]


def test_activation_create_fails_on_expired_download_url(act, aws, cfn, vendor, vendor_key, capsys):
    s3, bucket = aws
    vendor.download_status = 403

    response, _ = _invoke(act, cfn, "Create", vendor.api_url, fx.public_key_b64(vendor_key))

    assert response["Status"] == "FAILED"
    assert "artifact 'api'" in response["Reason"] and "HTTP 403" in response["Reason"]
    assert "expired" in response["Reason"]
    assert _objects(s3, bucket) == []
    _assert_no_leak(capsys.readouterr().out + json.dumps(response))


def test_activation_create_fails_with_the_vendors_402(act, aws, cfn, vendor, vendor_key):
    message = "The subscription of this key's owner is not active."
    vendor.activation_error = (402, {"error": {"code": "SubscriptionInactive", "message": message}})

    response, _ = _invoke(act, cfn, "Create", vendor.api_url, fx.public_key_b64(vendor_key))

    assert response["Status"] == "FAILED"
    assert "HTTP 402 SubscriptionInactive" in response["Reason"]
    assert message in response["Reason"]
    assert len(vendor.requests) == 1  # a 4xx is not retried


def test_activation_create_retries_5xx_then_fails(act, aws, cfn, vendor, vendor_key, monkeypatch):
    monkeypatch.setattr(act, "_CR_BACKOFF_S", (0.01,))
    vendor.activation_error = (503, {"error": {"code": "ServiceUnavailable", "message": "try later"}})

    response, _ = _invoke(act, cfn, "Create", vendor.api_url, fx.public_key_b64(vendor_key))

    assert response["Status"] == "FAILED"
    assert "HTTP 503 ServiceUnavailable" in response["Reason"]
    assert len(vendor.requests) == 3


def test_activation_answers_before_the_lambda_timeout(act, aws, cfn, vendor, vendor_key):
    vendor.delay_s = 6.0  # the vendor hangs longer than the time left
    # 14 s left: the work must stop 12 s before the end, i.e. after about 2 s.
    response, elapsed = _invoke(
        act, cfn, "Create", vendor.api_url, fx.public_key_b64(vendor_key), remaining_s=14
    )

    assert response["Status"] == "FAILED"
    assert "Lambda timeout" in response["Reason"]
    assert elapsed < 4.0  # answered with more than 10 s of the Lambda's time to spare


def test_activation_watchdog_answers_for_a_stuck_worker(act, aws, cfn, vendor, vendor_key, monkeypatch):
    released = threading.Event()

    def stuck(secret_arn, state):
        released.wait(5)
        raise RuntimeError("released")

    monkeypatch.setattr(act, "_cr_read_credentials", stuck)
    try:
        response, elapsed = _invoke(
            act, cfn, "Create", vendor.api_url, fx.public_key_b64(vendor_key), remaining_s=10.5
        )
    finally:
        released.set()
    time.sleep(0.2)  # the worker wakes up and must not answer a second time
    assert response["Status"] == "FAILED"
    assert "Lambda timeout" in response["Reason"]
    assert elapsed < 2.0
    assert len(cfn.responses) == 1


def test_activation_streams_large_artifact_with_bounded_memory(
    act, monkeypatch, cfn, make_vendor, vendor_key
):
    size = 20 * MiB
    vendor = make_vendor({"api": _artifact(size)})
    with fx.moto_subprocess() as endpoint:
        s3, bucket = _aws_account(monkeypatch, endpoint)
        tracemalloc.start()
        try:
            response, _ = _invoke(act, cfn, "Create", vendor.api_url, fx.public_key_b64(vendor_key))
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert response["Status"] == "SUCCESS", response
        head = s3.head_object(Bucket=bucket, Key="textlens/1.0.0/api.zip")
        assert head["ContentLength"] == size
        assert head["ETag"].strip('"').endswith("-3")  # three parts: 8 + 8 + 4 MiB
    # One 8 MiB part buffer and some change, whatever the artifact's size (measured: about 8.6 MiB).
    assert peak < 10 * MiB, f"peak {peak / MiB:.1f} MiB for a {size / MiB:.0f} MiB artifact"


# --- Update -------------------------------------------------------------------------------------


def test_activation_update_keeps_physical_id_when_nothing_changed(act, aws, cfn, vendor, vendor_key):
    public_key = fx.public_key_b64(vendor_key)
    created, _ = _invoke(act, cfn, "Create", vendor.api_url, public_key)
    cfn.responses.clear()

    updated, _ = _invoke(
        act, cfn, "Update", vendor.api_url, public_key, physical_id=created["PhysicalResourceId"]
    )

    assert updated["Status"] == "SUCCESS"
    assert updated["PhysicalResourceId"] == "act-0001"
    assert updated["Data"]["ActivationId"] == "act-0002"
    assert updated["Data"]["ApiKey"] == created["Data"]["ApiKey"]
    assert json.loads(vendor.requests[-1]["body"])["request_type"] == "Update"


def test_activation_update_to_a_new_version_gets_a_new_physical_id(act, aws, cfn, vendor, vendor_key):
    s3, bucket = aws
    public_key = fx.public_key_b64(vendor_key)
    _invoke(act, cfn, "Create", vendor.api_url, public_key)
    cfn.responses.clear()
    vendor.version = "1.1.0"

    updated, _ = _invoke(act, cfn, "Update", vendor.api_url, public_key, physical_id="act-0001")

    assert updated["Status"] == "SUCCESS"
    assert updated["PhysicalResourceId"] == "act-0002"
    assert updated["Data"]["ApiKey"] == "textlens/1.1.0/api.zip"
    assert "textlens/1.0.0/api.zip" in _objects(s3, bucket)  # kept for a rollback


def test_activation_failed_update_keeps_the_old_physical_id(act, aws, cfn, vendor, vendor_key):
    vendor.activation_error = (402, {"error": {"code": "SubscriptionInactive", "message": "inactive"}})

    response, _ = _invoke(
        act, cfn, "Update", vendor.api_url, fx.public_key_b64(vendor_key), physical_id="act-0042"
    )

    assert (response["Status"], response["PhysicalResourceId"]) == ("FAILED", "act-0042")


# --- Delete -------------------------------------------------------------------------------------


def test_activation_delete_tells_the_vendor(act, aws, cfn, vendor, vendor_key):
    response, _ = _invoke(
        act, cfn, "Delete", vendor.api_url, fx.public_key_b64(vendor_key), physical_id="act-0007"
    )

    assert (response["Status"], response["PhysicalResourceId"]) == ("SUCCESS", "act-0007")
    [call] = vendor.requests
    assert (call["method"], call["path"], call["body"]) == ("DELETE", "/v1/activations/act-0007", b"")
    assert vendor.signature_failures == 0


def test_activation_delete_succeeds_when_vendor_unreachable(act, aws, cfn, vendor_key):
    closed = f"http://127.0.0.1:{fx.free_port()}"
    response, elapsed = _invoke(
        act, cfn, "Delete", closed, fx.public_key_b64(vendor_key), physical_id="act-0007"
    )

    assert (response["Status"], response["PhysicalResourceId"]) == ("SUCCESS", "act-0007")
    assert elapsed < 5.0


def test_activation_delete_of_a_failed_create_skips_the_vendor(act, aws, cfn, vendor, vendor_key):
    response, _ = _invoke(
        act,
        cfn,
        "Delete",
        vendor.api_url,
        fx.public_key_b64(vendor_key),
        physical_id="activation-failed-1234",
    )

    assert (response["Status"], response["PhysicalResourceId"]) == ("SUCCESS", "activation-failed-1234")
    assert vendor.requests == []


def test_activation_delete_succeeds_without_properties_or_secret(act, aws, cfn, monkeypatch):
    monkeypatch.setenv("SECRET_ARN", "arn:aws:secretsmanager:us-east-1:444455556666:secret:gone-AbCdEf")
    event = fx.cfn_event("Delete", cfn.url, {}, "act-0007")
    act.handler(event, fx.FakeContext(300))
    assert cfn.only_response()["Status"] == "SUCCESS"


def test_activation_rejects_plain_http_vendor_url(act, aws, cfn, vendor_key):
    response, _ = _invoke(act, cfn, "Create", "http://vendor.example.com/prod", fx.public_key_b64(vendor_key))

    assert response["Status"] == "FAILED"
    assert "VendorApiUrl must be an https URL" in response["Reason"]


def test_activation_environment_points_at_moto(aws):
    assert os.environ["AWS_ENDPOINT_URL"].startswith("http://127.0.0.1:")
