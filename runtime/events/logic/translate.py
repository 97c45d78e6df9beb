"""From a DynamoDB stream record (old and new image of one item) to lifecycle events.

Why a stream translator and not a publish in each feature: the stream carries exactly the writes
that committed, once each in order per item (AWS docs: "Change data capture for DynamoDB
Streams": each stream record appears exactly once in the stream, in the order of the item's
changes), so an event can neither be published for a write that was then rolled back nor be lost
between a commit and a publish, and no feature's code changes to emit one. Delivery to the bus is
at least once (a failed batch is retried), so every event carries a deterministic `event_id`,
a hash of what it states, and a consumer deduplicates on it.

Pure: no AWS calls. Each `detail-type` and its `detail` is documented in docs/protocol.md §8.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from shared.ddb_items import TypeDeserializer

SOURCE = "vendstack.platform"
VERSION = "1"
FLAGGED = ("duplicate", "not-subscribed", "expired", "failed")
_deserializer = TypeDeserializer()


@dataclass(frozen=True)
class LifecycleEvent:
    detail_type: str
    detail: dict[str, Any]

    @property
    def event_id(self) -> str:
        return self.detail["event_id"]


def _image(record: dict, name: str) -> dict[str, Any]:
    raw = (record.get("dynamodb") or {}).get(name) or {}
    return {k: _deserializer.deserialize(v) for k, v in raw.items()}


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | set | tuple):
        return [_plain(v) for v in value]
    if hasattr(value, "to_integral_value"):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def _event(kind: str, identity: str, occurred_at: Any, team_id: Any, **fields: Any) -> LifecycleEvent:
    digest = hashlib.sha256(f"{VERSION}|{kind}|{identity}".encode()).hexdigest()
    detail = {
        "event_id": f"{kind}:{digest[:32]}",
        "schema_version": VERSION,
        "type": kind,
        "occurred_at": occurred_at,
        "team_id": team_id,
        **{k: _plain(v) for k, v in fields.items() if v is not None},
    }
    return LifecycleEvent(detail_type=kind, detail=detail)


def _keys(old: dict, new: dict) -> list[LifecycleEvent]:
    if new.get("type") != "key" and not str(new.get("pk", "")).startswith("KEY#"):
        return []
    access_key = new.get("access_key")
    found = []
    if not old and new:
        found.append(
            _event(
                "key.created",
                str(access_key),
                new.get("created_at"),
                new.get("owner"),
                access_key=access_key,
                expires_at=new.get("expires_at"),
            )
        )
    if new.get("status") == "revoked" and old.get("status") != "revoked":
        found.append(
            _event(
                "key.revoked",
                f"{access_key}|{new.get('revoked_at')}",
                new.get("revoked_at"),
                new.get("owner"),
                access_key=access_key,
            )
        )
    return found


def _subscription(old: dict, new: dict) -> list[LifecycleEvent]:
    team = new.get("customer_id")
    found = []
    common = {"aws_account_id": new.get("aws_account_id"), "product_code": new.get("product_code")}
    if not old or old.get("linked_at") != new.get("linked_at"):
        found.append(
            _event(
                "subscription.subscribed",
                f"{team}|{new.get('linked_at')}",
                new.get("linked_at"),
                team,
                status=new.get("status"),
                approval_required=bool(new.get("approval_required", False)),
                **common,
            )
        )
    if new.get("approved_at") and new.get("approved_at") != old.get("approved_at"):
        found.append(
            _event(
                "subscription.approved",
                f"{team}|{new.get('approved_at')}",
                new.get("approved_at"),
                team,
                operator=new.get("approved_by"),
                **common,
            )
        )
    if new.get("status") == "grace" and (
        old.get("status") != "grace" or old.get("grace_until") != new.get("grace_until")
    ):
        found.append(
            _event(
                "subscription.entered_grace",
                f"{team}|{new.get('grace_until')}",
                new.get("updated_at"),
                team,
                grace_until=new.get("grace_until"),
                **common,
            )
        )
    return found


def _standing(old: dict, new: dict) -> list[LifecycleEvent]:
    team = new.get("team_id")
    if new.get("suspended") and not old.get("suspended"):
        return [
            _event(
                "customer.suspended",
                f"{team}|{new.get('version')}",
                new.get("changed_at"),
                team,
                operator=new.get("changed_by"),
            )
        ]
    if old.get("suspended") and not new.get("suspended"):
        return [
            _event(
                "customer.resumed",
                f"{team}|{new.get('version')}",
                new.get("changed_at"),
                team,
                operator=new.get("changed_by"),
            )
        ]
    return []


def _activation(old: dict, new: dict) -> list[LifecycleEvent]:
    if new.get("status") != "active" or new.get("issued_at") == old.get("issued_at"):
        return []
    return [
        _event(
            "stack.activated",
            f"{new.get('activation_id')}|{new.get('issued_at')}",
            new.get("issued_at"),
            new.get("customer_id"),
            activation_id=new.get("activation_id"),
            aws_account_id=new.get("account_id"),
            region=new.get("region"),
            stack_id=new.get("stack_id"),
            version=new.get("version"),
            request_type=new.get("last_request_type"),
        )
    ]


def _usage_hour(old: dict, new: dict) -> list[LifecycleEvent]:
    status, before = new.get("meter_status"), old.get("meter_status")
    if status == before:
        return []
    team, hour, dimension = new.get("customer_id"), new.get("hour"), new.get("dimension")
    fields = {"hour": hour, "dimension": dimension, "quantity": new.get("quantity")}
    if status == "metered":
        return [
            _event(
                "usage.hour_metered",
                f"{team}|{dimension}|{hour}|{new.get('metering_record_id')}",
                new.get("metered_at"),
                team,
                metering_record_id=new.get("metering_record_id"),
                **fields,
            )
        ]
    if status in FLAGGED:
        return [
            _event(
                "usage.metering_failed",
                f"{team}|{dimension}|{hour}|{status}",
                new.get("flagged_at") or new.get("metered_at"),
                team,
                status=status,
                error=new.get("meter_error"),
                **fields,
            )
        ]
    return []


def translate(record: dict) -> list[LifecycleEvent]:
    """The events one stream record states (none for most writes)."""
    if record.get("eventName") not in ("INSERT", "MODIFY"):
        return []
    old, new = _image(record, "OldImage"), _image(record, "NewImage")
    pk, kind = str(new.get("pk", "")), new.get("type")
    if pk.startswith("KEY#"):
        return _keys(old, new)
    if kind == "subscription" and pk.startswith("SUB#"):
        return _subscription(old, new)
    if kind == "standing" and pk.startswith("STANDING#"):
        return _standing(old, new)
    if kind == "activation" and pk.startswith("ACT#"):
        return _activation(old, new)
    if kind == "usage-hour" and pk.startswith("USAGE#"):
        return _usage_hour(old, new)
    return []
