# Activation custom resource of the vendstack customer stack.
#
# This code runs in YOUR account with YOUR access key, so it is inlined into the template for you
# to read. The function's index.py is runtime/shared/signing.py (which defines sign_request, the
# request signature of the vendor's license API) followed by this file.
#
# The vendor's URL and public key come from the function's environment (VENDOR_API_URL,
# VENDOR_PUBLIC_KEY: the template's parameters), never from the invoking event. URLs must be https;
# http to loopback only with VS_ACTIVATION_SANDBOX=1 (local sandbox and tests; never in a template).
#
# Create/Update: asks the vendor API (a signed POST) for the release the template names (property
# ReleaseVersion; AWS docs "Update request for CloudFormation custom resources": an Update comes
# only when properties change, so a newer template delivers its release). The manifest must be
# signed by VENDOR_PUBLIC_KEY and answer this request: account, stack, this request's nonce, the
# version asked for, issued within minutes. Every artifact is streamed from its presigned URL into
# the stack's staging bucket while hashed; SUCCESS only when each has the size and sha256 the signed
# manifest states. Nothing that fails verification is left in the bucket.
# Delete: tells the vendor the activation ended (best effort) and always answers SUCCESS. Staged
# artifacts are kept: after an Update with the same version a cleanup Delete must not remove the
# objects the functions were just deployed from, and the bucket goes away with the stack.
#
# It always answers CloudFormation, at the latest about 10 s before the Lambda timeout. The secret
# key, the Authorization header and the query string of any presigned URL are never logged or
# put in a Reason.
import base64
import calendar
import hashlib
import hmac
import http.client
import json
import os
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import boto3
from botocore.config import Config as _CrBotoConfig

_CR_RESERVE_S = 12.0  # the work stops this long before the Lambda timeout...
_CR_HARD_RESERVE_S = 10.0  # ...and the watchdog answers FAILED at the latest this long before it
_CR_VENDOR_TIMEOUT_S = 10.0  # per socket operation (connect, each read) with the vendor API
_CR_DELETE_TIMEOUT_S = 5.0  # Delete is best effort: short
_CR_DOWNLOAD_TIMEOUT_S = 30.0  # per socket operation of an artifact download
_CR_RESPONSE_TIMEOUT_S = 4.0  # per attempt of the PUT to CloudFormation's ResponseURL
_CR_ATTEMPTS = 3  # on connection errors, 429 and 5xx
_CR_BACKOFF_S = (0.5, 1.0, 2.0)
_CR_PART_SIZE = 8 * 1024 * 1024  # S3 multipart part; an artifact below this is one PutObject
_CR_READ_CHUNK = 1024 * 1024
_CR_MAX_JSON_BYTES = 1024 * 1024  # largest vendor answer read
_CR_MAX_RESPONSE_BYTES = 4096  # CloudFormation's limit for the whole response body
_CR_RETRYABLE = frozenset({429, 500, 502, 503, 504})
_CR_SIGNATURE_ALGORITHM = "RSASSA_PKCS1_V1_5_SHA_256"
# DER of AlgorithmIdentifier rsaEncryption's OID 1.2.840.113549.1.1.1, and of SHA-256's DigestInfo
# prefix (RFC 8017 §9.2 note 1).
_CR_RSA_OID = bytes.fromhex("2a864886f70d010101")
_CR_SHA256_DIGEST_INFO = bytes.fromhex("3031300d060960864801650304020105000420")
_CR_ACTIVATION_ID = re.compile(r"act-[A-Za-z0-9_-]{1,128}")
_CR_SAFE_SEGMENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,127}")
_CR_ARTIFACT_NAME = re.compile(r"[a-z][a-z0-9_-]{0,62}")
_CR_SHA256_HEX = re.compile(r"[0-9a-f]{64}")
_CR_URL_QUERY = re.compile(r"(https?://[^\s?#\"']*)\?[^\s\"']*")
_CR_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
_CR_SANDBOX_FLAG = "VS_ACTIVATION_SANDBOX"  # set only by the local sandbox and the tests
_CR_VERSION = re.compile(r"(0|[1-9][0-9]{0,5})\.(0|[1-9][0-9]{0,5})\.(0|[1-9][0-9]{0,5})")
_CR_ISSUED_AT = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})Z")
_CR_MANIFEST_MAX_AGE_S = 300
_CR_MANIFEST_MAX_SKEW_S = 60


class _CrFailure(Exception):
    """A reason for CloudFormation. It is shown to the customer, so it never holds a secret."""


class _CrNoRedirect(urllib.request.HTTPRedirectHandler):
    """A signed request is never replayed to another place: a redirect is an error."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


_CR_OPENER = urllib.request.build_opener(_CrNoRedirect())


def _cr_log(message, **fields):
    print(_cr_scrub(json.dumps({"message": message, **fields}, default=str)))


def _cr_scrub(text, secrets=()):
    """Drops the query string of any URL (presigned URLs carry their signature there)."""
    text = _CR_URL_QUERY.sub(r"\1?…", str(text))
    for secret in secrets:
        if secret:
            text = text.replace(secret, "…")
    return text


def _cr_endpoint(url):
    parts = urllib.parse.urlsplit(url)
    return f"{parts.hostname}:{parts.port}" if parts.port else str(parts.hostname)


def _cr_checked_url(url, what):
    """https only; http to loopback only in the sandbox (never to e.g. the Lambda runtime API)."""
    try:
        parts = urllib.parse.urlsplit(url) if isinstance(url, str) else None
        hostname = parts.hostname if parts else None
    except ValueError:
        parts, hostname = None, None
    if parts is None or not hostname:
        raise _CrFailure(f"{what} is not a URL")
    if parts.scheme == "https":
        return url
    if parts.scheme == "http" and hostname in _CR_LOOPBACK and os.environ.get(_CR_SANDBOX_FLAG) == "1":
        return url
    raise _CrFailure(f"{what} must be an https URL (got {parts.scheme}://{_cr_endpoint(url)})")


def _cr_vendor_api_url():
    return _cr_checked_url(os.environ.get("VENDOR_API_URL"), "VendorApiUrl").rstrip("/")


def _cr_check_time(deadline, cancel, doing):
    if cancel.is_set() or time.monotonic() >= deadline:
        raise _CrFailure(
            f"timed out while {doing}: stopped to answer CloudFormation before the Lambda timeout; "
            "retry, or raise the activation function's Timeout"
        )


def _cr_socket_timeout(limit, deadline, cancel, doing):
    _cr_check_time(deadline, cancel, doing)
    return max(0.1, min(limit, deadline - time.monotonic()))


def _cr_backoff(attempt, deadline, cancel, retry_after=None):
    delay = _CR_BACKOFF_S[min(attempt, len(_CR_BACKOFF_S) - 1)]
    if retry_after is not None:
        delay = max(delay, min(retry_after, 5.0))
    cancel.wait(max(0.0, min(delay, deadline - time.monotonic())))


def _cr_retry_after(headers):
    try:
        return float(headers.get("Retry-After"))
    except (TypeError, ValueError):
        return None


def _cr_network_reason(exc):
    reason = getattr(exc, "reason", None) or exc
    if isinstance(reason, TimeoutError):
        return "timed out"
    return _cr_scrub(f"{type(reason).__name__}: {reason}")[:200]


def _cr_read_json(resp):
    raw = resp.read(_CR_MAX_JSON_BYTES + 1)
    if len(raw) > _CR_MAX_JSON_BYTES:
        return None
    try:
        return json.loads(raw.decode("utf-8")) if raw else None
    except ValueError:
        return None


# --- the vendor's license API -------------------------------------------------------------------


def _cr_call_vendor(method, base_url, path, body, creds, deadline, cancel, *, timeout, attempts):
    """One signed request, retried on connection errors, 429 and 5xx (a fresh nonce each time);
    returns (status, json, the nonce of the answered attempt)."""
    endpoint = _cr_endpoint(base_url)
    last = "no attempt made"
    for attempt in range(attempts):
        doing = f"calling the vendor API at {endpoint}"
        socket_timeout = _cr_socket_timeout(timeout, deadline, cancel, doing)
        # sign_request is defined by signing.py, which precedes this file in index.py.
        signed = sign_request(creds["access_key"], creds["secret_key"], method, path, (), body)  # noqa: F821
        headers = dict(signed)
        nonce = headers.get("X-Vs-Nonce")
        if body:
            headers["Content-Type"] = "application/json"
        # S310: the scheme was checked by _cr_checked_url.
        request = urllib.request.Request(  # noqa: S310
            base_url + path, data=body or None, method=method, headers=headers
        )
        retry_after = None
        try:
            with _CR_OPENER.open(request, timeout=socket_timeout) as resp:
                return resp.status, _cr_read_json(resp), nonce
        except urllib.error.HTTPError as exc:
            with exc:
                payload = _cr_read_json(exc)
            if exc.code not in _CR_RETRYABLE or attempt + 1 == attempts:
                return exc.code, payload, nonce
            last = f"HTTP {exc.code}"
            retry_after = _cr_retry_after(exc.headers)
        except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
            last = _cr_network_reason(exc)
        if attempt + 1 < attempts:
            _cr_backoff(attempt, deadline, cancel, retry_after)
    _cr_check_time(deadline, cancel, f"calling the vendor API at {endpoint}")
    raise _CrFailure(f"the vendor API at {endpoint} is unreachable ({attempts} attempts, last: {last})")


def _cr_vendor_error(status, payload, endpoint):
    error = payload.get("error") if isinstance(payload, dict) else None
    if isinstance(error, dict) and isinstance(error.get("code"), str):
        message = str(error.get("message", ""))[:600]
        return _CrFailure(f"the vendor API refused the activation: HTTP {status} {error['code']}: {message}")
    return _CrFailure(f"the vendor API at {endpoint} answered HTTP {status}")


def _cr_read_credentials(secret_arn, state):
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


def _cr_boto_config():
    return _CrBotoConfig(connect_timeout=5, read_timeout=60, retries={"max_attempts": 3, "mode": "standard"})


# --- manifest signature (RSASSA-PKCS1-v1_5 with SHA-256, pure Python) ---------------------------


def _cr_der(data, pos, tag):
    """Reads one DER element with the given tag at pos; returns (content, end)."""
    if pos + 2 > len(data) or data[pos] != tag:
        raise ValueError("unexpected DER element")
    length, pos = data[pos + 1], pos + 2
    if length & 0x80:
        count = length & 0x7F
        if not 1 <= count <= 4 or pos + count > len(data):
            raise ValueError("bad DER length")
        length, pos = int.from_bytes(data[pos : pos + count], "big"), pos + count
    if pos + length > len(data):
        raise ValueError("truncated DER")
    return data[pos : pos + length], pos + length


def _cr_rsa_public_key(spki_b64):
    """(n, e) from base64 of a DER SubjectPublicKeyInfo of an RSA key (what KMS GetPublicKey returns)."""
    try:
        der = base64.b64decode(spki_b64 or "", validate=True)
        spki, end = _cr_der(der, 0, 0x30)
        if end != len(der):
            raise ValueError("trailing bytes")
        algorithm, pos = _cr_der(spki, 0, 0x30)
        oid, _ = _cr_der(algorithm, 0, 0x06)
        if oid != _CR_RSA_OID:
            raise ValueError("not an RSA key")
        bits, end = _cr_der(spki, pos, 0x03)
        if end != len(spki) or not bits or bits[0] != 0:
            raise ValueError("bad BIT STRING")
        rsa_key, _ = _cr_der(bits[1:], 0, 0x30)
        n_bytes, pos = _cr_der(rsa_key, 0, 0x02)
        e_bytes, end = _cr_der(rsa_key, pos, 0x02)
        if end != len(rsa_key):
            raise ValueError("trailing bytes in RSAPublicKey")
    except ValueError as exc:
        raise _CrFailure(f"VendorPublicKey is not a base64 DER RSA SubjectPublicKeyInfo ({exc})") from None
    n, e = int.from_bytes(n_bytes, "big"), int.from_bytes(e_bytes, "big")
    if n.bit_length() < 2048 or e < 3 or e % 2 == 0:
        raise _CrFailure("VendorPublicKey is not an RSA key of at least 2048 bits")
    return n, e


def _cr_rsa_verify(public_key, message, signature):
    n, e = public_key
    k = (n.bit_length() + 7) // 8
    if len(signature) != k:
        return False
    s = int.from_bytes(signature, "big")
    if s >= n:
        return False
    digest_info = _CR_SHA256_DIGEST_INFO + hashlib.sha256(message).digest()
    expected = b"\x00\x01" + b"\xff" * (k - len(digest_info) - 3) + b"\x00" + digest_info
    return hmac.compare_digest(pow(s, e, n).to_bytes(k, "big"), expected)


def _cr_canonical_manifest(manifest):
    return json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode("utf-8")


def _cr_issued_at(value):
    match = _CR_ISSUED_AT.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        return None
    year, month, day, hour, minute, second = (int(part) for part in match.groups())
    if not (1 <= month <= 12 and 1 <= day <= 31 and hour < 24 and minute < 60 and second < 61):
        return None
    return calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0))


def _cr_check_binding(manifest, expected):
    """Refuses a replayed answer: another stack's, an earlier request's, an old one, another release."""
    if manifest.get("stack_id") != expected["stack_id"]:
        raise _CrFailure("the signed manifest is for another stack: refused as a replay")
    if not expected["nonce"] or manifest.get("request_nonce") != expected["nonce"]:
        raise _CrFailure("the signed manifest answers another request (its nonce is not this request's)")
    issued = _cr_issued_at(manifest.get("issued_at"))
    if issued is None:
        raise _CrFailure("the signed manifest has no valid issued_at")
    age = expected["now"] - issued
    if age > _CR_MANIFEST_MAX_AGE_S:
        raise _CrFailure(
            f"the signed manifest was issued {int(age)} s ago, more than {_CR_MANIFEST_MAX_AGE_S} s: stale"
        )
    if -age > _CR_MANIFEST_MAX_SKEW_S:
        raise _CrFailure(f"the signed manifest is dated {int(-age)} s in the future: check the clocks")
    if manifest.get("version") != expected["version"]:
        raise _CrFailure(
            f"the signed manifest is for release {str(manifest.get('version'))[:40]}, but this template "
            f"names {expected['version']}"
        )


def _cr_checked_activation(payload, public_key, expected):
    """Verifies the signature before any field of the manifest is trusted; returns (id, manifest)."""
    if not isinstance(payload, dict) or not isinstance(payload.get("manifest"), dict):
        raise _CrFailure("the vendor API's activation answer has no manifest")
    if payload.get("signature_algorithm") != _CR_SIGNATURE_ALGORITHM:
        raise _CrFailure(f"the manifest is not signed with {_CR_SIGNATURE_ALGORITHM}")
    manifest = payload["manifest"]
    try:
        signature = base64.b64decode(payload.get("manifest_signature") or "", validate=True)
    except ValueError:
        signature = b""
    if not _cr_rsa_verify(public_key, _cr_canonical_manifest(manifest), signature):
        raise _CrFailure("manifest signature does not verify with VendorPublicKey")
    activation_id = payload.get("activation_id")
    if not isinstance(activation_id, str) or not _CR_ACTIVATION_ID.fullmatch(activation_id):
        raise _CrFailure("the vendor API returned an invalid activation_id")
    if manifest.get("activation_id") != activation_id:
        raise _CrFailure("the signed manifest is for another activation")
    if manifest.get("account_id") != expected["account_id"]:
        raise _CrFailure(f"the signed manifest is for another AWS account, not {expected['account_id']}")
    _cr_check_binding(manifest, expected)
    for field in ("product", "version"):
        if not isinstance(manifest.get(field), str) or not _CR_SAFE_SEGMENT.fullmatch(manifest[field]):
            raise _CrFailure(f"the signed manifest has an invalid {field}")
    artifacts = manifest.get("artifacts")
    if not isinstance(artifacts, list) or not artifacts:
        raise _CrFailure("the signed manifest lists no artifacts")
    attributes = set()
    for artifact in artifacts:
        if not (
            isinstance(artifact, dict)
            and isinstance(artifact.get("name"), str)
            and _CR_ARTIFACT_NAME.fullmatch(artifact["name"])
            and isinstance(artifact.get("sha256"), str)
            and _CR_SHA256_HEX.fullmatch(artifact["sha256"])
            and type(artifact.get("size")) is int
            and artifact["size"] >= 0
        ):
            raise _CrFailure("the signed manifest has an invalid artifact entry")
        attribute = _cr_attribute(artifact["name"])
        if attribute in attributes:
            raise _CrFailure(f"the signed manifest lists artifact '{artifact['name']}' twice")
        attributes.add(attribute)
    return activation_id, manifest


def _cr_attribute(name):
    """Artifact name → attribute prefix: api → Api, usage-reporter → UsageReporter."""
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[-_]", name) if part)


def _cr_download_url(payload, name):
    entry = (payload.get("downloads") or {}).get(name)
    url = entry.get("url") if isinstance(entry, dict) else None
    if not isinstance(url, str):
        raise _CrFailure(f"the vendor API gave no download URL for artifact '{name}'")
    return _cr_checked_url(url, f"the download URL of artifact '{name}'")


# --- staging -------------------------------------------------------------------------------------


def _cr_open_download(url, name, deadline, cancel):
    endpoint = _cr_endpoint(url)
    doing = f"downloading artifact '{name}' from {endpoint}"
    last = "no attempt made"
    for attempt in range(_CR_ATTEMPTS):
        socket_timeout = _cr_socket_timeout(_CR_DOWNLOAD_TIMEOUT_S, deadline, cancel, doing)
        retry_after = None
        try:
            # S310: the scheme was checked by _cr_checked_url.
            request = urllib.request.Request(url, method="GET")  # noqa: S310
            return _CR_OPENER.open(request, timeout=socket_timeout)
        except urllib.error.HTTPError as exc:
            exc.close()
            if exc.code == 403:
                raise _CrFailure(
                    f"the download of artifact '{name}' from {endpoint} was refused (HTTP 403): "
                    "its presigned URL has expired or is not valid; retry to get fresh URLs"
                ) from None
            if exc.code not in _CR_RETRYABLE:
                raise _CrFailure(
                    f"the download of artifact '{name}' from {endpoint} failed: HTTP {exc.code}"
                ) from None
            last = f"HTTP {exc.code}"
            retry_after = _cr_retry_after(exc.headers)
        except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
            last = _cr_network_reason(exc)
        if attempt + 1 < _CR_ATTEMPTS:
            _cr_backoff(attempt, deadline, cancel, retry_after)
    _cr_check_time(deadline, cancel, doing)
    raise _CrFailure(
        f"the download of artifact '{name}' from {endpoint} failed ({_CR_ATTEMPTS} attempts, last: {last})"
    )


def _cr_fill(resp, view, deadline, cancel, doing):
    """Reads into view until it is full or the stream ends; returns the byte count."""
    filled = 0
    while filled < len(view):
        _cr_check_time(deadline, cancel, doing)
        count = resp.readinto(view[filled : filled + _CR_READ_CHUNK])
        if not count:
            break
        filled += count
    return filled


def _cr_mismatch(artifact, size, digest):
    """A failure naming the artifact when size or sha256 differ from the manifest, else None."""
    name = artifact["name"]
    if size > artifact["size"]:
        return _CrFailure(
            f"artifact '{name}' does not match the signed manifest: "
            f"more than {artifact['size']} bytes received"
        )
    if size != artifact["size"]:
        return _CrFailure(
            f"artifact '{name}' does not match the signed manifest: {size} bytes received, "
            f"{artifact['size']} expected"
        )
    if digest != artifact["sha256"]:
        return _CrFailure(
            f"artifact '{name}' does not match the signed manifest: "
            f"sha256 {digest}, expected {artifact['sha256']}"
        )
    return None


def _cr_stage(s3, bucket, key, artifact, url, metadata, deadline, cancel):
    """Streams the download into s3://bucket/key in parts, never holding more than one part.

    The object only comes into being once size and sha256 match the manifest: a small artifact is
    checked before its single PutObject, a large one before CompleteMultipartUpload (else aborted).
    """
    name, endpoint = artifact["name"], _cr_endpoint(url)
    doing = f"downloading artifact '{name}' from {endpoint}"
    buffer = bytearray(_CR_PART_SIZE)
    view = memoryview(buffer)
    digest, total, upload_id, parts = hashlib.sha256(), 0, None, []
    try:
        with _cr_open_download(url, name, deadline, cancel) as resp:
            while True:
                try:
                    filled = _cr_fill(resp, view, deadline, cancel, doing)
                except (OSError, http.client.HTTPException) as exc:
                    raise _CrFailure(
                        f"the download of artifact '{name}' from {endpoint} broke off after {total} bytes "
                        f"({_cr_network_reason(exc)})"
                    ) from None
                total += filled
                digest.update(view[:filled])
                if total > artifact["size"]:
                    raise _cr_mismatch(artifact, total, None)
                last = filled < len(buffer)
                if last:
                    failure = _cr_mismatch(artifact, total, digest.hexdigest())
                    if failure:
                        raise failure
                    view.release()  # no copy of the final bytes: the buffer itself shrinks to them
                    del buffer[filled:]
                _cr_check_time(deadline, cancel, f"staging artifact '{name}'")
                if last and upload_id is None:
                    s3.put_object(
                        Bucket=bucket, Key=key, Body=buffer, Metadata=metadata, ContentType="application/zip"
                    )
                    return
                if upload_id is None:
                    upload_id = s3.create_multipart_upload(
                        Bucket=bucket, Key=key, Metadata=metadata, ContentType="application/zip"
                    )["UploadId"]
                if filled:
                    part = s3.upload_part(
                        Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=len(parts) + 1, Body=buffer
                    )
                    parts.append({"PartNumber": len(parts) + 1, "ETag": part["ETag"]})
                if last:
                    break
        _cr_check_time(deadline, cancel, f"staging artifact '{name}'")
        s3.complete_multipart_upload(
            Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}
        )
        upload_id = None
    finally:
        if upload_id is not None:
            try:
                s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
            except Exception as exc:
                _cr_log("could not abort the multipart upload", key=key, error=type(exc).__name__)


def _cr_keeps_physical_id(s3, bucket, keys, artifacts, physical_id):
    """True when the staged objects already hold these exact artifacts for this physical id."""
    for artifact in artifacts:
        try:
            head = s3.head_object(Bucket=bucket, Key=keys[artifact["name"]])
        except Exception:
            return False
        metadata = head.get("Metadata") or {}
        if (
            metadata.get("sha256") != artifact["sha256"]
            or metadata.get("physical-id") != physical_id
            or head.get("ContentLength") != artifact["size"]
        ):
            return False
    return True


# --- the request types ---------------------------------------------------------------------------


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


def _cr_activate(event, state, deadline, cancel):
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
    status, payload, nonce = _cr_call_vendor(
        "POST",
        base_url,
        "/v1/activations",
        body,
        creds,
        deadline,
        cancel,
        timeout=_CR_VENDOR_TIMEOUT_S,
        attempts=_CR_ATTEMPTS,
    )
    if status != 200:
        raise _cr_vendor_error(status, payload, _cr_endpoint(base_url))
    expected = {
        "account_id": account_id,
        "stack_id": event["StackId"],
        "nonce": nonce,
        "version": version,
        "now": time.time(),
    }
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
        _cr_stage(s3, bucket, keys[name], artifact, urls[name], metadata, deadline, cancel)
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


def _cr_deactivate(event, state, deadline, cancel):
    physical_id = event.get("PhysicalResourceId") or ""
    if not _CR_ACTIVATION_ID.fullmatch(physical_id):
        _cr_log("nothing to deactivate", physical_id=physical_id)
        return
    base_url = _cr_vendor_api_url()
    creds = _cr_read_credentials(os.environ.get("SECRET_ARN") or "", state)
    status, _, _ = _cr_call_vendor(
        "DELETE",
        base_url,
        f"/v1/activations/{physical_id}",
        b"",
        creds,
        deadline,
        cancel,
        timeout=_CR_DELETE_TIMEOUT_S,
        attempts=2,
    )
    _cr_log("deactivation answered", physical_id=physical_id, status=status)


# --- answering CloudFormation --------------------------------------------------------------------


def _cr_response_body(event, status, physical_id, reason, data):
    response = {
        "Status": status,
        "Reason": reason,
        "PhysicalResourceId": physical_id or event.get("LogicalResourceId") or "activation",
        "StackId": event.get("StackId"),
        "RequestId": event.get("RequestId"),
        "LogicalResourceId": event.get("LogicalResourceId"),
        "NoEcho": False,
    }
    if data:
        response["Data"] = data
    body = json.dumps(response).encode("utf-8")
    if len(body) > _CR_MAX_RESPONSE_BYTES and reason:
        excess = len(body) - _CR_MAX_RESPONSE_BYTES
        cut = reason.encode("utf-8")[: max(0, len(reason.encode("utf-8")) - excess - 16)]
        response["Reason"] = cut.decode("utf-8", "ignore") + " …"
        body = json.dumps(response).encode("utf-8")
    if len(body) > _CR_MAX_RESPONSE_BYTES:
        response.update(Status="FAILED", Reason="the response Data exceeds 4096 bytes")
        response.pop("Data", None)
        body = json.dumps(response).encode("utf-8")
    return body


class _CrResponder:
    """Answers CloudFormation exactly once, whoever (worker or watchdog) comes first."""

    def __init__(self, event, state):
        self.event = event
        self.state = state
        self._lock = threading.Lock()
        self.sent = False

    def send(self, status, physical_id, reason="", data=None):
        with self._lock:
            if self.sent:
                return False
            self.sent = True
            reason = _cr_scrub(reason, self.state.secrets)
            body = _cr_response_body(self.event, status, physical_id, reason, data)
            _cr_log("answering CloudFormation", status=status, physical_id=physical_id, reason=reason)
            _cr_put_response(self.event["ResponseURL"], body)
            return True


def _cr_put_response(url, body):
    try:
        url = _cr_checked_url(url, "ResponseURL")
    except _CrFailure as exc:
        _cr_log("cannot answer CloudFormation", error=str(exc))
        return
    for attempt in range(2):
        # S310: ResponseURL is CloudFormation's presigned https URL, scheme checked just above.
        request = urllib.request.Request(  # noqa: S310
            url, data=body, method="PUT", headers={"Content-Type": "", "Content-Length": str(len(body))}
        )
        try:
            with _CR_OPENER.open(request, timeout=_CR_RESPONSE_TIMEOUT_S) as resp:
                resp.read()
                return
        except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
            _cr_log("could not PUT the response", attempt=attempt + 1, error=_cr_network_reason(exc))
            if attempt == 0:
                time.sleep(0.5)


def _cr_work(event, state, responder, deadline, cancel):
    request_type = event.get("RequestType")
    try:
        if request_type == "Delete":
            _cr_deactivate(event, state, deadline, cancel)
            responder.send("SUCCESS", event.get("PhysicalResourceId"))
        elif request_type in ("Create", "Update"):
            physical_id, data = _cr_activate(event, state, deadline, cancel)
            responder.send("SUCCESS", physical_id, data=data)
        else:
            responder.send("FAILED", state.failure_physical_id(), f"unknown RequestType {request_type!r}")
    except Exception as exc:
        if isinstance(exc, _CrFailure):
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
    deadline = start + remaining - _CR_RESERVE_S
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
    cancel = threading.Event()
    worker = threading.Thread(
        target=_cr_work, args=(event, state, responder, deadline, cancel), name="activation", daemon=True
    )
    worker.start()
    worker.join(max(0.0, hard_deadline - time.monotonic()))
    if worker.is_alive():
        cancel.set()
        reason = (
            "timed out: stopped to answer CloudFormation before the Lambda timeout; "
            "retry, or raise the activation function's Timeout"
        )
        if event.get("RequestType") == "Delete":
            responder.send("SUCCESS", event.get("PhysicalResourceId"), f"deactivation skipped: {reason}")
        else:
            responder.send("FAILED", state.failure_physical_id(), reason)
        worker.join(1.0)  # lets it abort a multipart upload it had started
