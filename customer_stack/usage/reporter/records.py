"""Usage records: messages read from the queue become one record per dimension and UTC hour, with a
deterministic id; records past the vendor's window are given up."""

from __future__ import annotations

import hashlib
import json
import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeGuard

from .common import log

RECORD_ID_PREFIX = "u1-"
RECORD_ID_HEX_CHARS = 32  # 128 bits: collisions are out of reach; short ids keep 500 records < 64 KiB
_EVENT_ID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
_RECORD_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


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


def quantity_ok(value: Any) -> TypeGuard[int]:
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
        if not (isinstance(dimension, str) and dimension) or not quantity_ok(record.get("quantity")):
            raise ValueError("bad record dimension or quantity")
        hour = hour_of(record.get("timestamp"))
        return "checkpoint", {
            "id": rid,
            "dimension": dimension,
            "quantity": record["quantity"],
            "timestamp": hour,
        }
    dimension, event_id = data.get("dimension"), data.get("event_id")
    if not (isinstance(dimension, str) and dimension) or not quantity_ok(data.get("quantity")):
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
            log(
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
        found = pending.get(rid)
        if found is None:  # usually; the same set as a checkpoint means the checkpoint's deletes failed
            record = {"id": rid, "dimension": dimension, "quantity": sum(group.values()), "timestamp": hour}
            found = pending[rid] = Pending(record=record)
        found.raw_receipts.extend(group_receipts[(dimension, hour)])
        found.events += len(group)
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
        log(
            logging.ERROR,
            "usage_record_expired",
            **entry.record,
            events=entry.events,
            window_hours=window_hours,
        )
