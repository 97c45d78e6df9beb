"""The activation custom resource's Lambda handler (`index.handler`): one request of CloudFormation.

This code runs in the customer's account with the customer's access key, so it is inlined into
the template for them to read (assembled by `assemble.py` with the modules it uses). The vendor's
URL and public key come from the function's environment (VENDOR_API_URL, VENDOR_PUBLIC_KEY: the
template's parameters), never from the invoking event.

Create/Update: asks the vendor API (a signed POST) for the release the template names (property
ReleaseVersion; AWS docs "Update request for CloudFormation custom resources": an Update comes
only when properties change, so a newer template delivers its release), verifies the answer
(`manifest.py`) and stages every artifact (`staging.py`); SUCCESS only when each has the size and
sha256 the signed manifest states.
Delete: tells the vendor the activation ended (best effort) and always answers SUCCESS. Staged
artifacts are kept: after an Update with the same version a cleanup Delete must not remove the
objects the functions were just deployed from, and the bucket goes away with the stack.

It always answers CloudFormation (`cfn_response.py`), at the latest about 10 s before the Lambda
timeout: the work runs in a thread, and a watchdog answers FAILED for it if it nears the end. The
secret key, the Authorization header and the query string of any presigned URL are never logged
or put in a Reason.
"""

import json
import os
import re
import threading
import time

import boto3
from botocore.config import Config as _CrBotoConfig

from customer_stack.activation.cfn_response import _CrResponder
from customer_stack.activation.common import _CR_TIMED_OUT, _cr_checked_url, _cr_log, _CrBudget, _CrFailure
from customer_stack.activation.manifest import (
    _CR_ACTIVATION_ID,
    _cr_attribute,
    _cr_checked_activation,
    _cr_download_url,
    _cr_rsa_public_key,
)
from customer_stack.activation.staging import _cr_keeps_physical_id, _cr_stage
from customer_stack.vendor_client import (
    RetryPolicy,
    VendorClient,
    VendorDeadline,
    VendorError,
    VendorRefused,
)

_CR_RESERVE_S = 12.0  # the work stops this long before the Lambda timeout...
_CR_HARD_RESERVE_S = 10.0  # ...and the watchdog answers FAILED at the latest this long before it
# The activation: 10 s per socket operation, 3 attempts on connection errors, 429 and 5xx.
_CR_VENDOR_POLICY = RetryPolicy(attempts=3, base_s=0.5, cap_s=2.0, timeout_s=10.0)
# Delete is best effort: short.
_CR_DELETE_POLICY = RetryPolicy(attempts=2, base_s=0.5, cap_s=1.0, timeout_s=5.0)
_CR_VERSION = re.compile(r"(0|[1-9][0-9]{0,5})\.(0|[1-9][0-9]{0,5})\.(0|[1-9][0-9]{0,5})")


def _cr_boto_config():
    return _CrBotoConfig(connect_timeout=5, read_timeout=60, retries={"max_attempts": 3, "mode": "standard"})


def _cr_read_credentials(secret_arn, state):
    """The key pair, from the stack's secret: the one place the function reads its key."""
    client = boto3.client("secretsmanager", config=_cr_boto_config())
    try:
        value = client.get_secret_value(SecretId=secret_arn)["SecretString"]
        creds = json.loads(value)
    except Exception as exc:  # the value itself never goes into the reason
        code = getattr(exc, "response", {}).get("Error", {}).get("Code") or type(exc).__name__
        raise _CrFailure(f"cannot read the access key from the secret SECRET_ARN ({code})") from None
    if not (
        isinstance(creds, dict)
        and isinstance(creds.get("access_key"), str)
        and isinstance(creds.get("secret_key"), str)
        and creds["access_key"]
        and creds["secret_key"]
    ):
        raise _CrFailure('the secret SECRET_ARN is not JSON {"access_key": ..., "secret_key": ...}')
    state.secrets.append(creds["secret_key"])
    return creds


def _cr_vendor_api_url():
    return _cr_checked_url(os.environ.get("VENDOR_API_URL"), "VendorApiUrl")


def _cr_vendor(base_url, creds, budget):
    """The signed client for the vendor's license API (base_url checked by _cr_vendor_api_url)."""
    return VendorClient(
        base_url,
        creds["access_key"],
        creds["secret_key"],
        sleep=budget.sleep,
        allow_http_loopback=True,  # base_url passed the sandbox rule in _cr_vendor_api_url
    )


class _CrState:
    """What the watchdog needs to answer for a worker that did not finish."""

    def __init__(self, event):
        self.event = event
        self.activation_id = None
        self.secrets = []  # scrubbed from every reason, should one ever carry it

    def failure_physical_id(self):
        if self.event["RequestType"] == "Create":
            # A failed Create is followed by a Delete of this id: naming the activation ends it.
            return self.activation_id or f"activation-failed-{self.event.get('RequestId', 'unknown')}"
        return self.event.get("PhysicalResourceId")


def _cr_stack_account_region(stack_id):
    parts = str(stack_id).split(":")
    if len(parts) < 6 or parts[0] != "arn" or not re.fullmatch(r"\d{12}", parts[4]) or not parts[3]:
        raise _CrFailure("the event's StackId is not a CloudFormation stack ARN")
    return parts[4], parts[3]


def _cr_release_version(properties):
    version = properties.get("ReleaseVersion") if isinstance(properties, dict) else None
    if not isinstance(version, str) or not _CR_VERSION.fullmatch(version):
        raise _CrFailure("the activation resource's ReleaseVersion property is missing or not X.Y.Z")
    return version


def _cr_activate(event, state, budget):
    version = _cr_release_version(event.get("ResourceProperties"))
    base_url = _cr_vendor_api_url()
    public_key = _cr_rsa_public_key(os.environ.get("VENDOR_PUBLIC_KEY"))
    if event["RequestType"] == "Update":
        old = (event.get("OldResourceProperties") or {}).get("ReleaseVersion")
        _cr_log("update", from_version=str(old)[:40], to_version=version)
    bucket = os.environ.get("STAGING_BUCKET")
    secret_arn = os.environ.get("SECRET_ARN")
    if not bucket or not secret_arn:
        raise _CrFailure("the activation function lacks its STAGING_BUCKET or SECRET_ARN variable")
    account_id, region = _cr_stack_account_region(event["StackId"])
    creds = _cr_read_credentials(secret_arn, state)
    request = {
        "stack_id": event["StackId"],
        "account_id": account_id,
        "region": region,
        "request_type": event["RequestType"],
        "version": version,
    }
    body = json.dumps(request, separators=(",", ":")).encode("utf-8")
    try:
        # Idempotent: the vendor keeps one activation id per customer and stack, and each attempt
        # is signed with a fresh nonce, to which the manifest it answers is bound.
        answer = _cr_vendor(base_url, creds, budget).call(
            "POST",
            "/v1/activations",
            body=body,
            idempotent=True,
            expect=(200,),
            remaining=budget.remaining,
            policy=_CR_VENDOR_POLICY,
        )
    except VendorRefused as exc:
        if not exc.code:
            raise
        raise _CrFailure(
            f"the vendor API refused the activation: HTTP {exc.status} {exc.code}: {exc.vendor_message}"
        ) from None
    expected = {
        "account_id": account_id,
        "stack_id": event["StackId"],
        "nonce": answer.nonce,
        "version": version,
        "now": time.time(),
    }
    payload = answer.json
    activation_id, manifest = _cr_checked_activation(payload, public_key, expected)
    state.activation_id = activation_id
    artifacts = manifest["artifacts"]
    prefix = f"{manifest['product']}/{manifest['version']}"
    keys = {a["name"]: f"{prefix}/{a['name']}.zip" for a in artifacts}
    urls = {a["name"]: _cr_download_url(payload, a["name"]) for a in artifacts}
    s3 = boto3.client("s3", config=_cr_boto_config())
    physical_id = activation_id
    old_id = event.get("PhysicalResourceId")
    if (
        event["RequestType"] == "Update"
        and old_id
        and old_id != activation_id
        and _cr_keeps_physical_id(s3, bucket, keys, artifacts, old_id)
    ):
        physical_id = old_id  # same version and artifacts: no replacement, no cleanup Delete
    for artifact in artifacts:
        name = artifact["name"]
        metadata = {"sha256": artifact["sha256"], "physical-id": physical_id, "activation-id": activation_id}
        _cr_stage(s3, bucket, keys[name], artifact, urls[name], metadata, budget)
        _cr_log(
            "artifact staged", artifact=name, key=keys[name], size=artifact["size"], sha256=metadata["sha256"]
        )
    data = {
        "Bucket": bucket,
        "Product": manifest["product"],
        "Version": manifest["version"],
        "ActivationId": activation_id,
    }
    for artifact in artifacts:
        data[_cr_attribute(artifact["name"]) + "Key"] = keys[artifact["name"]]
        data[_cr_attribute(artifact["name"]) + "Sha256"] = artifact["sha256"]
    return physical_id, data


def _cr_deactivate(event, state, budget):
    physical_id = event.get("PhysicalResourceId") or ""
    if not _CR_ACTIVATION_ID.fullmatch(physical_id):
        _cr_log("nothing to deactivate", physical_id=physical_id)
        return
    base_url = _cr_vendor_api_url()
    creds = _cr_read_credentials(os.environ.get("SECRET_ARN") or "", state)
    answer = _cr_vendor(base_url, creds, budget).call(
        "DELETE", f"/v1/activations/{physical_id}", remaining=budget.remaining, policy=_CR_DELETE_POLICY
    )
    _cr_log("deactivation answered", physical_id=physical_id, status=answer.status)


def _cr_work(event, state, responder, budget):
    request_type = event.get("RequestType")
    try:
        if request_type == "Delete":
            _cr_deactivate(event, state, budget)
            responder.send("SUCCESS", event.get("PhysicalResourceId"))
        elif request_type in ("Create", "Update"):
            physical_id, data = _cr_activate(event, state, budget)
            responder.send("SUCCESS", physical_id, data=data)
        else:
            responder.send("FAILED", state.failure_physical_id(), f"unknown RequestType {request_type!r}")
    except Exception as exc:
        if isinstance(exc, VendorDeadline):
            reason = f"timed out: {exc}; {_CR_TIMED_OUT}"
        elif isinstance(exc, _CrFailure | VendorError):
            reason = str(exc)
        else:
            reason = f"unexpected error in the activation function ({type(exc).__name__}); see its log"
            _cr_log("unexpected error", error=type(exc).__name__, detail=str(exc)[:500])
        if request_type == "Delete":
            responder.send("SUCCESS", event.get("PhysicalResourceId"), f"deactivation skipped: {reason}")
        else:
            responder.send("FAILED", state.failure_physical_id(), reason)


def handler(event, context):
    """Runs the work in a thread and answers FAILED itself if the work nears the Lambda timeout."""
    start = time.monotonic()
    remaining = context.get_remaining_time_in_millis() / 1000.0
    budget = _CrBudget(start + remaining - _CR_RESERVE_S)
    hard_deadline = start + remaining - _CR_HARD_RESERVE_S
    _cr_log(
        "request",
        request_type=event.get("RequestType"),
        logical_id=event.get("LogicalResourceId"),
        physical_id=event.get("PhysicalResourceId"),
        request_id=event.get("RequestId"),
    )
    state = _CrState(event)
    responder = _CrResponder(event, state)
    worker = threading.Thread(
        target=_cr_work, args=(event, state, responder, budget), name="activation", daemon=True
    )
    worker.start()
    worker.join(max(0.0, hard_deadline - time.monotonic()))
    if worker.is_alive():
        budget.cancel.set()
        reason = f"timed out: {_CR_TIMED_OUT}"
        if event.get("RequestType") == "Delete":
            responder.send("SUCCESS", event.get("PhysicalResourceId"), f"deactivation skipped: {reason}")
        else:
            responder.send("FAILED", state.failure_physical_id(), reason)
        worker.join(1.0)  # lets it abort a multipart upload it had started
