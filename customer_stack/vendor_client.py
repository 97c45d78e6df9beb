"""The customer side's one HTTP client for the vendor: signed calls, bounded retries, a deadline.

Everything that runs in the customer's account and talks to the vendor goes through this module:
the activation custom resource (inlined into the customer template after `signing.py`, by
`constructs/activation.py`) and the usage reporter (zipped beside `signing.py`). Standard library
only, because the activation code is plain `index.py` text with boto3 as its one other import.

The rules, in one place so that callers cannot disagree:

- **Signed per attempt.** Each attempt gets a fresh VS1 signature (docs/protocol.md §4): a new
  `X-Vs-Date` and a new nonce, because the license API uses a nonce up once; re-sending the same
  signed bytes would be refused as a replay. The nonce of the attempt that was answered is
  returned (the activation manifest is bound to it).
- **What is retried**: a connection that failed before the request was delivered, `429`, and
  (idempotent requests only) `500/502/503/504`, a timeout or a broken reply. Any other `4xx` is
  final: the answer would not change. A **non-idempotent** request is retried only when it surely
  was not processed (connect or send failed, or `429`), so it never runs twice. GET, PUT, DELETE
  are idempotent by method (RFC 9110 §9.2.2); a POST is when its caller says so (usage records
  carry idempotency ids; an activation is stable per stack).
- **Backoff** is exponential with *full jitter*: a uniformly random wait between 0 and
  `min(cap, base * 2**attempt)` (AWS Architecture Blog, "Exponential Backoff And Jitter",
  https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/), so clients that
  failed together do not come back together.
- **Retry-After** (RFC 9110 §10.2.3, https://www.rfc-editor.org/rfc/rfc9110#section-10.2.3) is
  either delay-seconds or an HTTP-date (IMF-fixdate, or the obsolete RFC 850 and asctime forms
  every recipient must accept, §5.6.7). It is a floor for the next wait; a date is measured from
  the answer's own `Date` when it has one, so the two clocks need not agree.
- **Deadline.** The caller passes `remaining()`, the seconds it can still spend (its Lambda time
  less what it keeps for itself). No attempt starts with less than the policy's `min_attempt_s`
  left, a socket never waits past the deadline, and a wait that would end past it is not slept:
  `VendorDeadline` is raised at once, so the caller can checkpoint and answer in time.
- **Errors never hold a secret.** Messages name the endpoint (host and port only), the status, the
  vendor's error code and message; never the secret key, the Authorization header, or the query
  string of a URL (presigned URLs carry their signature there). Redirects are not followed: a
  signed request is never replayed to another place.
"""

from __future__ import annotations

import http.client
import json
import re
import secrets
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC
from email.utils import parsedate_to_datetime
from typing import Any

try:
    from signing import canonical_query, sign_request  # shipped: signing.py beside this file
except ImportError:  # the repository: runtime/ is on sys.path (tests, sandbox)
    from shared.signing import canonical_query, sign_request

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
RETRYABLE_5XX = frozenset({500, 502, 503, 504})
MAX_JSON_BYTES = 1024 * 1024  # the largest vendor answer read
RETRY_AFTER_MAX_S = 7 * 24 * 3600.0  # bounds nonsense; a real wait past the deadline ends earlier
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
_URL_QUERY = re.compile(r"(https?://[^\s?#\"']*)\?[^\s\"']*")
_ERROR_CODE = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,63}")
_RANDOM = secrets.SystemRandom()


class VendorError(Exception):
    """A call to the vendor did not succeed. The message is safe to show: it holds no secret.
    `attempts` is how many requests were sent (0: none)."""

    def __init__(self, message: str, attempts: int = 0) -> None:
        super().__init__(message)
        self.attempts = attempts


class VendorConfigError(VendorError, ValueError):
    """A URL the client was given is not one it may call."""


class VendorRefused(VendorError):
    """A final answer that is not a success: another 4xx, a redirect, or an error not retried."""

    def __init__(
        self, message: str, status: int, code: str = "", vendor_message: str = "", *, attempts: int = 0
    ) -> None:
        super().__init__(message, attempts)
        self.status, self.code, self.vendor_message = status, code, vendor_message


class VendorUnavailable(VendorError):
    """Every attempt failed with a retryable error (connection, 429, 5xx)."""

    def __init__(self, message: str, attempts: int, status: int | None = None, code: str = "") -> None:
        super().__init__(message, attempts)
        self.status, self.code = status, code


class VendorDeadline(VendorError):
    """The caller's time ran out before (another) attempt or wait could fit."""


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try. `attempts` bounds a call; the deadline usually ends a long outage first."""

    attempts: int = 3
    base_s: float = 0.5
    cap_s: float = 20.0
    timeout_s: float = 10.0  # per socket operation (connect, each read)
    min_attempt_s: float = 0.1  # no attempt starts with less time than this left


@dataclass
class VendorResponse:
    """A successful answer: status, headers, the JSON body (None if empty or not JSON), and the
    nonce the answered attempt was signed with."""

    status: int
    json: object
    headers: dict = field(default_factory=dict)
    nonce: str = ""
    attempts: int = 1


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


_OPENER = urllib.request.build_opener(_NoRedirect())


def endpoint_of(url: str) -> str:
    """host[:port] of a URL: what messages name (never a path's secrets or a query)."""
    parts = urllib.parse.urlsplit(url)
    return f"{parts.hostname}:{parts.port}" if parts.port else str(parts.hostname)


def scrub(text: object, secret_values: Iterable[str] = ()) -> str:
    """Drops the query string of every URL in text and every given secret value."""
    text = _URL_QUERY.sub(r"\1?…", str(text))
    for value in secret_values:
        if value:
            text = text.replace(value, "…")
    return text


def checked_url(url: Any, what: str, *, allow_http_loopback: bool = False) -> str:
    """https only; plain http only to a loopback address and only when allowed (a local sandbox),
    so nothing can aim a client at another local listener such as the Lambda runtime API."""
    try:
        parts = urllib.parse.urlsplit(url) if isinstance(url, str) else None
        hostname = parts.hostname if parts else None
    except ValueError:
        parts, hostname = None, None
    if parts is None or not hostname:
        raise VendorConfigError(f"{what} is not a URL")
    if parts.scheme == "https":
        return url
    if parts.scheme == "http" and hostname in _LOOPBACK and allow_http_loopback:
        return url
    raise VendorConfigError(f"{what} must be an https URL (got {parts.scheme}://{endpoint_of(url)})")


def parse_retry_after(value: str | None, date: str | None = None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After value, or None when absent or unreadable.

    delay-seconds is `1*DIGIT`; an HTTP-date is measured from `date` (the answer's Date header)
    when that parses, else from `now` (default: this machine's clock). A date in the past is 0."""
    value = (value or "").strip()
    if not value:
        return None
    if value.isascii() and value.isdigit():
        return RETRY_AFTER_MAX_S if len(value) > 9 else min(RETRY_AFTER_MAX_S, float(int(value)))
    retry_at = _http_date(value)
    if retry_at is None:
        return None
    reference = _http_date(date) if date else None
    if reference is None:
        reference = time.time() if now is None else now
    return min(RETRY_AFTER_MAX_S, max(0.0, retry_at - reference))


def _http_date(value: str) -> float | None:
    """Epoch seconds of an HTTP-date in any of its three forms (an asctime date has no zone: UTC)."""
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC).timestamp()
    return parsed.timestamp()


def full_jitter(attempt: int, policy: RetryPolicy) -> float:
    """A random wait in [0, min(cap, base * 2**attempt)]."""
    return _RANDOM.uniform(0.0, min(policy.cap_s, policy.base_s * 2 ** min(attempt, 32)))


def read_json(response: Any) -> object:
    """The JSON body of an answer (at most MAX_JSON_BYTES), or None."""
    try:
        raw = response.read(MAX_JSON_BYTES + 1)
        return json.loads(raw.decode("utf-8")) if raw and len(raw) <= MAX_JSON_BYTES else None
    except (ValueError, OSError, http.client.HTTPException):
        return None


def error_of(payload: object) -> tuple[str, str]:
    """(code, message) of the protocol's error shape `{"error": {"code", "message"}}`."""
    error = payload.get("error") if isinstance(payload, dict) else None
    if not isinstance(error, dict):
        return "", ""
    code = error.get("code")
    message = error.get("message")
    code = code if isinstance(code, str) else ""
    message = message if isinstance(message, str) else ""
    return (code if _ERROR_CODE.fullmatch(code) else ""), message[:300]


def _network_reason(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None) or exc
    if isinstance(reason, TimeoutError):
        return "timed out"
    return f"{type(reason).__name__}: {reason}"[:200]


def _retryable_answer(
    exc: urllib.error.HTTPError, what: str, idempotent: bool, attempt: int, secret_values: tuple[str, ...]
) -> tuple[str, str, float | None]:
    """(what happened, the error code, Retry-After) of an error answer worth retrying: 429, or a
    5xx of an idempotent request. Any other raises VendorRefused."""
    with exc:
        code, message = error_of(read_json(exc))
    last = f"HTTP {exc.code}" + (f" {code}" if code else "") + (f": {message}" if message else "")
    if not (exc.code == 429 or (idempotent and exc.code in RETRYABLE_5XX)):
        text = scrub(f"{what} answered {last}", secret_values)
        vendor_message = scrub(message, secret_values)
        raise VendorRefused(text, exc.code, code, vendor_message, attempts=attempt + 1) from None
    headers: Any = exc.headers or {}
    return last, code, parse_retry_after(headers.get("Retry-After"), headers.get("Date"))


def _retry_delay(
    attempt: int,
    policy: RetryPolicy,
    retry_after: float | None,
    remaining: Callable[[], float],
    what: str,
    last: str,
    secret_values: tuple[str, ...],
) -> float:
    """The wait before the next attempt: full jitter, with Retry-After as a floor. VendorDeadline
    when the next attempt could not start in the time left."""
    delay = full_jitter(attempt, policy)
    if retry_after is not None:  # a floor; the jitter on top keeps throttled clients apart
        delay = max(delay, retry_after + _RANDOM.uniform(0.0, policy.base_s))
    if remaining() - delay < policy.min_attempt_s:
        text = f"no time left to retry {what}: the next attempt would start in {delay:.1f} s (last: {last})"
        raise VendorDeadline(scrub(text, secret_values), attempt + 1)
    return delay


def _with_retries(
    send: Callable[[float], Any],
    *,
    what: str,
    policy: RetryPolicy,
    remaining: Callable[[], float],
    sleep: Callable[[float], object],
    idempotent: bool,
    expect: Iterable[int] | None,
    secret_values: Iterable[str] = (),
    on_retry: Callable[[int, str, float], object] | None = None,
) -> tuple[Any, int]:
    """Runs `send(socket_timeout)` until it returns an expected answer; returns (response, attempts)."""
    secret_values = tuple(secret_values)
    expected = None if expect is None else frozenset(expect)
    last, status, code = "no attempt made", None, ""
    for attempt in range(policy.attempts):
        left = remaining()
        if left < policy.min_attempt_s:
            raise VendorDeadline(scrub(f"no time left for {what} (last: {last})", secret_values), attempt)
        retry_after = None
        try:
            response = send(max(0.1, min(policy.timeout_s, left)))
        except urllib.error.HTTPError as exc:
            last, code, retry_after = _retryable_answer(exc, what, idempotent, attempt, secret_values)
            status = exc.code
        except urllib.error.URLError as exc:  # connect or send failed: nothing was processed
            last, status, code = _network_reason(exc), None, ""
        except (OSError, http.client.HTTPException) as exc:  # the answer was lost: maybe processed
            last, status, code = _network_reason(exc), None, ""
            if not idempotent:
                text = scrub(
                    f"{what} did not answer ({last}); not retried: the request is not idempotent",
                    secret_values,
                )
                raise VendorUnavailable(text, attempt + 1) from None
        else:
            answered = response.status
            if (200 <= answered < 300) if expected is None else answered in expected:
                return response, attempt + 1
            response.close()
            last, status, code = f"unexpected HTTP {answered}", answered, ""
            if not idempotent:
                raise VendorRefused(
                    scrub(f"{what} answered {last}", secret_values), answered, attempts=attempt + 1
                )
        if attempt + 1 == policy.attempts:
            break
        delay = _retry_delay(attempt, policy, retry_after, remaining, what, last, secret_values)
        if on_retry is not None:
            on_retry(attempt + 1, scrub(last, secret_values), delay)
        sleep(delay)
    kind = "kept failing" if status is not None else "is unreachable"
    text = scrub(f"{what} {kind} ({policy.attempts} attempts, last: {last})", secret_values)
    raise VendorUnavailable(text, policy.attempts, status, code)


class VendorClient:
    """Signed JSON calls to the vendor's license API at `base_url` (stage included)."""

    def __init__(
        self,
        base_url: str,
        access_key: str,
        secret_key: str,
        *,
        policy: RetryPolicy | None = None,
        sleep: Callable[[float], object] = time.sleep,
        allow_http_loopback: bool = False,
    ) -> None:
        self.base_url = checked_url(base_url, "the vendor API URL", allow_http_loopback=allow_http_loopback)
        self.base_url = self.base_url.rstrip("/")
        self.endpoint = endpoint_of(self.base_url)
        self.policy = policy or RetryPolicy()
        self._access_key = access_key
        self._secret_key = secret_key
        self._sleep = sleep

    def __repr__(self) -> str:
        return f"VendorClient({self.endpoint!r})"

    def call(
        self,
        method: str,
        path: str,
        *,
        remaining: Callable[[], float],
        body: bytes = b"",
        query: Iterable[tuple[str, str]] = (),
        idempotent: bool | None = None,
        expect: Iterable[int] | None = None,
        policy: RetryPolicy | None = None,
        on_retry: Callable[[int, str, float], object] | None = None,
    ) -> VendorResponse:
        """One signed request, retried as the module's rules say; raises a VendorError subclass.
        `on_retry(attempts so far, what failed, seconds until the next)` is called before each wait."""
        method = method.upper()
        query = tuple(query)
        query_string = canonical_query(query)
        url = self.base_url + path + (f"?{query_string}" if query_string else "")
        nonces: list[str] = []

        def send(timeout: float) -> object:
            headers = sign_request(self._access_key, self._secret_key, method, path, query, body)
            nonces.append(headers.get("X-Vs-Nonce", ""))
            if body:
                headers["Content-Type"] = "application/json"
            # S310: the scheme was checked by checked_url (https, or http to loopback when allowed).
            request = urllib.request.Request(url, data=body or None, method=method, headers=headers)  # noqa: S310
            return _OPENER.open(request, timeout=timeout)

        response, attempts = _with_retries(
            send,
            what=f"the vendor API at {self.endpoint}",
            policy=policy or self.policy,
            remaining=remaining,
            sleep=self._sleep,
            idempotent=method in IDEMPOTENT_METHODS if idempotent is None else idempotent,
            expect=expect,
            secret_values=(self._secret_key,),
            on_retry=on_retry,
        )
        with response:
            payload = read_json(response)
            headers = dict(response.headers.items())
        return VendorResponse(response.status, payload, headers, nonces[-1], attempts)


def open_url(
    url: str,
    *,
    what: str,
    remaining: Callable[[], float],
    policy: RetryPolicy | None = None,
    sleep: Callable[[float], object] = time.sleep,
    allow_http_loopback: bool = False,
    method: str = "GET",
    data: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> object:
    """An unsigned request (a presigned download, CloudFormation's ResponseURL) under the same
    rules; returns the open response (the caller reads and closes it). `what` names it in errors,
    with its host, never its query string."""
    url = checked_url(url, what, allow_http_loopback=allow_http_loopback)
    method = method.upper()

    def send(timeout: float) -> object:
        # S310: the scheme was checked by checked_url.
        request = urllib.request.Request(url, data=data, method=method, headers=headers or {})  # noqa: S310
        return _OPENER.open(request, timeout=timeout)

    response, _ = _with_retries(
        send,
        what=f"{what} at {endpoint_of(url)}",
        policy=policy or RetryPolicy(),
        remaining=remaining,
        sleep=sleep,
        idempotent=method in IDEMPOTENT_METHODS,
        expect=None,
    )
    return response
