"""Authenticates a VS1-HMAC-SHA256 signed request (docs/protocol.md §4).

Order of checks, cheapest and least revealing first:

1. headers: no `Authorization` in the VS1 scheme → MissingAuthentication; the VS1 scheme but a
   malformed Credential/Signature, or `X-Vs-Date` / `X-Vs-Nonce` missing or malformed →
   SignatureDoesNotMatch; a Credential that is not an access key's shape → InvalidAccessKey;
2. clock: `X-Vs-Date` more than 300 s from now → RequestExpired (before any I/O);
3. key item (consistent read) absent → InvalidAccessKey;
4. signature (secret derived via KMS, cached ≤ 5 min, constant-time compare) → SignatureDoesNotMatch;
5. key revoked → KeyRevoked, past `expires_at` → KeyExpired (told only to holders of the secret);
6. nonce recorded with a conditional put → ReplayDetected on reuse (so only correctly signed,
   otherwise acceptable requests consume a nonce).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from aws_lambda_powertools import Logger

from keys.dal.key_store import KeyStore
from keys.dal.secrets import SecretDeriver
from keys.models import ACCESS_KEY_RE, REVOKED, KeyItem
from license.dal.nonces import NonceStore
from shared import signing
from shared.errors import (
    ApiError,
    InvalidAccessKey,
    KeyExpired,
    KeyRevoked,
    MissingAuthentication,
    RequestExpired,
    SignatureDoesNotMatch,
)
from shared.timestamps import format_timestamp

logger = Logger(child=True)
WINDOW = timedelta(seconds=signing.WINDOW_SECONDS)
TOUCH_INTERVAL = timedelta(seconds=60)
_SCHEME = signing.ALGORITHM + " "


@dataclass(frozen=True)
class Credentials:
    access_key: str
    signature: str = field(repr=False)
    date: str
    when: datetime
    nonce: str


@dataclass(frozen=True)
class SignedRequest:
    method: str
    path: str
    query_pairs: tuple[tuple[str, str], ...]
    body: bytes
    headers: Mapping[str, str] = field(repr=False)


@dataclass(frozen=True)
class Principal:
    """Who a verified request speaks for; routes get it from `license.handlers.auth`."""

    customer_id: str
    access_key: str
    expires_at: datetime
    key: KeyItem
    # The request's verified, now used-up X-Vs-Nonce: an answer that names it (the activation
    # manifest) is bound to this one request and cannot be replayed to another.
    nonce: str = ""

    def whoami(self) -> dict:
        return {
            "customer_id": self.customer_id,
            "access_key": self.access_key,
            "expires_at": format_timestamp(self.expires_at),
        }


@dataclass
class AuthAttempt:
    """What became known during an attempt, even a failed one (for the audit record)."""

    access_key: str | None = None
    customer_id: str | None = None


def _lower(headers: Mapping[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items() if isinstance(v, str)}


def parse_credentials(headers: Mapping[str, str]) -> Credentials:
    h = _lower(headers)
    authorization = h.get("authorization", "").strip()
    if not authorization.startswith(_SCHEME):
        raise MissingAuthentication(
            f"Sign the request: Authorization: {signing.ALGORITHM} Credential=…, Signature=…."
        )
    try:
        access_key, signature = signing.parse_authorization(authorization)
    except signing.SigningError as exc:
        raise SignatureDoesNotMatch(f"{exc}.") from None
    date, nonce = h.get("x-vs-date"), h.get("x-vs-nonce")
    if not date:
        raise SignatureDoesNotMatch(f"The {signing.DATE_HEADER} header is required.")
    if not nonce or not signing.valid_nonce(nonce):
        raise SignatureDoesNotMatch(f"{signing.NONCE_HEADER} must be 16-64 characters of [A-Za-z0-9_-].")
    try:
        when = signing.parse_date(date)
    except signing.SigningError as exc:
        raise SignatureDoesNotMatch(f"{exc}.") from None
    if not ACCESS_KEY_RE.match(access_key):
        raise InvalidAccessKey("No such access key.")
    return Credentials(access_key=access_key, signature=signature, date=date, when=when, nonce=nonce)


def check_clock(credentials: Credentials, now: datetime) -> None:
    if abs(credentials.when - now) > WINDOW:
        raise RequestExpired(
            f"{signing.DATE_HEADER} is more than {signing.WINDOW_SECONDS} s from the server time."
        )


def verify_signature(
    secret: str,
    method: str,
    path: str,
    query_pairs: Iterable[tuple[str, str]],
    body: bytes,
    headers: Mapping[str, str],
    now: datetime,
) -> Credentials:
    """Pure (no I/O): headers well formed, date inside the window, signature right."""
    credentials = parse_credentials(headers)
    check_clock(credentials, now)
    sts = signing.string_to_sign(
        credentials.date, credentials.nonce, method, path, signing.canonical_query(query_pairs), body
    )
    if not signing.signature_matches(secret, sts, credentials.signature):
        raise SignatureDoesNotMatch(
            "The request signature does not match; check the secret key and signed parts."
        )
    return credentials


class Verifier:
    def __init__(self, keys: KeyStore, secrets: SecretDeriver, nonces: NonceStore) -> None:
        self._keys = keys
        self._secrets = secrets
        self._nonces = nonces

    def authenticate(
        self, request: SignedRequest, now: datetime, attempt: AuthAttempt | None = None
    ) -> Principal:
        attempt = attempt if attempt is not None else AuthAttempt()
        credentials = parse_credentials(request.headers)
        attempt.access_key = credentials.access_key
        check_clock(credentials, now)
        key = self._keys.get_key(credentials.access_key)
        if key is None:
            raise InvalidAccessKey("No such access key.")
        attempt.customer_id = key.owner
        secret = self._secrets.derive(key.access_key, key.salt)
        verify_signature(
            secret, request.method, request.path, request.query_pairs, request.body, request.headers, now
        )
        if key.status == REVOKED:
            raise KeyRevoked("This access key was revoked by its owner.")
        if now >= key.expires_at:
            raise KeyExpired("This access key has expired; create a new one.")
        until = int(max(credentials.when, now).timestamp()) + signing.WINDOW_SECONDS + 60
        self._nonces.remember(key.access_key, credentials.nonce, until=until, now=int(now.timestamp()))
        self._touch(key, now)
        return Principal(
            customer_id=key.owner,
            access_key=key.access_key,
            expires_at=key.expires_at,
            key=key,
            nonce=credentials.nonce,
        )

    def _touch(self, key: KeyItem, now: datetime) -> None:
        """`last_used_at` at most once a minute per key; a failure here never fails the call."""
        if key.last_used_at is not None and now - key.last_used_at < TOUCH_INTERVAL:
            return
        try:
            self._keys.touch(key.access_key, now, not_since=now - TOUCH_INTERVAL)
        except ApiError:
            logger.warning("last_used_at not updated", extra={"access_key": key.access_key})
