"""Hourly usage reporter: drains the customer's usage queue and reports it to the vendor, signed.

Lambda handler `reporter.handler`, run by an EventBridge schedule (rate 1 hour). Standard library
+ boto3 only: the artifact is this file plus `signing.py` (a copy of runtime/shared/signing.py).

One run:
1. Receive (10 a call) until the queue is empty, MAX_RECEIVE_ROUNDS is reached, or the time guard
   stops it: less than RECEIVE_RESERVE_S plus the estimated clean-up time (deletes, checkpoints)
   would remain. Each receive hides its messages for the rest of the run + 60 s, so they cannot
   reappear while this run still owns them, and are back soon after a crash.
2. Aggregate per dimension and UTC hour. Event messages are deduplicated by event_id (a sender
   retry may enqueue one event twice). Each aggregate gets a deterministic record id:
       "u1-" + sha256(json [dimension, hour, sorted event_ids])[:32 hex]
   so a new set of events (messages of the same hour that arrive in a later run) never collides
   with an earlier aggregate, and the same set always gives the same id.
3. Give up what the vendor can no longer accept: a record whose hour started USAGE_WINDOW_HOURS
   or more ago (the vendor's acceptance window, set by the template from cdk.json
   metering.usage_window_hours) is not sent; it goes to the dead-letter queue (below).
4. POST {VENDOR_API_URL}/v1/usage, oldest hours first, in batches of <= 500 records and <= 64 KiB
   of body (500 records with long dimension names would exceed the limit), signed per attempt.
   Network errors, 5xx and 429 (a flood, a throttle) are retried with jittered exponential
   backoff, Retry-After honoured, for as long as the run's time allows (MAX_ATTEMPTS is only a
   safety cap); what is still unsent then is checkpointed and the next runs go on trying until
   the window closes. A reply that does not follow §4.2 ends the sending for this run. Another
   4xx is logged; after 401/402/403 no further batch is tried either.
5. Settle. Acknowledged records (accepted or duplicate) have their messages deleted. Records the
   vendor rejected (too old, unknown dimension, hour full, ...: a retry cannot change the answer;
   each is logged at ERROR as usage_record_rejected), records past the window (logged at ERROR as
   usage_record_expired) and messages that are not usage go to the dead-letter queue
   (DEAD_LETTER_QUEUE_URL: records in the checkpoint format, so a redrive to the source queue
   replays them; the reason in message attributes), whose depth alarm tells the customer; only
   then are their messages deleted, so nothing is dropped silently. A record that was not acknowledged is
   *checkpointed*: its record (with its id) is enqueued as one message, and only then are the event
   messages it covers deleted. The next run re-sends that exact id, so a run whose request reached
   the vendor but whose reply was lost costs a duplicate, never a second charge, even when the next
   run receives a different set of event messages (SQS gives no such guarantee). It also compacts
   the backlog during a vendor outage: thousands of events become one message per (dimension,
   hour, run). Checkpoint messages that stay unacknowledged are simply left on the queue; each run
   receives them once, so the queue's maxReceiveCount moves them to the DLQ after that many runs.
   Messages that are not valid usage (not JSON, bad fields) are left alone and reach the DLQ the
   same way. Whatever this run could not settle is released at the end (visibility 0): the run's
   claim ends with the run, so a re-run after the vendor is back sees those messages at once.

Overlapping runs (an EventBridge event delivered twice, an async retry, a manual invoke: the
function has no reserved concurrency, see constructs/usage_reporting.py) are safe: a run owns
every message it received for its whole remaining time + 60 s (the receive's visibility timeout),
so two runs never aggregate the same message; each aggregate's id is deterministic and idempotent
at the vendor, and a checkpoint that a concurrent run picks up is re-sent under its own id (a
duplicate at worst). Two runs may each send part of one hour: two records that add up.

Residual risks (stated, not hidden): if the run dies between the vendor's acknowledgement and the
deletes (or between a checkpoint and its deletes), the event messages reappear and may be
aggregated into a different set, hence a different id. The time guard keeps time for this phase.
One event enqueued twice (a recorder retry after a lost SQS reply, or SQS's at-least-once
delivery) is counted once when both copies reach the same run; copies that reach two different
runs (more likely when runs overlap) are counted twice.

Env: USAGE_QUEUE_URL, DEAD_LETTER_QUEUE_URL, VENDOR_API_URL (the license API base URL, stage
included), SECRET_ARN (SecretString {"access_key", "secret_key"}), USAGE_WINDOW_HOURS (the
vendor's acceptance window); optional MAX_RECEIVE_ROUNDS (default 10000), RECEIVE_WAIT_SECONDS
(long polling, default 1). IAM: sqs:ReceiveMessage, sqs:DeleteMessage, sqs:SendMessage,
sqs:ChangeMessageVisibility on the queue; sqs:SendMessage on the dead-letter queue;
secretsmanager:GetSecretValue on the secret. The secret key and the Authorization header are
never logged.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import logging
import math
import os
import re
import secrets
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import boto3
from botocore.config import Config as BotoConfig

try:
    import signing  # the artifact: runtime/shared/signing.py copied in as signing.py
except ImportError:  # the repository: runtime/ is on sys.path (tests, sandbox)
    from shared import signing

USAGE_PATH = "/v1/usage"
MAX_RECORDS_PER_REQUEST = 500  # docs/protocol.md §4.2
MAX_BODY_BYTES = 64 * 1024  # docs/protocol.md §1: over 64 KiB is 413; 500 long-named records can exceed it
RECORD_ID_PREFIX = "u1-"
RECORD_ID_HEX_CHARS = 32  # 128 bits: collisions are out of reach; short ids keep 500 records < 64 KiB

HTTP_TIMEOUT_S = 10.0  # per socket operation of one vendor request
MAX_ATTEMPTS = 64  # per batch, within one run: a safety cap; the run's time normally ends first
BACKOFF_BASE_S = 1.0
BACKOFF_CAP_S = 20.0
# Retry-After is honoured in full: a wait longer than the run has left ends the run's sending (the
# records are checkpointed and the next run tries again). The cap only bounds nonsense values.
RETRY_AFTER_CAP_S = 24 * 3600.0
MAX_REPLY_BYTES = 1024 * 1024

RECEIVE_RESERVE_S = 60.0  # receiving stops when less than this (+ estimated clean-up) remains
FINAL_RESERVE_S = 15.0  # no vendor call is started unless this is left afterwards for settling
FOLLOWUP_FACTOR = 2.0  # every receive round costs about this many SQS calls' time later
DEFAULT_BUDGET_S = 840.0  # without a Lambda context (local runs)
VISIBILITY_MARGIN_S = 60
MAX_VISIBILITY_S = 12 * 3600
DEFAULT_MAX_RECEIVE_ROUNDS = 10_000
DEFAULT_RECEIVE_WAIT_S = 1
MAX_WINDOW_HOURS = 72
SQS_BATCH = 10

_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
_EVENT_ID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
_RECORD_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")

logger = logging.getLogger("vendstack.usage.reporter")
logger.setLevel(logging.INFO)

_sleep = time.sleep  # tests replace it
_now = lambda: datetime.now(UTC)  # noqa: E731 - tests replace it (the window's clock)
_random = secrets.SystemRandom()


class ReporterError(Exception):
    """Configuration or key problem: the run stops before touching the queue. Never holds a secret."""


class VendorUnavailable(Exception):
    """Network errors, 5xx or 429 after every attempt, or a reply that does not follow §4.2."""


class VendorRefused(Exception):
    def __init__(self, status: int, code: str) -> None:
        super().__init__(f"HTTP {status} {code}")
        self.status, self.code = status, code


class OutOfTime(Exception):
    """Too little Lambda time is left to make (or wait for) another vendor call."""


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A signed request is never replayed to another place: a redirect is an error."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


_OPENER = urllib.request.build_opener(_NoRedirect())


def _log(level: int, message: str, **fields: Any) -> None:
    logger.log(level, json.dumps({"message": message, **fields}, separators=(",", ":"), default=str))


# --- configuration ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Config:
    queue_url: str
    vendor_api_url: str
    secret_arn: str
    dead_letter_queue_url: str
    window_hours: int
    max_receive_rounds: int = DEFAULT_MAX_RECEIVE_ROUNDS
    receive_wait_seconds: int = DEFAULT_RECEIVE_WAIT_S

    @property
    def usage_url(self) -> str:
        return self.vendor_api_url.rstrip("/") + USAGE_PATH


def _checked_vendor_url(url: str) -> str:
    """https only; plain http is accepted for a loopback address (the local sandbox)."""
    parts = urllib.parse.urlsplit(url)
    if not parts.hostname or parts.query or parts.fragment:
        raise ReporterError("VENDOR_API_URL must be a base URL such as https://api.example.com/prod")
    if parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in _LOOPBACK):
        return url
    raise ReporterError("VENDOR_API_URL must be an https URL")


def load_config(env: dict[str, str] | None = None) -> Config:
    env = os.environ if env is None else env
    values = {}
    for name in (
        "USAGE_QUEUE_URL",
        "VENDOR_API_URL",
        "SECRET_ARN",
        "DEAD_LETTER_QUEUE_URL",
        "USAGE_WINDOW_HOURS",
    ):
        value = (env.get(name) or "").strip()
        if not value:
            raise ReporterError(f"{name} is not set")
        values[name] = value
    try:
        rounds = int(env.get("MAX_RECEIVE_ROUNDS") or DEFAULT_MAX_RECEIVE_ROUNDS)
        wait = int(env.get("RECEIVE_WAIT_SECONDS") or DEFAULT_RECEIVE_WAIT_S)
        window = int(values["USAGE_WINDOW_HOURS"])
    except ValueError:
        raise ReporterError(
            "MAX_RECEIVE_ROUNDS, RECEIVE_WAIT_SECONDS and USAGE_WINDOW_HOURS must be integers"
        ) from None
    if not 1 <= window <= MAX_WINDOW_HOURS:
        raise ReporterError(f"USAGE_WINDOW_HOURS must be from 1 to {MAX_WINDOW_HOURS}")
    return Config(
        queue_url=values["USAGE_QUEUE_URL"],
        vendor_api_url=_checked_vendor_url(values["VENDOR_API_URL"]),
        secret_arn=values["SECRET_ARN"],
        dead_letter_queue_url=values["DEAD_LETTER_QUEUE_URL"],
        window_hours=window,
        max_receive_rounds=max(1, rounds),
        receive_wait_seconds=min(20, max(0, wait)),
    )


@dataclass(frozen=True)
class Credentials:
    access_key: str
    secret_key: str = field(repr=False)


def _error_name(exc: BaseException) -> str:
    """The SDK's error code or the exception's class: never str(exc)."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict) and response.get("Error", {}).get("Code"):
        return str(response["Error"]["Code"])
    if isinstance(exc, urllib.error.URLError) and isinstance(exc.reason, BaseException):
        return type(exc.reason).__name__
    return type(exc).__name__


def read_credentials(client: Any, secret_arn: str) -> Credentials:
    try:
        text = client.get_secret_value(SecretId=secret_arn)["SecretString"]
    except Exception as exc:
        raise ReporterError(f"cannot read the key secret ({_error_name(exc)})") from None
    try:
        value = json.loads(text)
        access_key, secret_key = value["access_key"], value["secret_key"]
    except (TypeError, ValueError, KeyError):
        raise ReporterError('the key secret must be JSON {"access_key", "secret_key"}') from None
    if not (isinstance(access_key, str) and access_key and isinstance(secret_key, str) and secret_key):
        raise ReporterError('the key secret must be JSON {"access_key", "secret_key"}')
    return Credentials(access_key, secret_key)


class Budget:
    """Time left in this invocation: the Lambda context's, or DEFAULT_BUDGET_S without one."""

    def __init__(self, context: Any = None) -> None:
        getter = getattr(context, "get_remaining_time_in_millis", None)
        self._getter = getter if callable(getter) else None
        self._deadline = time.monotonic() + DEFAULT_BUDGET_S

    def remaining(self) -> float:
        if self._getter is not None:
            return self._getter() / 1000.0
        return self._deadline - time.monotonic()


# --- records ------------------------------------------------------------------------------------


def parse_time(value: Any) -> datetime:
    if not isinstance(value, str) or not value.endswith("Z"):
        raise ValueError("timestamp must be RFC 3339 UTC with a Z suffix")
    parsed = datetime.fromisoformat(value[:-1] + "+00:00")
    return parsed.astimezone(UTC)


def hour_of(value: Any) -> str:
    """The UTC hour a timestamp falls in, as the vendor wants it: 2026-11-22T13:00:00Z."""
    return parse_time(value).strftime("%Y-%m-%dT%H:00:00Z")


def record_id(dimension: str, hour: str, event_ids: Any) -> str:
    """Deterministic in the set of events an aggregate covers (order and duplicates do not matter);
    a different set, such as late events of the same hour, gives a different id."""
    canonical = json.dumps([dimension, hour, sorted(set(event_ids))], separators=(",", ":"))
    return RECORD_ID_PREFIX + hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:RECORD_ID_HEX_CHARS]


def _quantity_ok(value: Any) -> bool:
    return type(value) is int and value >= 0


def parse_message(body: str) -> tuple[str, dict]:
    """("event", event) or ("checkpoint", record); ValueError when the message is not usage."""
    try:
        data = json.loads(body)
    except (TypeError, ValueError):
        raise ValueError("not JSON") from None
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    if "record" in data:
        record = data["record"]
        if not isinstance(record, dict):
            raise ValueError("record is not an object")
        rid, dimension = record.get("id"), record.get("dimension")
        if not (isinstance(rid, str) and _RECORD_ID.match(rid)):
            raise ValueError("bad record id")
        if not (isinstance(dimension, str) and dimension) or not _quantity_ok(record.get("quantity")):
            raise ValueError("bad record dimension or quantity")
        hour = hour_of(record.get("timestamp"))
        return "checkpoint", {
            "id": rid,
            "dimension": dimension,
            "quantity": record["quantity"],
            "timestamp": hour,
        }
    dimension, event_id = data.get("dimension"), data.get("event_id")
    if not (isinstance(dimension, str) and dimension) or not _quantity_ok(data.get("quantity")):
        raise ValueError("bad event dimension or quantity")
    if not (isinstance(event_id, str) and _EVENT_ID.match(event_id)):
        raise ValueError("bad event_id")
    hour = hour_of(data.get("timestamp"))
    return "event", {"dimension": dimension, "quantity": data["quantity"], "hour": hour, "event_id": event_id}


@dataclass
class Pending:
    """One record for the vendor and the messages whose fate depends on its answer."""

    record: dict
    raw_receipts: list[str] = field(default_factory=list)  # event messages it aggregates
    checkpoint_receipts: list[str] = field(default_factory=list)  # checkpoint messages carrying it
    events: int = 0
    outcome: str = "unsent"  # unsent | acknowledged | rejected | expired | empty
    reason: dict = field(default_factory=dict)  # why it was given up: {"code", "message"}


def build_records(messages: list[dict], summary: dict, unusable: list[dict] | None = None) -> list[Pending]:
    """Aggregates received messages into records, keyed by record id; messages that are not usage
    go to `unusable`."""
    pending: dict[str, Pending] = {}
    groups: dict[tuple[str, str], dict[str, int]] = {}
    group_receipts: dict[tuple[str, str], list[str]] = {}
    for message in messages:
        try:
            kind, item = parse_message(message.get("Body", ""))
        except ValueError as exc:
            summary["malformed"] += 1
            if unusable is not None:
                unusable.append(message)
            _log(
                logging.ERROR, "usage_message_malformed", message_id=message.get("MessageId"), reason=str(exc)
            )
            continue
        receipt = message["ReceiptHandle"]
        if kind == "checkpoint":
            summary["checkpoints_read"] += 1
            entry = pending.setdefault(item["id"], Pending(record=item))
            entry.checkpoint_receipts.append(receipt)
            continue
        key = (item["dimension"], item["hour"])
        group = groups.setdefault(key, {})
        group.setdefault(item["event_id"], item["quantity"])  # a duplicate delivery counts once
        group_receipts.setdefault(key, []).append(receipt)
    for (dimension, hour), group in sorted(groups.items()):
        summary["events"] += len(group)
        rid = record_id(dimension, hour, group)
        entry = pending.get(rid)
        if entry is None:  # usually; the same set as a checkpoint means the checkpoint's deletes failed
            record = {"id": rid, "dimension": dimension, "quantity": sum(group.values()), "timestamp": hour}
            entry = pending[rid] = Pending(record=record)
        entry.raw_receipts.extend(group_receipts[(dimension, hour)])
        entry.events += len(group)
    for entry in pending.values():
        if entry.record["quantity"] == 0:
            entry.outcome = "empty"  # nothing to charge: the messages just go
    return list(pending.values())


def expire(records: list[Pending], window_hours: int, now: datetime, summary: dict) -> None:
    """Gives up records the vendor would refuse as too old: their hour started `window_hours` or
    more ago (docs/protocol.md §4.2). They go to the dead-letter queue when the run settles."""
    window = timedelta(hours=window_hours)
    for entry in records:
        if entry.outcome != "unsent" or parse_time(entry.record["timestamp"]) + window > now:
            continue
        entry.outcome = "expired"
        entry.reason = {"code": "WindowClosed", "message": f"older than the vendor's {window_hours} h window"}
        summary["expired"] += 1
        _log(
            logging.ERROR,
            "usage_record_expired",
            **entry.record,
            events=entry.events,
            window_hours=window_hours,
        )


def _encoded(record: dict) -> bytes:
    return json.dumps(record, separators=(",", ":")).encode("utf-8")


def batches(records: list[Pending]) -> list[list[Pending]]:
    """Greedy split into requests of <= 500 records and <= MAX_BODY_BYTES of body."""
    empty = len(b'{"records":[]}')
    out: list[list[Pending]] = []
    current: list[Pending] = []
    size = empty
    for entry in records:
        length = len(_encoded(entry.record))
        if current and (len(current) == MAX_RECORDS_PER_REQUEST or size + 1 + length > MAX_BODY_BYTES):
            out.append(current)
            current, size = [], empty
        size += length + (1 if current else 0)
        current.append(entry)
    if current:
        out.append(current)
    return out


def request_body(batch: list[Pending]) -> bytes:
    return b'{"records":[' + b",".join(_encoded(entry.record) for entry in batch) + b"]}"


# --- the vendor ---------------------------------------------------------------------------------


def _read_json(response: Any) -> dict:
    try:
        data = response.read(MAX_REPLY_BYTES + 1)
        value = json.loads(data) if len(data) <= MAX_REPLY_BYTES else None
    except (ValueError, OSError, http.client.HTTPException):
        value = None
    return value if isinstance(value, dict) else {}


def _error_code(payload: dict) -> str:
    error = payload.get("error")
    code = error.get("code") if isinstance(error, dict) else None
    return code if isinstance(code, str) and len(code) <= 64 else "Unknown"


def retry_after_seconds(value: str | None) -> float | None:
    """Retry-After as delta seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        seconds = float(value)
    else:
        try:
            seconds = (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds()
        except (TypeError, ValueError):
            return None
    return min(RETRY_AFTER_CAP_S, max(0.0, seconds))


def backoff_seconds(attempt: int) -> float:
    """Exponential with equal jitter: half fixed, half random, so retries do not march in step."""
    ceiling = min(BACKOFF_CAP_S, BACKOFF_BASE_S * (2**attempt))
    return ceiling / 2 + _random.uniform(0, ceiling / 2)


def post_usage(config: Config, creds: Credentials, body: bytes, budget: Budget, summary: dict) -> dict:
    """The vendor's 200 reply; raises VendorUnavailable, VendorRefused (other 4xx) or OutOfTime."""
    last = "no attempt"
    for attempt in range(MAX_ATTEMPTS):  # the time guard below normally ends a flood first
        if budget.remaining() < HTTP_TIMEOUT_S + FINAL_RESERVE_S:
            raise OutOfTime(last)
        headers = signing.sign_request(creds.access_key, creds.secret_key, "POST", USAGE_PATH, (), body)
        headers["Content-Type"] = "application/json"
        # S310: the scheme was checked by _checked_vendor_url (https, or http to loopback only).
        request = urllib.request.Request(config.usage_url, data=body, method="POST", headers=headers)  # noqa: S310
        summary["vendor_requests"] += 1
        delay = None
        try:
            with _OPENER.open(request, timeout=HTTP_TIMEOUT_S) as response:
                status, payload = response.status, _read_json(response)
            if status == 200:
                return payload
            last = f"HTTP {status}"  # another 2xx is not what §4.2 promises: retry, idempotent
        except urllib.error.HTTPError as exc:
            with exc:
                code = _error_code(_read_json(exc))
            if exc.code != 429 and exc.code < 500:
                raise VendorRefused(exc.code, code) from None
            last = f"HTTP {exc.code} {code}"
            delay = retry_after_seconds(exc.headers.get("Retry-After") if exc.headers else None)
        except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
            last = _error_name(exc)
        if attempt + 1 == MAX_ATTEMPTS:
            break
        # Retry-After is a floor (the vendor asked for it); jitter on top keeps reporters that
        # were throttled together from coming back in step.
        delay = backoff_seconds(attempt) if delay is None else delay + _random.uniform(0, 1)
        if budget.remaining() - delay < HTTP_TIMEOUT_S + FINAL_RESERVE_S:
            raise OutOfTime(last)
        _log(logging.WARNING, "usage_vendor_retry", attempt=attempt + 1, error=last, delay_s=round(delay, 2))
        _sleep(delay)
    raise VendorUnavailable(last)


def apply_reply(batch: list[Pending], payload: dict, summary: dict) -> None:
    """Marks each record acknowledged or rejected; VendorUnavailable when the reply does not add up
    (then nothing is deleted and the same ids are sent again: harmless, they are idempotent)."""
    accepted, duplicates, rejected = (
        payload.get("accepted"),
        payload.get("duplicates"),
        payload.get("rejected"),
    )
    by_id = {entry.record["id"]: entry for entry in batch}
    if not (_quantity_ok(accepted) and _quantity_ok(duplicates) and isinstance(rejected, list)):
        raise VendorUnavailable("reply is not {accepted, duplicates, rejected}")
    reasons = {}
    for item in rejected:
        if not isinstance(item, dict) or item.get("id") not in by_id:
            raise VendorUnavailable("reply rejects a record that was not sent")
        reasons[item["id"]] = item
    if accepted + duplicates + len(reasons) != len(batch):
        raise VendorUnavailable("reply counts do not add up to the records sent")
    for rid, entry in by_id.items():
        if rid in reasons:
            entry.outcome = "rejected"
            reason = reasons[rid]
            message = reason.get("message")
            entry.reason = {
                "code": str(reason.get("code"))[:64],
                "message": message[:200] if isinstance(message, str) else "",
            }
            _log(
                logging.ERROR,
                "usage_record_rejected",
                **entry.record,
                events=entry.events,
                code=str(reason.get("code"))[:64],
                reason=message[:200] if isinstance(message, str) else None,
            )
        else:
            entry.outcome = "acknowledged"
    summary["records_sent"] += len(batch)
    summary["accepted"] += accepted
    summary["duplicates"] += duplicates
    summary["rejected"] += len(reasons)


def send_all(
    config: Config, creds: Credentials, records: list[Pending], budget: Budget, summary: dict
) -> None:
    # Oldest hours first: in a flood, what is closest to the end of its window goes out first.
    to_send = sorted(
        (entry for entry in records if entry.outcome == "unsent"),
        key=lambda entry: (entry.record["timestamp"], entry.record["id"]),
    )
    if not to_send:
        return
    summary["vendor"] = "ok"
    for batch in batches(to_send):
        body = request_body(batch)
        try:
            apply_reply(batch, post_usage(config, creds, body, budget, summary), summary)
        except VendorUnavailable as exc:
            summary["vendor"] = "unavailable"
            _log(logging.ERROR, "usage_vendor_unavailable", error=str(exc), records=len(batch))
            return
        except OutOfTime as exc:
            summary["vendor"] = "time_guard"
            _log(logging.ERROR, "usage_vendor_out_of_time", last_error=str(exc), records=len(batch))
            return
        except VendorRefused as exc:
            summary["vendor"] = f"refused:{exc.code}"
            _log(logging.ERROR, "usage_vendor_refused", status=exc.status, code=exc.code, records=len(batch))
            if exc.status in (401, 402, 403):  # the key or the subscription: every batch would fail
                return


# --- the queue ----------------------------------------------------------------------------------


def _sqs_client(config: Config) -> Any:
    return boto3.client(
        "sqs",
        config=BotoConfig(
            connect_timeout=3,
            read_timeout=config.receive_wait_seconds + 10,
            retries={"max_attempts": 3, "mode": "standard"},
        ),
    )


def drain(sqs: Any, config: Config, budget: Budget, summary: dict) -> list[dict]:
    messages: list[dict] = []
    spent = 0.0  # time spent in receive calls: the estimate of the clean-up still to come
    rounds = 0
    while True:
        if rounds >= config.max_receive_rounds:
            summary["receive_stop"] = "max_rounds"
            break
        remaining = budget.remaining()
        if remaining < RECEIVE_RESERVE_S + spent * FOLLOWUP_FACTOR:
            summary["receive_stop"] = "time_guard"
            break
        visibility = min(MAX_VISIBILITY_S, math.ceil(remaining) + VISIBILITY_MARGIN_S)
        started = time.monotonic()
        try:
            reply = sqs.receive_message(
                QueueUrl=config.queue_url,
                MaxNumberOfMessages=SQS_BATCH,
                WaitTimeSeconds=config.receive_wait_seconds,
                VisibilityTimeout=visibility,
            )
        except Exception as exc:
            summary["receive_stop"] = "receive_error"
            _log(logging.ERROR, "usage_receive_failed", error=_error_name(exc), received=len(messages))
            break
        spent += time.monotonic() - started
        rounds += 1
        received = reply.get("Messages") or []
        if not received:
            summary["receive_stop"] = "drained"
            break
        messages.extend(received)
    summary["receive_rounds"] = rounds
    summary["messages_read"] = len(messages)
    return messages


def _chunks(items: list, size: int = SQS_BATCH) -> list[list]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def delete_messages(sqs: Any, queue_url: str, receipts: list[str], summary: dict) -> None:
    failed = 0
    for chunk in _chunks(receipts):
        entries = [{"Id": f"d{i}", "ReceiptHandle": receipt} for i, receipt in enumerate(chunk)]
        try:
            reply = sqs.delete_message_batch(QueueUrl=queue_url, Entries=entries)
            failed += len(reply.get("Failed") or [])
            summary["messages_deleted"] += len(reply.get("Successful") or [])
        except Exception as exc:
            failed += len(chunk)
            _log(logging.ERROR, "usage_delete_failed", error=_error_name(exc), messages=len(chunk))
    if failed:
        _log(logging.ERROR, "usage_delete_incomplete", messages=failed)


def checkpoint(sqs: Any, queue_url: str, records: list[Pending], summary: dict) -> list[str]:
    """Enqueues each unacknowledged record as one message; returns the receipts of the event
    messages now represented by a checkpoint (safe to delete)."""
    covered: list[str] = []
    for chunk in _chunks(records):
        entries = [
            {
                "Id": f"c{i}",
                "MessageBody": json.dumps({"record": e.record, "events": e.events}, separators=(",", ":")),
            }
            for i, e in enumerate(chunk)
        ]
        try:
            reply = sqs.send_message_batch(QueueUrl=queue_url, Entries=entries)
        except Exception as exc:
            _log(logging.ERROR, "usage_checkpoint_failed", error=_error_name(exc), records=len(chunk))
            continue
        for ok in reply.get("Successful") or []:
            entry = chunk[int(ok["Id"][1:])]
            covered.extend(entry.raw_receipts)
            summary["checkpointed"] += 1
        if reply.get("Failed"):
            _log(logging.ERROR, "usage_checkpoint_failed", error="Failed", records=len(reply["Failed"]))
    return covered


def release(sqs: Any, queue_url: str, receipts: list[str], summary: dict) -> None:
    """Lets go of messages this run could not settle (visibility 0): the run's claim ends with the
    run, so a re-run (after the vendor is back, say) sees them at once. Best effort: if it fails,
    they come back when the receive's visibility timeout ends anyway."""
    for chunk in _chunks(receipts):
        entries = [{"Id": f"v{i}", "ReceiptHandle": r, "VisibilityTimeout": 0} for i, r in enumerate(chunk)]
        try:
            reply = sqs.change_message_visibility_batch(QueueUrl=queue_url, Entries=entries)
            summary["messages_released"] += len(reply.get("Successful") or [])
        except Exception as exc:
            _log(logging.WARNING, "usage_release_failed", error=_error_name(exc), messages=len(chunk))


def dead_letter(
    sqs: Any, config: Config, records: list[Pending], unusable: list[dict], summary: dict
) -> list[str]:
    """Puts what is given up on the dead-letter queue (whose alarm tells the customer): records in
    the checkpoint format (a redrive to the source queue replays them), messages that are not
    usage unchanged; the reason in message attributes. Returns the receipts now safe to delete;
    what could not be sent stays on the queue for the next run."""
    items: list[tuple[dict, list[str]]] = []
    for entry in records:
        body = json.dumps({"record": entry.record, "events": entry.events}, separators=(",", ":"))
        reason = entry.reason or {"code": entry.outcome}
        attributes = {
            "vendstack-reason": {"DataType": "String", "StringValue": entry.outcome},
            "vendstack-code": {"DataType": "String", "StringValue": str(reason.get("code") or entry.outcome)},
        }
        items.append(
            (
                {"MessageBody": body, "MessageAttributes": attributes},
                entry.raw_receipts + entry.checkpoint_receipts,
            )
        )
    for message in unusable:
        attributes = {"vendstack-reason": {"DataType": "String", "StringValue": "malformed"}}
        items.append(
            (
                {"MessageBody": message.get("Body") or "-", "MessageAttributes": attributes},
                [message["ReceiptHandle"]],
            )
        )
    covered: list[str] = []
    for chunk in _chunks(items):
        entries = [{"Id": f"x{i}", **item} for i, (item, _) in enumerate(chunk)]
        try:
            reply = sqs.send_message_batch(QueueUrl=config.dead_letter_queue_url, Entries=entries)
        except Exception as exc:
            _log(logging.ERROR, "usage_dead_letter_failed", error=_error_name(exc), messages=len(chunk))
            continue
        for ok in reply.get("Successful") or []:
            covered.extend(chunk[int(ok["Id"][1:])][1])
            summary["dead_lettered"] += 1
        if reply.get("Failed"):
            _log(logging.ERROR, "usage_dead_letter_failed", error="Failed", messages=len(reply["Failed"]))
    return covered


def settle(sqs: Any, config: Config, records: list[Pending], summary: dict, unusable: list[dict]) -> None:
    done: list[str] = []
    kept: list[str] = []
    to_checkpoint: list[Pending] = []
    given_up = [entry for entry in records if entry.outcome in ("rejected", "expired")]
    if given_up or unusable:
        covered = set(dead_letter(sqs, config, given_up, unusable, summary))
        done.extend(covered)
        everything = [r for e in given_up for r in e.raw_receipts + e.checkpoint_receipts]
        everything += [m["ReceiptHandle"] for m in unusable]
        kept.extend(r for r in everything if r not in covered)
    for entry in records:
        if entry.outcome in ("rejected", "expired"):
            continue
        if entry.outcome in ("acknowledged", "empty"):
            done.extend(entry.raw_receipts + entry.checkpoint_receipts)
            continue
        summary["left_for_retry"] += 1
        if entry.checkpoint_receipts:  # already carried by a checkpoint message, which stays
            done.extend(entry.raw_receipts)
            kept.extend(entry.checkpoint_receipts)
        elif entry.raw_receipts:
            to_checkpoint.append(entry)
    covered = set(checkpoint(sqs, config.queue_url, to_checkpoint, summary))
    done.extend(covered)
    kept.extend(r for entry in to_checkpoint for r in entry.raw_receipts if r not in covered)
    delete_messages(sqs, config.queue_url, done, summary)
    release(sqs, config.queue_url, kept, summary)


# --- the handler --------------------------------------------------------------------------------


def new_summary() -> dict:
    keys = (
        "messages_read checkpoints_read events malformed records records_sent accepted duplicates rejected "
        "left_for_retry checkpointed messages_deleted messages_released vendor_requests receive_rounds "
        "expired dead_lettered"
    )
    summary: dict[str, Any] = dict.fromkeys(keys.split(), 0)
    summary.update(receive_stop="not_started", vendor="not_called")
    return summary


def run(config: Config, *, context: Any = None, sqs: Any = None, secretsmanager: Any = None) -> dict:
    budget = Budget(context)
    summary = new_summary()
    secretsmanager = secretsmanager or boto3.client(
        "secretsmanager",
        config=BotoConfig(
            connect_timeout=3, read_timeout=10, retries={"max_attempts": 3, "mode": "standard"}
        ),
    )
    creds = read_credentials(secretsmanager, config.secret_arn)
    sqs = sqs or _sqs_client(config)
    messages = drain(sqs, config, budget, summary)
    unusable: list[dict] = []
    records = build_records(messages, summary, unusable)
    summary["records"] = sum(1 for entry in records if entry.outcome != "empty")
    expire(records, config.window_hours, _now(), summary)
    send_all(config, creds, records, budget, summary)
    settle(sqs, config, records, summary, unusable)
    level = (
        logging.ERROR
        if summary["left_for_retry"] or summary["expired"] or summary["rejected"]
        else logging.INFO
    )
    _log(level, "usage_report", **summary)
    return summary


def handler(event: Any, context: Any = None) -> dict:
    try:
        config = load_config()
        return run(config, context=context)
    except ReporterError as exc:
        _log(logging.ERROR, "usage_report_failed", reason=str(exc))
        raise
