"""Signature Version 4, verified as API Gateway verifies the requests of an `AWS_IAM` method: the
one verifier of the sandbox, for the vendor's API (`sandbox/iam_auth.py`) and for the buyers'
solution APIs (`sandbox/customer_api.py`).

AWS docs (IAM User Guide): "AWS Signature Version 4 for API requests", "Create a signed AWS API
request" (the canonical request: method, URI-encoded path, sorted query, the signed headers with
their values trimmed and folded, the payload's SHA-256; the string to sign; the signing key
derived from the secret, date, Region and service) and "Elements of an AWS API request
signature" ("a request must reach AWS within five minutes of the time stamp in the request").
API Gateway's answers are 403 with its own messages (the AWS re:Post knowledge-center article
"How do I troubleshoot signature mismatch errors when making SigV4 signed requests with IAM
authentication to API Gateway?"), each tagged here with the gateway response type it belongs to.

The verifier is written from the documents, not with botocore's signer, so a request signed by an
SDK is checked by an independent implementation. `path` is the request's path as sent (still
percent-encoded: it is encoded once more for the canonical request, as for every service but S3),
`query` the decoded query pairs.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

ALGORITHM = "AWS4-HMAC-SHA256"
SERVICE = "execute-api"
WINDOW = timedelta(minutes=5)
_AUTH = re.compile(
    r"^AWS4-HMAC-SHA256\s+Credential=(?P<key>[A-Za-z0-9]{16,128})/(?P<date>\d{8})/(?P<region>[a-z0-9-]+)/"
    r"(?P<service>[a-z0-9-]+)/aws4_request,\s*SignedHeaders=(?P<signed>[a-z0-9;-]+),\s*"
    r"Signature=(?P<signature>[0-9a-f]{64})$"
)
_AMZ_DATE = re.compile(r"^\d{8}T\d{6}Z$")

# (gateway response type, API Gateway's message)
MISSING = ("MISSING_AUTHENTICATION_TOKEN", "Missing Authentication Token")
INCOMPLETE = (
    "INCOMPLETE_SIGNATURE",
    "Authorization header requires 'Credential', 'Signature', 'SignedHeaders' and a valid X-Amz-Date.",
)
MISMATCH = (
    "INVALID_SIGNATURE",
    "The request signature we calculated does not match the signature you provided. Check your AWS "
    "Secret Access Key and signing method. Consult the service documentation for details.",
)
UNKNOWN_KEY = ("INVALID_SIGNATURE", "The security token included in the request is invalid.")


class SignatureRefused(Exception):
    def __init__(self, kind: tuple[str, str]) -> None:
        super().__init__(kind[1])
        self.kind = kind


def expired(amz_date: str, now: datetime) -> tuple[str, str]:
    """API Gateway's answer to a request dated outside the window, in its own words."""
    return (
        "INVALID_SIGNATURE",
        f"Signature expired: {amz_date} is now earlier than {(now - WINDOW).strftime('%Y%m%dT%H%M%SZ')} "
        f"({now.strftime('%Y%m%dT%H%M%SZ')} - 5 min.)",
    )


def header(headers: dict[str, str], name: str) -> str | None:
    return next((v for k, v in headers.items() if k.lower() == name), None)


def canonical_query(pairs: list[tuple[str, str]]) -> str:
    encoded = sorted((quote(k, safe="-_.~"), quote(v, safe="-_.~")) for k, v in pairs)
    return "&".join(f"{k}={v}" for k, v in encoded)


def canonical_request(
    method: str,
    path: str,
    query: list[tuple[str, str]],
    headers: dict[str, str],
    signed: list[str],
    body: bytes,
) -> str:
    lines = []
    for name in signed:
        value = header(headers, name)
        if value is None:
            raise SignatureRefused(MISMATCH)
        lines.append(f"{name}:{' '.join(value.strip().split())}\n")
    return "\n".join(
        [
            method,
            quote(path or "/", safe="/~"),
            canonical_query(query),
            "".join(lines),
            ";".join(signed),
            hashlib.sha256(body).hexdigest(),
        ]
    )


def signing_key(secret: str, day: str, region: str, service: str) -> bytes:
    key = ("AWS4" + secret).encode("utf-8")
    for part in (day, region, service, "aws4_request"):
        key = hmac.new(key, part.encode("utf-8"), hashlib.sha256).digest()
    return key


def signature(secret: str, amz_date: str, region: str, service: str, request: str) -> str:
    """The hex signature of a canonical request: the string to sign (algorithm, date, scope, the
    request's hash), HMAC'd with the derived signing key."""
    scope = f"{amz_date[:8]}/{region}/{service}/aws4_request"
    to_sign = "\n".join([ALGORITHM, amz_date, scope, hashlib.sha256(request.encode("utf-8")).hexdigest()])
    return hmac.new(
        signing_key(secret, amz_date[:8], region, service), to_sign.encode("utf-8"), hashlib.sha256
    ).hexdigest()


def verify(
    *,
    method: str,
    path: str,
    query: list[tuple[str, str]],
    headers: dict[str, str],
    body: bytes,
    secret_for: Callable[[str], str | None],
    region: str,
    now: datetime | None = None,
) -> str:
    """The access key id of a correctly signed request; otherwise `SignatureRefused` with API
    Gateway's answer. Checked in API Gateway's order: present, well formed, a known key, in the
    time window, then the signature."""
    authorization = header(headers, "authorization")
    if not authorization:
        raise SignatureRefused(MISSING)
    match = _AUTH.match(authorization.strip())
    amz_date = header(headers, "x-amz-date") or ""
    if match is None or not _AMZ_DATE.match(amz_date):
        raise SignatureRefused(INCOMPLETE)
    secret = secret_for(match["key"])
    if secret is None:
        raise SignatureRefused(UNKNOWN_KEY)
    now = now or datetime.now(UTC)
    when = datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    if abs(now - when) > WINDOW:
        raise SignatureRefused(expired(amz_date, now))
    if match["date"] != amz_date[:8] or match["region"] != region or match["service"] != SERVICE:
        raise SignatureRefused(MISMATCH)
    signed = match["signed"].split(";")
    if "host" not in signed or signed != sorted(signed):
        raise SignatureRefused(MISMATCH)
    expected = signature(
        secret, amz_date, region, SERVICE, canonical_request(method, path, query, headers, signed, body)
    )
    if not hmac.compare_digest(expected, match["signature"]):
        raise SignatureRefused(MISMATCH)
    return match["key"]
