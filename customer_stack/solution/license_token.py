"""License tokens in the customer's account: verify them offline and keep one fresh in memory.

Shipped at the root of every solution artifact as `license_token.py` (beside `recorder.py`), so
the solution's handler and the vendor's own functions can `from license_token import ...`.

**Offline verification.** A token is a compact JWS, RS256 (RSASSA-PKCS1-v1_5 with SHA-256,
RFC 7515 and RFC 7518 §3.3), signed by the vendor's KMS key; the public half is the template's
`VendorPublicKey` (base64 of the DER SubjectPublicKeyInfo that KMS GetPublicKey returns; AWS
docs: "GetPublicKey", AWS KMS API Reference). Two paths, the same result:

- the standard library (`rsa_verify.py`, shipped beside this file, the verifier the activation
  uses too): the Lambda Python runtime has boto3 but not `cryptography`, and a solution artifact
  should not need a compiled wheel for one check an hour. Its cost is CPython's
  `pow(s, 65537, n)`, about 0.25 ms for RSA-2048, so at most about 4,000 new tokens a second;
- `cryptography` (OpenSSL) when the artifact carries it (a vendor who lists it in a function's
  `requirements`): 14,000-20,000 new tokens a second here (README, "Benchmarks").

Either way a verified token's claims are kept by its text: each token is verified once per
process, and every request after that costs a dictionary lookup and an `exp` check (millions a
second). The key is parsed once per key string, and a vendor's one JOSE header once.

**The client** (`LicenseTokenClient`) holds the current token per process:

- it refreshes ahead of expiry, at a random moment in the last `refresh_ahead` seconds before
  the first half of that window ends, so a fleet of warm functions spreads its calls out;
- one fetch is in flight per process (single flight): during a refresh the others keep using the
  still-valid token; with no valid token they wait for that one fetch instead of starting theirs;
- while the vendor is unreachable (connection error, timeout, 429, 5xx) it keeps the last token
  until `exp + offline_grace`, retrying at most every `retry_seconds`; past that it fails closed
  with `LicenseUnavailable` (401) and a message that says why;
- a definite refusal (401, 402, 403 from the vendor: the key refused, the subscription inactive,
  the customer suspended) drops the cached token at once and fails closed with the vendor's
  status and code: a refusal is not an outage, so it gets no offline grace. Only a connection
  error, a timeout, 429 and 5xx count as the vendor being unreachable.
"""

from __future__ import annotations

import binascii
import functools
import json
import os
import random
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

try:  # in the artifact, the modules sit side by side at the zip's root
    from rsa_verify import rsa_public_key, rsa_verifies
except ImportError:  # in the repository (tests)
    from customer_stack.rsa_verify import rsa_public_key, rsa_verifies

ALGORITHM = "RS256"
MAX_TOKEN_CHARS = 8192
CLOCK_SKEW_SECONDS = 300  # an `iat` further in the future than this is refused
_VERIFIED_CACHE = 64
REFUSALS = frozenset({401, 402, 403})  # the vendor's definite no (key, subscription, customer)
# None: `cryptography` only when the artifact carries it (beside this file), as on Lambda, whose
# runtime has none, even where the host's Python has it (the sandbox's workers, the tests).
# True/False: whenever importable / never (the tests and the bench compare the two paths).
USE_NATIVE: bool | None = None
_NATIVE: dict[tuple[int, int], Callable[[bytes, bytes], bool] | None] = {}


class TokenInvalid(Exception):
    """The token does not verify (signature, form, algorithm) or is expired; the reason is safe
    to log (it never holds the token)."""


class LicenseUnavailable(Exception):
    """No token grants this call: `status` 401 (none can be had) or 402 (the subscription or the
    entitlement is missing), `code` and `message` as in the vendor's error body."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message

    def body(self) -> dict:
        return {"error": {"code": self.code, "message": self.message}}


# --- RS256 -------------------------------------------------------------------------------------


def _in_artifact(path: str) -> bool:
    """Is `path` inside the folder this module was loaded from (the artifact's root, /var/task)?"""
    root = os.path.dirname(os.path.abspath(__file__))
    return os.path.abspath(path).startswith(root + os.sep)


def _native_verifier(n: int, e: int) -> Callable[[bytes, bytes], bool] | None:
    """`cryptography`'s RSA verification when the artifact carries it (OpenSSL: about 5x faster
    than CPython's `pow`), else None and the standard-library path. Same result either way."""
    try:
        import cryptography
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding, rsa
    except ImportError:
        return None
    if USE_NATIVE is None and not _in_artifact(cryptography.__file__ or ""):
        return None
    verify = rsa.RSAPublicNumbers(e, n).public_key().verify
    pkcs1, sha256 = padding.PKCS1v15(), hashes.SHA256()

    def verifies(message: bytes, signature: bytes) -> bool:
        try:
            verify(signature, message, pkcs1, sha256)
        except InvalidSignature:
            return False
        return True

    return verifies


@dataclass(frozen=True)
class PublicKey:
    """An RSA public key (n, e) of at least 2048 bits."""

    n: int
    e: int

    @property
    def size(self) -> int:
        return (self.n.bit_length() + 7) // 8

    @classmethod
    def from_spki_b64(cls, spki_b64: str) -> PublicKey:
        """From base64 of a DER SubjectPublicKeyInfo (the template's `VendorPublicKey`), parsed
        once per key string."""
        return _parsed_key(spki_b64)

    def verifies(self, message: bytes, signature: bytes) -> bool:
        """RSASSA-PKCS1-v1_5 verification with SHA-256 (RFC 8017 §8.2.2): OpenSSL when the
        artifact carries `cryptography` (see `USE_NATIVE`), else the standard library."""
        if (self.n, self.e) not in _NATIVE:
            usable = USE_NATIVE is not False
            _NATIVE[(self.n, self.e)] = _native_verifier(self.n, self.e) if usable else None
        native = _NATIVE[(self.n, self.e)]
        if native is not None:
            return native(message, signature)
        return rsa_verifies((self.n, self.e), message, signature)

    def verifies_pure(self, message: bytes, signature: bytes) -> bool:
        """The standard-library path (`rsa_verify.py`), whatever is installed."""
        return rsa_verifies((self.n, self.e), message, signature)


@functools.lru_cache(maxsize=8)
def _parsed_key(spki_b64: str) -> PublicKey:
    try:
        n, e = rsa_public_key(spki_b64)
    except ValueError as exc:
        raise ValueError(f"the vendor public key is not a base64 DER RSA public key ({exc})") from None
    return PublicKey(n, e)


_JWS = re.compile(r"([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)")
_URLSAFE_TO_STANDARD = bytes.maketrans(b"-_", b"+/")
_JSON = json.JSONDecoder()


def _b64url(segment: str) -> bytes:
    """base64url without padding (RFC 7515 §2); the caller has checked the alphabet."""
    if len(segment) % 4 == 1:
        raise TokenInvalid("the token is not three base64url segments")
    data = segment.encode("ascii").translate(_URLSAFE_TO_STANDARD)
    return binascii.a2b_base64(data + b"=" * (-len(segment) % 4))


class Verifier:
    """Verifies tokens against one public key; remembers the last few verified tokens' claims."""

    def __init__(self, public_key: PublicKey | str) -> None:
        self.key = PublicKey.from_spki_b64(public_key) if isinstance(public_key, str) else public_key
        self._verified: dict[str, dict] = {}
        self._headers: set[str] = set()  # header segments already admitted
        self._lock = threading.Lock()

    def claims(self, token: str, now: float) -> dict:
        """The token's claims if its signature verifies and it is not expired at `now`."""
        claims = self._verified.get(token)
        if claims is None:
            claims = self._verify_signature(token)
            with self._lock:
                if len(self._verified) >= _VERIFIED_CACHE:
                    self._verified.clear()
                self._verified[token] = claims
        if now >= claims["exp"]:
            raise TokenInvalid("the license token has expired")
        if claims["iat"] > now + CLOCK_SKEW_SECONDS:
            raise TokenInvalid("the license token was issued in the future")
        return claims

    def _verify_signature(self, token: str) -> dict:
        """The claims of a token whose form, header and signature are right (expiry aside)."""
        parts = _JWS.fullmatch(token) if isinstance(token, str) and len(token) <= MAX_TOKEN_CHARS else None
        if parts is None:
            raise TokenInvalid("the token is not a compact JWS")
        header_b64, claims_b64, signature_b64 = parts.groups()
        if header_b64 not in self._headers:
            self._check_header(header_b64)
        try:
            signature = _b64url(signature_b64)
        except binascii.Error:
            raise TokenInvalid("the token is not a compact JWS") from None
        if not self.key.verifies(token[: parts.end(2)].encode("ascii"), signature):
            raise TokenInvalid("the license token's signature does not verify with the vendor public key")
        try:
            claims = _JSON.decode(_b64url(claims_b64).decode("utf-8"))
        except (ValueError, binascii.Error):
            raise TokenInvalid("the token's claims are not JSON") from None
        if (
            not isinstance(claims, dict)
            or type(claims.get("iat")) is not int
            or type(claims.get("exp")) is not int
            or not isinstance(claims.get("entitlements"), list)
            or not isinstance(claims.get("sub"), str)
        ):
            raise TokenInvalid("the token's claims lack iat, exp, sub or entitlements")
        return claims

    def _check_header(self, header_b64: str) -> None:
        """Admits a JOSE header once: RS256 only (no `none`, no HS256 keyed with the public key),
        no critical extensions. A vendor's tokens share one header, so it is read once."""
        try:
            header = _JSON.decode(_b64url(header_b64).decode("utf-8"))
        except (ValueError, binascii.Error):
            raise TokenInvalid("the token is not a compact JWS") from None
        if not isinstance(header, dict) or header.get("alg") != ALGORITHM:
            raise TokenInvalid(f"the token's algorithm is not {ALGORITHM}")
        if header.get("crit"):
            raise TokenInvalid("the token names critical header parameters this client does not know")
        with self._lock:
            if len(self._headers) >= _VERIFIED_CACHE:
                self._headers.clear()
            self._headers.add(header_b64)


# --- the client -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fetched:
    """What the vendor answered to `POST /v1/license-token`: a status and the JSON body."""

    status: int
    body: dict


class Unreachable(Exception):
    """The vendor could not be asked (connection error, timeout); a transport raises it."""


Fetch = Callable[[], Fetched]


class LicenseTokenClient:
    """The current license token of this process. Thread-safe; `claims()` is the only call a
    request makes, and on the warm path it takes no lock and does no I/O."""

    def __init__(
        self,
        verifier: Verifier,
        fetch: Fetch,
        *,
        offline_grace: float = 86400,
        refresh_ahead: float = 600,
        retry_seconds: float = 30,
        clock: Callable[[], float] = time.time,
        rng: Callable[[], float] = random.random,
        expected_account: str | None = None,
    ) -> None:
        self._verifier = verifier
        self._fetch = fetch
        self._grace = offline_grace
        self._ahead = refresh_ahead
        self._retry = retry_seconds
        self._clock = clock
        self._rng = rng
        self._account = expected_account
        self._lock = threading.Lock()
        self._done = threading.Condition(self._lock)
        self._token: str | None = None
        self._claims: dict | None = None
        self._refresh_at = 0.0
        self._retry_at = 0.0
        self._in_flight = False
        self._refusal: LicenseUnavailable | None = None
        self._unreachable_since: float | None = None
        self.fetches = 0  # how many times the vendor was asked (tests, metrics)

    def claims(self) -> dict:
        """The current token's claims, or `LicenseUnavailable` (fail closed)."""
        claims = self._claims
        now = self._clock()
        if claims is not None and now < self._refresh_at:
            return claims
        return self._slow_path(now)

    def token(self) -> str | None:
        return self._token

    def _slow_path(self, now: float) -> dict:
        with self._lock:
            while True:
                usable = self._usable(now)
                due = now >= self._refresh_at and now >= self._retry_at
                if not due and usable is not None:
                    return usable
                if self._in_flight:
                    if usable is not None:
                        return usable  # a refresh is under way; keep serving the valid token
                    self._done.wait()  # no valid token: wait for the one fetch in flight
                    now = self._clock()
                    continue
                if not due:
                    raise self._unavailable(now)
                self._in_flight = True
                break
        try:
            self._refresh()
        finally:
            with self._lock:
                self._in_flight = False
                self._done.notify_all()
        now = self._clock()
        with self._lock:
            usable = self._usable(now)
            if usable is not None:
                return usable
            raise self._unavailable(now)

    def _usable(self, now: float) -> dict | None:
        """The cached claims if they may still be served at `now` (lock held)."""
        if self._claims is None:
            return None
        exp = self._claims["exp"]
        if now < exp:
            return self._claims
        if self._refusal is None and self._unreachable_since is not None and now < exp + self._grace:
            return self._claims  # offline grace: the vendor is unreachable, not refusing
        return None

    def _unavailable(self, now: float) -> LicenseUnavailable:
        if self._refusal is not None:
            return self._refusal
        if self._claims is not None and self._unreachable_since is not None:
            return LicenseUnavailable(
                401,
                "LicenseUnavailable",
                "The vendor's license service has been unreachable past the offline grace period "
                f"({int(self._grace)} s after the last token expired); calls are refused until it answers.",
            )
        return LicenseUnavailable(
            401,
            "LicenseUnavailable",
            "No license token could be obtained from the vendor; this call is refused until one can.",
        )

    def _refresh(self) -> None:
        """One fetch (outside the lock); its outcome is applied under the lock."""
        self.fetches += 1
        try:
            answer = self._fetch()
        except Unreachable:
            answer = None
        now = self._clock()
        with self._lock:
            if answer is None or answer.status == 429 or answer.status >= 500:
                self._unreachable(now)  # an outage: the offline grace applies
            elif answer.status != 200:
                self._refused(now, answer)
            else:
                self._answered(now, (answer.body or {}).get("token"))

    def _retry_later(self, now: float) -> None:
        self._retry_at = now + self._retry * (0.5 + self._rng() / 2)

    def _unreachable(self, now: float) -> None:
        if self._unreachable_since is None:
            self._unreachable_since = now
        self._retry_later(now)

    def _refused(self, now: float, answer: Fetched) -> None:
        """The vendor answered, and not with a token. A refusal is not an outage: no offline
        grace. 401/402/403 (the key refused, the subscription inactive, the customer suspended)
        end the cached token's use at once, so a subscription past its grace stops being served
        at the next refresh rather than at the old token's `exp`; any other 4xx (a request the
        vendor cannot read: a client older or newer than the API) keeps it until its own `exp`."""
        body: dict = answer.body if isinstance(answer.body, dict) else {}
        found = body.get("error")
        error: dict = found if isinstance(found, dict) else {}
        code = str(error.get("code") or "LicenseRefused")[:64]
        message = str(error.get("message") or "")[:300]
        self._refusal = LicenseUnavailable(
            402 if answer.status in (402, 403) else 401,
            code,
            f"The vendor refused a license token ({answer.status} {code}): {message}".rstrip(": "),
        )
        self._unreachable_since = None
        if answer.status in REFUSALS:
            self._token, self._claims = None, None
        self._retry_later(now)

    def _answered(self, now: float, token: object) -> None:
        try:
            if not isinstance(token, str):
                raise TokenInvalid("the vendor's answer has no token")
            claims = self._verifier.claims(token, now)
            if self._account and claims.get("aws_account_id") not in (None, self._account):
                raise TokenInvalid("the license token names another AWS account")
        except TokenInvalid as exc:
            self._refusal = LicenseUnavailable(
                401, "LicenseUnavailable", f"The vendor's answer was refused: {exc}."
            )
            self._retry_later(now)
            return
        self._token, self._claims = token, claims
        self._refusal = None
        self._unreachable_since = None
        self._retry_at = 0.0
        life = claims["exp"] - now
        ahead = min(self._ahead, life / 2)
        # A random moment in the first half of the refresh window: warm functions spread out.
        self._refresh_at = claims["exp"] - ahead + (ahead / 2) * self._rng()


def require_entitlement(claims: dict, entitlement: str | None) -> None:
    """402 `NotEntitled` unless the token grants `entitlement` (None: any valid token will do)."""
    if entitlement is not None and entitlement not in claims.get("entitlements", ()):
        raise LicenseUnavailable(
            402,
            "NotEntitled",
            f"The subscription does not include '{entitlement}', which this call needs.",
        )


def error_response(error: LicenseUnavailable) -> dict:
    """An API Gateway proxy response in the vendor's error shape."""
    return {
        "statusCode": error.status,
        "headers": {"Content-Type": "application/json", "Cache-Control": "no-store"},
        "body": json.dumps(error.body(), separators=(",", ":")),
        "isBase64Encoded": False,
    }
