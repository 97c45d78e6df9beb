"""VS1-HMAC-SHA256 request signing (docs/protocol.md §4): the one implementation both sides use.

Standard library only and self-contained on purpose: the same file is inlined into the
customer template's custom resource, where no project package exists. The vendor side
verifies with the same `string_to_sign`, so signer and verifier cannot drift apart.

Clients should send `canonical_query(pairs)` as the URL's query string, so the pairs API
Gateway decodes are exactly the pairs that were signed.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from datetime import UTC, datetime
from urllib.parse import quote

ALGORITHM = "VS1-HMAC-SHA256"
DATE_HEADER = "X-Vs-Date"
NONCE_HEADER = "X-Vs-Nonce"
AUTHORIZATION_HEADER = "Authorization"
WINDOW_SECONDS = 300

_UNRESERVED = "-_.~"  # plus A-Za-z0-9, which quote() never encodes
_DATE_RE = re.compile(r"^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$")
_NONCE_RE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
_AUTHORIZATION_RE = re.compile(
    r"^" + re.escape(ALGORITHM) + r" +Credential=([^,\s]+) *, *Signature=([0-9a-f]{64})$"
)
_EMPTY_BODY_SHA256 = hashlib.sha256(b"").hexdigest()


class SigningError(ValueError):
    """A header or value is not in the form docs/protocol.md §4 prescribes."""


def _encode(text: str) -> str:
    return quote(text, safe=_UNRESERVED)


def canonical_query(pairs: Iterable[tuple[str, str]]) -> str:
    """RFC 3986 encoding of every name and value, sorted by encoded name then encoded value."""
    encoded = sorted((_encode(name), _encode(value)) for name, value in pairs)
    return "&".join(f"{name}={value}" for name, value in encoded)


def body_hash(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest() if body else _EMPTY_BODY_SHA256


def string_to_sign(date: str, nonce: str, method: str, path: str, query: str, body: bytes) -> str:
    return "\n".join((ALGORITHM, date, nonce, method.upper(), path, query, body_hash(body)))


def compute_signature(secret: str, sts: str) -> str:
    return hmac.new(secret.encode("utf-8"), sts.encode("utf-8"), hashlib.sha256).hexdigest()


def signature_matches(secret: str, sts: str, signature: str) -> bool:
    """Constant-time comparison, so timing does not reveal how much of a guess was right."""
    return hmac.compare_digest(compute_signature(secret, sts), signature)


def format_date(dt: datetime) -> str:
    if dt.tzinfo is None:
        raise SigningError("date must be timezone-aware")
    return dt.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def parse_date(value: str) -> datetime:
    match = _DATE_RE.match(value)
    if match is None:
        raise SigningError(f"{DATE_HEADER} must look like 20261122T135400Z")
    try:
        year, month, day, hour, minute, second = (int(part) for part in match.groups())
        return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except ValueError:
        raise SigningError(f"{DATE_HEADER} is not a real date and time") from None


def valid_nonce(value: str) -> bool:
    return _NONCE_RE.match(value) is not None


def new_nonce() -> str:
    return secrets.token_urlsafe(18)  # 24 characters of [A-Za-z0-9_-], 144 random bits


def format_authorization(access_key: str, signature: str) -> str:
    return f"{ALGORITHM} Credential={access_key}, Signature={signature}"


def parse_authorization(value: str) -> tuple[str, str]:
    """`VS1-HMAC-SHA256 Credential=<ak>, Signature=<64 hex>` → (access_key, signature)."""
    match = _AUTHORIZATION_RE.match(value.strip())
    if match is None:
        raise SigningError(
            f"Authorization must be '{ALGORITHM} Credential=<access key>, Signature=<64 lowercase hex>'"
        )
    return match.group(1), match.group(2)


def sign_request(
    access_key: str,
    secret: str,
    method: str,
    path: str,
    query_pairs: Iterable[tuple[str, str]] = (),
    body: bytes = b"",
    *,
    now: datetime | None = None,
    nonce: str | None = None,
) -> dict[str, str]:
    """The three headers that authenticate one request; a fresh nonce unless one is given."""
    date = format_date(now or datetime.now(UTC))
    nonce = new_nonce() if nonce is None else nonce
    if not valid_nonce(nonce):
        raise SigningError(f"{NONCE_HEADER} must be 16-64 characters of [A-Za-z0-9_-]")
    sts = string_to_sign(date, nonce, method, path, canonical_query(query_pairs), body)
    return {
        AUTHORIZATION_HEADER: format_authorization(access_key, compute_signature(secret, sts)),
        DATE_HEADER: date,
        NONCE_HEADER: nonce,
    }
