"""The activation custom resource, run as CloudFormation would run it, against local stand-ins.

S3 and Secrets Manager are moto in server mode; the vendor's license API and its presigned
downloads are a local HTTP server; CloudFormation's ResponseURL is another. All on 127.0.0.1.
"""

import itertools
import json
import os
import secrets
import threading
import time
import tracemalloc
import uuid

import boto3
import pytest

from tests.plugins import activation_standins as fx
from tests.plugins.moto_server import MotoServer

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
    server = MotoServer()
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


@pytest.fixture(autouse=True)
def sandbox_flag(monkeypatch):
    """The local stand-ins speak plain http on 127.0.0.1, which only the sandbox flag allows.
    VENDOR_* are registered with monkeypatch so that _invoke's settings are undone after each test."""
    monkeypatch.setenv(fx.SANDBOX_FLAG, "1")
    monkeypatch.setenv("VENDOR_API_URL", "")
    monkeypatch.setenv("VENDOR_PUBLIC_KEY", "")


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


def _invoke(
    act,
    cfn,
    request_type,
    api_url,
    public_key,
    *,
    physical_id=None,
    remaining_s=300.0,
    version="1.0.0",
    old_version=None,
    **extra,
):
    """Runs the handler as CloudFormation would: the vendor's URL and key in the function's
    environment (from the template's parameters), the template's ReleaseVersion as a property."""
    os.environ["VENDOR_API_URL"] = api_url
    os.environ["VENDOR_PUBLIC_KEY"] = public_key
    properties = {"ReleaseVersion": version, **extra} if version is not None else dict(extra)
    old = {"ReleaseVersion": old_version} if old_version is not None else None
    event = fx.cfn_event(request_type, cfn.url, properties, physical_id, old)
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
        "version": "1.0.0",
    }
    _assert_no_leak(capsys.readouterr().out + json.dumps(response))


@pytest.fixture
def backoff_sleeps(act, monkeypatch):
    """The work's backoff, recorded instead of slept: a test adds it to the time it measured.

    The shipped retry policies stay as they are; only the wait itself is skipped (a cancelled
    budget still ends it at once, as the real sleep does)."""
    slept: list[float] = []

    def sleep(budget, seconds):
        if not budget.cancel.is_set():
            slept.append(max(0.0, seconds))

    monkeypatch.setattr(act._CrBudget, "sleep", sleep)
    return slept


def test_activation_create_fails_fast_when_vendor_unreachable(act, aws, cfn, vendor_key, backoff_sleeps):
    closed = f"http://127.0.0.1:{fx.free_port()}/prod"
    response, elapsed = _invoke(act, cfn, "Create", closed, fx.public_key_b64(vendor_key))

    assert response["Status"] == "FAILED"
    assert "unreachable" in response["Reason"]
    assert closed.removeprefix("http://").removesuffix("/prod") in response["Reason"]
    assert response["PhysicalResourceId"].startswith("activation-failed-")
    # Three attempts with the shipped 0.5 s + 1 s backoff (equal jitter), far from any Lambda timeout.
    assert len(backoff_sleeps) == 2
    assert elapsed + sum(backoff_sleeps) < 5.0


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
    monkeypatch.setattr(act, "_CR_VENDOR_POLICY", act.RetryPolicy(attempts=3, base_s=0.01, cap_s=0.01))
    vendor.activation_error = (503, {"error": {"code": "ServiceUnavailable", "message": "try later"}})

    response, _ = _invoke(act, cfn, "Create", vendor.api_url, fx.public_key_b64(vendor_key))

    assert response["Status"] == "FAILED"
    assert "HTTP 503 ServiceUnavailable" in response["Reason"]
    assert len(vendor.requests) == 3


def test_activation_answers_before_the_lambda_timeout(act, aws, cfn, vendor, vendor_key):
    vendor.delay_s = 3.0  # the vendor hangs longer than the time left
    # 12.3 s left: the work must stop at the shipped 12 s reserve, i.e. after about 0.3 s, and
    # answer itself, before the watchdog would (at the 10 s hard reserve, after 2.3 s).
    remaining_s = 12.3
    response, elapsed = _invoke(
        act, cfn, "Create", vendor.api_url, fx.public_key_b64(vendor_key), remaining_s=remaining_s
    )

    assert response["Status"] == "FAILED"
    assert "Lambda timeout" in response["Reason"]
    assert elapsed < remaining_s - 10.0  # answered with more than 10 s of the Lambda's time to spare


def test_activation_watchdog_answers_for_a_stuck_worker(act, aws, cfn, vendor, vendor_key, monkeypatch):
    """The worker stays stuck past the hard reserve (10 s before the timeout; 0.1 s here) and
    wakes only once the watchdog has answered: it must not answer a second time."""
    released = threading.Event()
    put_response = act._cr_put_response

    def put_then_release(url, body):
        put_response(url, body)
        released.set()

    def stuck(secret_arn, state):
        released.wait(5)
        raise RuntimeError("released")

    monkeypatch.setattr(act, "_cr_put_response", put_then_release)
    monkeypatch.setattr(act, "_cr_read_credentials", stuck)
    try:
        response, elapsed = _invoke(
            act, cfn, "Create", vendor.api_url, fx.public_key_b64(vendor_key), remaining_s=10.1
        )
    finally:
        released.set()
    for worker in threading.enumerate():  # the woken worker has run to its end
        if worker.name == "activation":
            worker.join(5)
    assert response["Status"] == "FAILED"
    assert "Lambda timeout" in response["Reason"]
    assert elapsed < 1.6
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

    updated, _ = _invoke(
        act,
        cfn,
        "Update",
        vendor.api_url,
        public_key,
        physical_id="act-0001",
        version="1.1.0",
        old_version="1.0.0",
    )

    assert updated["Status"] == "SUCCESS"
    assert updated["PhysicalResourceId"] == "act-0002"
    assert updated["Data"]["ApiKey"] == "textlens/1.1.0/api.zip"
    assert json.loads(vendor.requests[-1]["body"])["version"] == "1.1.0"  # the new template's release
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


def test_activation_delete_succeeds_when_vendor_unreachable(act, aws, cfn, vendor_key, backoff_sleeps):
    closed = f"http://127.0.0.1:{fx.free_port()}"
    response, elapsed = _invoke(
        act, cfn, "Delete", closed, fx.public_key_b64(vendor_key), physical_id="act-0007"
    )

    assert (response["Status"], response["PhysicalResourceId"]) == ("SUCCESS", "act-0007")
    assert len(backoff_sleeps) == 1  # two attempts
    assert elapsed + sum(backoff_sleeps) < 5.0


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


# --- Release updates (the template names its release) ---------------------------------------------


def test_activation_update_with_a_stable_activation_id_keeps_the_physical_id(
    act, aws, cfn, vendor, vendor_key
):
    """The real API gives one activation id per (customer, stack). A new release keeps it as the
    physical id: a changed id would make CloudFormation send a cleanup Delete naming the old id,
    which here is the activation just renewed (AWS docs: "Update request for CloudFormation custom
    resources": a different PhysicalResourceId is a replacement and the old one gets a Delete)."""
    vendor.next_ids = itertools.repeat("act-stable")
    public_key = fx.public_key_b64(vendor_key)
    created, _ = _invoke(act, cfn, "Create", vendor.api_url, public_key)
    cfn.responses.clear()

    updated, _ = _invoke(
        act,
        cfn,
        "Update",
        vendor.api_url,
        public_key,
        physical_id="act-stable",
        version="1.1.0",
        old_version="1.0.0",
    )

    assert (created["PhysicalResourceId"], updated["PhysicalResourceId"]) == ("act-stable", "act-stable")
    assert (updated["Data"]["Version"], updated["Data"]["ApiKey"]) == ("1.1.0", "textlens/1.1.0/api.zip")


def test_activation_downgrade_happens_when_the_template_names_it(act, aws, cfn, vendor, vendor_key):
    """A rollback to an older template (or CloudFormation's own rollback of a failed Update,
    which sends the old properties) names the older release, and gets exactly that one."""
    updated, _ = _invoke(
        act,
        cfn,
        "Update",
        vendor.api_url,
        fx.public_key_b64(vendor_key),
        physical_id="act-0042",
        version="1.0.0",
        old_version="1.1.0",
    )

    assert updated["Status"] == "SUCCESS", updated
    assert updated["Data"]["Version"] == "1.0.0"
    assert json.loads(vendor.requests[-1]["body"])["version"] == "1.0.0"


@pytest.mark.parametrize("version", [None, "", "1.0", "latest", "01.0.0"])
def test_activation_without_a_valid_release_version_fails_before_calling(
    act, aws, cfn, vendor, vendor_key, version
):
    response, _ = _invoke(act, cfn, "Create", vendor.api_url, fx.public_key_b64(vendor_key), version=version)

    assert response["Status"] == "FAILED"
    assert "ReleaseVersion property is missing or not X.Y.Z" in response["Reason"]
    assert vendor.requests == []


def test_activation_a_version_never_released_fails_with_the_vendors_404(act, aws, cfn, vendor, vendor_key):
    vendor.activation_error = (
        404,
        {"error": {"code": "NotFound", "message": "Release 9.9.9 was never published."}},
    )

    response, _ = _invoke(act, cfn, "Create", vendor.api_url, fx.public_key_b64(vendor_key), version="9.9.9")

    assert response["Status"] == "FAILED"
    assert "HTTP 404 NotFound: Release 9.9.9 was never published." in response["Reason"]


# --- Manifest replay: each replayed answer fails the stack with a clear reason ----------------------


def _replay_refused(act, cfn, vendor, vendor_key, capsys, aws, expected_reason, **invoke):
    s3, bucket = aws
    before = _objects(s3, bucket)
    response, _ = _invoke(
        act,
        cfn,
        invoke.pop("request_type", "Create"),
        vendor.api_url,
        fx.public_key_b64(vendor_key),
        **invoke,
    )
    assert response["Status"] == "FAILED"
    assert expected_reason in response["Reason"], response["Reason"]
    assert _objects(s3, bucket) == before  # nothing staged from a refused answer
    _assert_no_leak(capsys.readouterr().out + json.dumps(response))
    return response


def test_replay_of_another_stacks_manifest_is_refused(act, aws, cfn, vendor, vendor_key, capsys):
    vendor.manifest_stack = (
        "arn:aws:cloudformation:us-east-1:444455556666:stack/another-stack/"
        "aaaaaaaa-1111-2222-3333-bbbbbbbbbbbb"
    )
    _replay_refused(act, cfn, vendor, vendor_key, capsys, aws, "the signed manifest is for another stack")


def test_replay_of_an_earlier_answer_is_refused(act, aws, cfn, vendor, vendor_key, capsys):
    """A genuine, recent, correctly signed answer for this very stack, version and account, given
    again to a later request: its nonce is the earlier request's, so it is refused."""
    public_key = fx.public_key_b64(vendor_key)
    created, _ = _invoke(act, cfn, "Create", vendor.api_url, public_key)
    assert created["Status"] == "SUCCESS"
    cfn.responses.clear()
    vendor.replay = vendor.answers[0]

    response = _replay_refused(
        act,
        cfn,
        vendor,
        vendor_key,
        capsys,
        aws,
        "answers another request (its nonce is not this request's)",
        request_type="Update",
        physical_id="act-0001",
    )
    assert response["PhysicalResourceId"] == "act-0001"


@pytest.mark.parametrize(
    ("offset_s", "reason"),
    [(-600, "s ago"), (-302, "more than 300 s: stale"), (+300, "in the future")],
)
def test_replay_of_a_stale_or_future_manifest_is_refused(
    act, aws, cfn, vendor, vendor_key, capsys, offset_s, reason
):
    vendor.issued_offset_s = offset_s
    _replay_refused(act, cfn, vendor, vendor_key, capsys, aws, reason)


@pytest.mark.parametrize("offset_s", [-240, +30])
def test_a_recent_manifest_within_the_skew_is_accepted(act, aws, cfn, vendor, vendor_key, offset_s):
    vendor.issued_offset_s = offset_s
    response, _ = _invoke(act, cfn, "Create", vendor.api_url, fx.public_key_b64(vendor_key))
    assert response["Status"] == "SUCCESS", response


def test_replay_of_an_older_release_is_refused(act, aws, cfn, vendor, vendor_key, capsys):
    """The template names 1.1.0; a correctly signed answer for 1.0.0 (an old release, e.g. one a
    compromised or buggy server hands out) is not installed."""
    vendor.serve_version = "1.0.0"
    _replay_refused(
        act,
        cfn,
        vendor,
        vendor_key,
        capsys,
        aws,
        "the signed manifest is for release 1.0.0, but this template names 1.1.0",
        request_type="Update",
        physical_id="act-0001",
        version="1.1.0",
        old_version="1.0.0",
    )


# --- The function trusts its environment, not its event -------------------------------------------


def test_a_forged_event_naming_another_url_and_key_has_no_effect(
    act, aws, cfn, vendor, make_vendor, vendor_key
):
    """Someone allowed to invoke the function sends an event with their own VendorApiUrl and
    VendorPublicKey: the function still talks to, and trusts, only what its environment names."""
    attacker_key = fx.new_vendor_key()
    attacker = fx.FakeVendor(act, attacker_key, {"api": b"evil"})
    try:
        response, _ = _invoke(
            act,
            cfn,
            "Create",
            vendor.api_url,
            fx.public_key_b64(vendor_key),
            VendorApiUrl=attacker.api_url,
            VendorPublicKey=fx.public_key_b64(attacker_key),
        )
    finally:
        attacker.close()

    assert response["Status"] == "SUCCESS", response
    assert attacker.requests == []
    assert len(vendor.requests) == 1
    assert response["Data"]["ApiSha256"] == fx._sha256(vendor.artifacts["api"])


def test_without_the_sandbox_flag_plain_http_to_loopback_is_refused(
    act, aws, cfn, vendor, vendor_key, monkeypatch
):
    """Outside the sandbox only https: nothing can aim the function at a local listener such as
    the Lambda runtime API (AWS_LAMBDA_RUNTIME_API, http on 127.0.0.1:9001)."""
    monkeypatch.delenv(fx.SANDBOX_FLAG)
    _record_responses_directly(act, cfn, monkeypatch)
    for url in (vendor.api_url, "http://127.0.0.1:9001/2018-06-01/runtime/invocation/next"):
        response, _ = _invoke(act, cfn, "Create", url, fx.public_key_b64(vendor_key))
        assert response["Status"] == "FAILED"
        assert "VendorApiUrl must be an https URL" in response["Reason"]
        cfn.responses.clear()
    assert vendor.requests == []


def _record_responses_directly(act, cfn, monkeypatch):
    """Without the flag the function would not PUT to the recorder's http ResponseURL either (it
    is https on AWS): hand the response body to the recorder without the network."""
    monkeypatch.setattr(act, "_cr_put_response", lambda url, body: cfn.responses.append({"raw": body}))


@pytest.mark.parametrize("flag", ["0", "true", "yes", ""])
def test_only_the_exact_sandbox_flag_allows_http(act, aws, cfn, vendor, vendor_key, monkeypatch, flag):
    monkeypatch.setenv(fx.SANDBOX_FLAG, flag)
    _record_responses_directly(act, cfn, monkeypatch)
    response, _ = _invoke(act, cfn, "Create", vendor.api_url, fx.public_key_b64(vendor_key))
    assert response["Status"] == "FAILED" and "must be an https URL" in response["Reason"]


def test_activation_without_its_vendor_environment_fails_clearly(
    act, aws, cfn, vendor, vendor_key, monkeypatch
):
    response, _ = _invoke(act, cfn, "Create", "", fx.public_key_b64(vendor_key))
    assert (response["Status"], response["Reason"]) == ("FAILED", "VendorApiUrl is not a URL")
    cfn.responses.clear()
    response, _ = _invoke(act, cfn, "Create", vendor.api_url, "")
    assert response["Status"] == "FAILED" and "VendorPublicKey is not a base64 DER" in response["Reason"]
