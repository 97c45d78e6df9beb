"""Verifies the vendor's activation answer before anything in it is trusted.

The manifest is signed by the vendor's KMS key (RSASSA-PKCS1-v1_5 with SHA-256 over its canonical
JSON) and verified against `VENDOR_PUBLIC_KEY` by `customer_stack/rsa_verify.py`, the customer
side's one RSA verifier, which the license-token client uses too (standard library only: the
inline code has only it and boto3). Then it must answer *this* request (docs/protocol.md §4.1 and
the README's "Signed artifact delivery"): this account, this stack, this request's nonce, the release
the template names, issued within minutes. Every refusal names what did not match and holds no
secret.
"""

import base64
import calendar
import json
import re

from customer_stack.activation.common import _cr_checked_url, _CrFailure
from customer_stack.rsa_verify import rsa_public_key, rsa_verifies

_CR_SIGNATURE_ALGORITHM = "RSASSA_PKCS1_V1_5_SHA_256"
_CR_ACTIVATION_ID = re.compile(r"act-[A-Za-z0-9_-]{1,128}")
_CR_SAFE_SEGMENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,127}")
_CR_ARTIFACT_NAME = re.compile(r"[a-z][a-z0-9_-]{0,62}")
_CR_SHA256_HEX = re.compile(r"[0-9a-f]{64}")
_CR_ISSUED_AT = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})Z")
_CR_MANIFEST_MAX_AGE_S = 300
_CR_MANIFEST_MAX_SKEW_S = 60


def _cr_rsa_public_key(spki_b64):
    """(n, e) of `VENDOR_PUBLIC_KEY` (what KMS GetPublicKey returns), or a failure naming it."""
    try:
        return rsa_public_key(spki_b64)
    except ValueError as exc:
        raise _CrFailure(f"VendorPublicKey is not a base64 DER RSA SubjectPublicKeyInfo ({exc})") from None


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
    if not rsa_verifies(public_key, _cr_canonical_manifest(manifest), signature):
        raise _CrFailure("manifest signature does not verify with VendorPublicKey")
    activation_id = payload.get("activation_id")
    if not isinstance(activation_id, str) or not _CR_ACTIVATION_ID.fullmatch(activation_id):
        raise _CrFailure("the vendor API returned an invalid activation_id")
    if manifest.get("activation_id") != activation_id:
        raise _CrFailure("the signed manifest is for another activation")
    if manifest.get("account_id") != expected["account_id"]:
        raise _CrFailure(f"the signed manifest is for another AWS account, not {expected['account_id']}")
    _cr_check_binding(manifest, expected)
    for key in ("product", "version"):
        if not isinstance(manifest.get(key), str) or not _CR_SAFE_SEGMENT.fullmatch(manifest[key]):
            raise _CrFailure(f"the signed manifest has an invalid {key}")
    _cr_check_artifacts(manifest.get("artifacts"))
    return activation_id, manifest


def _cr_check_artifacts(artifacts):
    """Each listed artifact well formed (name, sha256, size), and no name twice."""
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


def _cr_attribute(name):
    """Artifact name → attribute prefix: api → Api, usage-reporter → UsageReporter."""
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[-_]", name) if part)


def _cr_download_url(payload, name):
    entry = (payload.get("downloads") or {}).get(name)
    url = entry.get("url") if isinstance(entry, dict) else None
    if not isinstance(url, str):
        raise _CrFailure(f"the vendor API gave no download URL for artifact '{name}'")
    return _cr_checked_url(url, f"the download URL of artifact '{name}'")
