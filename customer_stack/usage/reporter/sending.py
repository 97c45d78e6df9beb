"""Sending records to the vendor: batches within the protocol's limits, each POSTed with the one
customer-side vendor client (signed, retried, bounded by the run's time), and the vendor's
answer applied record by record."""

from __future__ import annotations

import json
import logging
import time

from .common import log
from .config import USAGE_PATH, Budget, Config, Credentials
from .records import Pending, quantity_ok

try:
    from vendor_client import RetryPolicy, VendorClient, VendorDeadline, VendorRefused, VendorUnavailable
except ImportError:  # the repository (the artifact has vendor_client.py at its root)
    from customer_stack.vendor_client import (
        RetryPolicy,
        VendorClient,
        VendorDeadline,
        VendorRefused,
        VendorUnavailable,
    )

MAX_RECORDS_PER_REQUEST = 500  # docs/protocol.md §4.2
MAX_BODY_BYTES = 64 * 1024  # docs/protocol.md §1: over 64 KiB is 413; 500 long-named records can exceed it
HTTP_TIMEOUT_S = 10.0  # per socket operation of one vendor request; no call starts with less left
MAX_ATTEMPTS = 64  # per batch, within one run: a safety cap; the run's time normally ends first
BACKOFF_BASE_S = 1.0
BACKOFF_CAP_S = 20.0
FINAL_RESERVE_S = 15.0  # no vendor call is started unless this is left afterwards for settling
POLICY = RetryPolicy(
    attempts=MAX_ATTEMPTS,
    base_s=BACKOFF_BASE_S,
    cap_s=BACKOFF_CAP_S,
    timeout_s=HTTP_TIMEOUT_S,
    min_attempt_s=HTTP_TIMEOUT_S,
)

_sleep = time.sleep  # tests replace it


class BadReply(Exception):
    """The vendor's 200 does not follow docs/protocol.md §4.2: nothing in the batch is settled."""


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


def post_usage(config: Config, creds: Credentials, body: bytes, budget: Budget, summary: dict) -> dict:
    """The vendor's 200 reply (a JSON object, else {}); raises the client's VendorUnavailable,
    VendorRefused (another 4xx) or VendorDeadline (the time guard: no call is started or waited
    for unless HTTP_TIMEOUT_S + FINAL_RESERVE_S would still be left).

    The request is idempotent (record ids), so the client retries 5xx and lost answers as well as
    429; Retry-After is honoured in full as a floor, and a wait longer than the run has left ends
    the sending for this run (the records are checkpointed for the next)."""

    def retried(attempt: int, error: str, delay: float) -> None:
        log(logging.WARNING, "usage_vendor_retry", attempt=attempt, error=error, delay_s=round(delay, 2))

    client = VendorClient(
        config.vendor_api_url,
        creds.access_key,
        creds.secret_key,
        policy=POLICY,
        sleep=lambda seconds: _sleep(seconds),
        allow_http_loopback=True,  # load_config allows http only to a loopback address
    )
    try:
        answer = client.call(
            "POST",
            USAGE_PATH,
            body=body,
            idempotent=True,
            expect=(200,),  # another 2xx is not what §4.2 promises: retried
            remaining=lambda: budget.remaining() - FINAL_RESERVE_S,
            on_retry=retried,
        )
    except (VendorUnavailable, VendorRefused, VendorDeadline) as exc:
        summary["vendor_requests"] += exc.attempts
        raise
    summary["vendor_requests"] += answer.attempts
    return answer.json if isinstance(answer.json, dict) else {}


def apply_reply(batch: list[Pending], payload: dict, summary: dict) -> None:
    """Marks each record acknowledged or rejected; BadReply when the reply does not add up
    (then nothing is deleted and the same ids are sent again: harmless, they are idempotent)."""
    accepted, duplicates, rejected = (
        payload.get("accepted"),
        payload.get("duplicates"),
        payload.get("rejected"),
    )
    by_id = {entry.record["id"]: entry for entry in batch}
    if not (quantity_ok(accepted) and quantity_ok(duplicates) and isinstance(rejected, list)):
        raise BadReply("reply is not {accepted, duplicates, rejected}")
    reasons = {}
    for item in rejected:
        if not isinstance(item, dict) or item.get("id") not in by_id:
            raise BadReply("reply rejects a record that was not sent")
        reasons[item["id"]] = item
    if accepted + duplicates + len(reasons) != len(batch):
        raise BadReply("reply counts do not add up to the records sent")
    for rid, entry in by_id.items():
        if rid in reasons:
            entry.outcome = "rejected"
            reason = reasons[rid]
            message = reason.get("message")
            entry.reason = {
                "code": str(reason.get("code"))[:64],
                "message": message[:200] if isinstance(message, str) else "",
            }
            log(
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
        except (VendorUnavailable, BadReply) as exc:
            summary["vendor"] = "unavailable"
            log(logging.ERROR, "usage_vendor_unavailable", error=str(exc), records=len(batch))
            return
        except VendorDeadline as exc:
            summary["vendor"] = "time_guard"
            log(logging.ERROR, "usage_vendor_out_of_time", last_error=str(exc), records=len(batch))
            return
        except VendorRefused as exc:
            code = exc.code or "Unknown"
            summary["vendor"] = f"refused:{code}"
            log(logging.ERROR, "usage_vendor_refused", status=exc.status, code=code, records=len(batch))
            if exc.status in (401, 402, 403):  # the key or the subscription: every batch would fail
                return
