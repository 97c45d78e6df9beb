"""The sandbox's one SigV4 verifier (sandbox/sigv4.py): AWS's own worked example, API Gateway's
5-minute window, and its answers in the order API Gateway gives them."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from sandbox import sigv4

# AWS docs, IAM User Guide, "Create a signed AWS API request" (its worked example: IAM ListUsers).
EXAMPLE_SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
EXAMPLE_HEADERS = {
    "Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
    "Host": "iam.amazonaws.com",
    "X-Amz-Date": "20150830T123600Z",
}
KEY, SECRET = "AKIAEXAMPLEKEY000001", "example-secret-key/0123456789abcdefghijkl"


def test_the_documented_example_gives_the_documented_signing_key_request_hash_and_signature() -> None:
    key = sigv4.signing_key(EXAMPLE_SECRET, "20150830", "us-east-1", "iam")
    assert key.hex() == "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9"
    request = sigv4.canonical_request(
        "GET",
        "/",
        [("Version", "2010-05-08"), ("Action", "ListUsers")],
        EXAMPLE_HEADERS,
        ["content-type", "host", "x-amz-date"],
        b"",
    )
    assert hashlib.sha256(request.encode()).hexdigest() == (
        "f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59"
    )
    assert sigv4.signature(EXAMPLE_SECRET, "20150830T123600Z", "us-east-1", "iam", request) == (
        "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"
    )


def signed(when: datetime, *, path: str = "/prod/analyze", query: str = "a=1&b=two%20words") -> dict:
    """What an SDK sends: botocore's signer, with the Host header the HTTP client adds."""
    request = AWSRequest("POST", f"http://127.0.0.1:4000{path}?{query}", data=b"{}", headers={})
    auth = SigV4Auth(Credentials(KEY, SECRET), "execute-api", "us-east-1")
    request.context["timestamp"] = when.strftime("%Y%m%dT%H%M%SZ")
    request.headers["X-Amz-Date"] = request.context["timestamp"]
    auth._modify_request_before_signing(request)
    canonical = auth.canonical_request(request)
    auth._inject_signature_to_request(
        request, auth.signature(auth.string_to_sign(request, canonical), request)
    )
    return {**dict(request.headers.items()), "Host": "127.0.0.1:4000"}


def verify(headers: dict, now: datetime, **overrides) -> str:
    arguments = {
        "method": "POST",
        "path": "/prod/analyze",
        "query": [("a", "1"), ("b", "two words")],
        "headers": headers,
        "body": b"{}",
        "secret_for": {KEY: SECRET}.get,
        "region": "us-east-1",
        "now": now,
    }
    return sigv4.verify(**{**arguments, **overrides})


def test_what_an_sdk_signs_verifies_within_five_minutes_either_way() -> None:
    now = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    for offset in (-4, 0, 4):
        assert verify(signed(now + timedelta(minutes=offset)), now) == KEY


@pytest.mark.parametrize("offset", [-6, 6])
def test_a_request_dated_more_than_five_minutes_away_is_refused(offset: int) -> None:
    now = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    with pytest.raises(sigv4.SignatureRefused) as refused:
        verify(signed(now + timedelta(minutes=offset)), now)
    assert refused.value.kind[1].startswith("Signature expired:")
    assert refused.value.kind[1].endswith("(20261128T120000Z - 5 min.)")


def test_the_answers_come_in_api_gateways_order() -> None:
    now = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    good = signed(now)
    cases = [
        ({k: v for k, v in good.items() if k != "Authorization"}, {}, sigv4.MISSING),
        ({**good, "Authorization": "AWS4-HMAC-SHA256 Credential=nonsense"}, {}, sigv4.INCOMPLETE),
        (good, {"secret_for": {}.get}, sigv4.UNKNOWN_KEY),
        (good, {"region": "eu-west-1"}, sigv4.MISMATCH),
        (good, {"body": b'{"changed":1}'}, sigv4.MISMATCH),
        (good, {"path": "/prod/other"}, sigv4.MISMATCH),
        (good, {"query": [("a", "2"), ("b", "two words")]}, sigv4.MISMATCH),
        ({**good, "Host": "evil.example.com"}, {}, sigv4.MISMATCH),
    ]
    for headers, overrides, kind in cases:
        with pytest.raises(sigv4.SignatureRefused) as refused:
            verify(headers, now, **overrides)
        assert refused.value.kind == kind
