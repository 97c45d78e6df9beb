"""The usage queue: drain it under the time guard, then settle every message: delete what is done,
checkpoint what is still owed, dead-letter what is given up, release the rest."""

from __future__ import annotations

import json
import logging
import math
import time
from typing import Any

import boto3
from botocore.config import Config as BotoConfig

from .common import error_name, log
from .config import Budget, Config
from .records import Pending

RECEIVE_RESERVE_S = 60.0  # receiving stops when less than this (+ estimated clean-up) remains
FOLLOWUP_FACTOR = 2.0  # every receive round costs about this many SQS calls' time later
VISIBILITY_MARGIN_S = 60
MAX_VISIBILITY_S = 12 * 3600
SQS_BATCH = 10


def sqs_client(config: Config) -> Any:
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
            log(logging.ERROR, "usage_receive_failed", error=error_name(exc), received=len(messages))
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
            log(logging.ERROR, "usage_delete_failed", error=error_name(exc), messages=len(chunk))
    if failed:
        log(logging.ERROR, "usage_delete_incomplete", messages=failed)


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
            log(logging.ERROR, "usage_checkpoint_failed", error=error_name(exc), records=len(chunk))
            continue
        for ok in reply.get("Successful") or []:
            entry = chunk[int(ok["Id"][1:])]
            covered.extend(entry.raw_receipts)
            summary["checkpointed"] += 1
        if reply.get("Failed"):
            log(logging.ERROR, "usage_checkpoint_failed", error="Failed", records=len(reply["Failed"]))
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
            log(logging.WARNING, "usage_release_failed", error=error_name(exc), messages=len(chunk))


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
            log(logging.ERROR, "usage_dead_letter_failed", error=error_name(exc), messages=len(chunk))
            continue
        for ok in reply.get("Successful") or []:
            covered.extend(chunk[int(ok["Id"][1:])][1])
            summary["dead_lettered"] += 1
        if reply.get("Failed"):
            log(logging.ERROR, "usage_dead_letter_failed", error="Failed", messages=len(reply["Failed"]))
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
