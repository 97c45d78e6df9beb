"""License tokens (docs/protocol.md §4.3): a compact JWS that proves, while the solution runs,
that its subscription is paid for.

Pure logic: what a token says (`claims_for`) and how its bytes are laid out (`compact_jws`); the
signature itself is made by KMS (`license.dal.token_signer`), so the private key never leaves it.

RS256 is RSASSA-PKCS1-v1_5 with SHA-256 (RFC 7518 §3.3, "JSON Web Algorithms"), which is what KMS
calls `RSASSA_PKCS1_V1_5_SHA_256` for an RSA key (AWS docs: "Sign", AWS KMS API Reference,
https://docs.aws.amazon.com/kms/latest/APIReference/API_Sign.html; "Asymmetric key specs", RSA
signing algorithms). The JWS signing input is `base64url(header) "." base64url(claims)` (RFC 7515
§5.1), and KMS signs it as a RAW message of at most 4096 bytes.
"""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

ALGORITHM = "RS256"
KMS_ALGORITHM = "RSASSA_PKCS1_V1_5_SHA_256"
MAX_SIGNING_INPUT = 4096  # KMS Sign takes at most 4096 bytes as a RAW message


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _segment(document: dict) -> str:
    return b64url(json.dumps(document, separators=(",", ":"), sort_keys=True).encode("utf-8"))


def new_token_id() -> str:
    """`jti`: 128 random bits, so a token can be named in logs and audits without its bytes."""
    return "lt-" + secrets.token_hex(16)


def entitlements_for(
    *,
    dimensions: Iterable[str],
    features: Iterable[str],
    pricing_model: str,
    contract: dict | None,
    now: datetime,
) -> list[str]:
    """What the subscription grants: dimensions, then the configured features, sorted each.

    Usage pricing (and contract with pay-as-you-go usage) grants every configured dimension;
    pure contract pricing grants only the dimensions its Marketplace entitlements name and whose
    `expires_at` (when set) is still ahead. Features come from configuration and go to every
    paying subscriber.
    """
    names = sorted(set(dimensions))
    if pricing_model == "contract":
        granted = []
        for name in names:
            entry = (contract or {}).get(name)
            if not isinstance(entry, dict):
                continue
            expires = entry.get("expires_at")
            if isinstance(expires, str) and expires and expires <= now.strftime("%Y-%m-%dT%H:%M:%SZ"):
                continue
            granted.append(name)
        names = granted
    return names + sorted(set(features) - set(names))


def claims_for(
    *,
    issuer: str,
    team_id: str,
    aws_account_id: str,
    entitlements: list[str],
    now: datetime,
    lifetime: timedelta,
    not_after: datetime | None = None,
    token_id: str | None = None,
) -> dict:
    """The claims of one token. `exp` is `now + lifetime`, but never past `not_after` (the end
    of a grace period), so a token never outlives what the subscription pays for."""
    expires = now + lifetime
    if not_after is not None and not_after < expires:
        expires = not_after
    return {
        "iss": issuer,
        "sub": team_id,
        "aws_account_id": aws_account_id,
        "entitlements": list(entitlements),
        "iat": int(now.timestamp()),
        "exp": int(expires.timestamp()),
        "jti": token_id or new_token_id(),
    }


PENDING_FLOOR = timedelta(minutes=5)  # the shortest lifetime `license_tokens.lifetime_seconds` allows


def latest_expiry(
    *,
    status: str,
    grace_until: datetime | None,
    ending_since: datetime | None,
    now: datetime,
    grace: timedelta,
) -> datetime | None:
    """The latest `exp` a token issued `now` may carry (None: only the lifetime bounds it).

    In grace (`status` "grace"), the grace's end: a token never outlives what was paid for, so
    a solution stops serving when the grace ends, not up to a lifetime later.

    While an unsubscription is pending ("unsubscribe-pending") the buyer is still subscribed, the
    grace has not started and its end is not known: it will be `grace` after the
    unsubscribe-success event, which comes after the pending one (`ending_since`). So
    `ending_since + grace` is the earliest the grace can end, and the cap; but never less than
    5 minutes from now, or a grace shorter than the time since the pending event (0 days, say)
    would issue tokens already expired to a buyer still subscribed. With a grace under 5 minutes
    a token may so outlive it by at most that. Only a grace shorter than the token lifetime
    makes either cap bite. Status names are the subscription's (`subscriptions.models`).
    """
    if status == "grace":
        return grace_until or now
    if status == "unsubscribe-pending":
        return max(min(ending_since or now, now) + grace, now + PENDING_FLOOR)
    return None


def compact_jws(claims: dict, *, kid: str, sign: Callable[[bytes], bytes]) -> str:
    """`header.claims.signature`, each base64url without padding; `sign` gets the signing input."""
    signing_input = f"{_segment({'alg': ALGORITHM, 'kid': kid, 'typ': 'JWT'})}.{_segment(claims)}"
    data = signing_input.encode("ascii")
    if len(data) > MAX_SIGNING_INPUT:
        raise ValueError("license token claims exceed what KMS signs as one message")
    return f"{signing_input}.{b64url(sign(data))}"


def key_id_of(key_arn: str) -> str:
    """`kid`: the KMS key's id (the last part of its ARN), so a rotated key is told apart."""
    return key_arn.rsplit("/", 1)[-1] if "/" in key_arn else key_arn
