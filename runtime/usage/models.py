"""Usage: typed models, record validation and the item layout that ingestion and metering share.

Items in the platform-data table (`VS_TABLE_DATA`: `pk`/`sk`, TTL `ttl`, GSI `gsi1` =
`gsi1pk`/`gsi1sk`, ALL). Everything this feature writes starts with `USAGE#`; metering
state lives on the hourly aggregate it bills, so one item is one Marketplace record:

- record (idempotency + attribution): pk `USAGE#<customer_id>#REC#<record id>`, sk `REC`;
  type `usage-record`, customer_id, record_id, dimension, quantity, timestamp (as sent),
  hour (the hour it happened), billed_hour (the aggregate it was added to: the same hour, or
  the current one when its own hour was already sent to Marketplace), received_at,
  access_key, activation_id? (the customer's one active activation made with that key),
  attribution (`activation` | `key-only` | `ambiguous`), ttl (retention). Put with
  `attribute_not_exists(pk)`: a second put of the same id is a duplicate.
- hourly aggregate: pk `USAGE#<customer_id>`, sk `HOUR#<hour RFC 3339>#<dimension>`;
  type `usage-hour`, customer_id, dimension, hour, quantity (ADD, never above MAX_QUANTITY:
  the update's condition refuses a total that one Marketplace record could not carry),
  records (ADD), updated_at, ttl; while it is not settled it sits in the metering queue: gsi1pk
  `METERDUE#<shard 0-7 of the customer>`, gsi1sk `<hour>#<customer_id>#<dimension>`.
  Metering adds: meter_status (`awaiting-subscription` | `pending` | `metered` |
  `duplicate` | `not-subscribed` | `expired` | `failed`), sealed_at (from then on
  ingestion never adds to it), meter_record (the exact UsageRecord sent, so a rerun resends
  the identical record), metering_record_id, metered_at, meter_error, flagged_at. Settled
  items leave the queue; flagged ones (`duplicate`, `not-subscribed`, `expired`, `failed`) move to
  gsi1pk `METERFLAG#<status>` (same gsi1sk) for the vendor to look at.
- daily aggregate (what `GET /v1/usage` reads): pk `USAGE#<customer_id>`,
  sk `DAY#<YYYY-MM-DD>#<dimension>`; type `usage-day`, customer_id, dimension, date,
  quantity (ADD), ttl. Counted by the day the usage happened.

A record and its two aggregate increments are written in one TransactWriteItems call, so a
retry can never count a record twice and a crash can never leave one half-counted.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from shared.timestamps import format_timestamp, parse_timestamp

if TYPE_CHECKING:
    from usage.bodies import RawRecord

MAX_RECORDS = 500
MAX_ID_LENGTH = 64
# BatchMeterUsage `Quantity` (shape `UsageQuantity`) is an integer from 0 to 2147483647: the cap of
# one record *and* of one hourly aggregate, which is metered as one record. AWS docs: AWS
# Marketplace API Reference, "UsageRecord"
# (https://docs.aws.amazon.com/marketplace/latest/APIReference/API_marketplace-metering_UsageRecord.html),
# and botocore's `meteringmarketplace` service model (UsageQuantity, max 2147483647).
MAX_QUANTITY = 2_147_483_647
FUTURE_SKEW = timedelta(minutes=5)
DUE_SHARDS = 8

# Metering states of an hourly aggregate.
AWAITING = "awaiting-subscription"
PENDING = "pending"
METERED = "metered"
DUPLICATE = "duplicate"
NOT_SUBSCRIBED = "not-subscribed"
EXPIRED = "expired"
FAILED = "failed"
SETTLED = (METERED,)
# DuplicateRecord: Marketplace already holds a *different* quantity for that customer, dimension
# and hour (AWS docs: "BatchMeterUsage", UsageRecordResult Status), so what it bills is not what
# was recorded: flagged for reconciliation, never counted as metered.
FLAGGED = (DUPLICATE, NOT_SUBSCRIBED, EXPIRED, FAILED)
UNMETERED = "unmetered"  # no meter_status yet (report wording)
STATUSES_IN_ORDER = (UNMETERED, AWAITING, PENDING, METERED, DUPLICATE, NOT_SUBSCRIBED, EXPIRED, FAILED)

# Per-record rejection codes (docs/protocol.md §4.2 `rejected[].code`).
INVALID_ID = "InvalidId"
UNKNOWN_DIMENSION = "UnknownDimension"
INVALID_QUANTITY = "InvalidQuantity"
INVALID_TIMESTAMP = "InvalidTimestamp"
TOO_OLD = "RecordTooOld"
IN_FUTURE = "RecordInFuture"
HOUR_CLOSED = "HourClosed"
HOUR_FULL = "HourlyTotalExceeded"


def customer_pk(customer_id: str) -> str:
    return f"USAGE#{customer_id}"


def record_pk(customer_id: str, record_id: str) -> str:
    return f"USAGE#{customer_id}#REC#{record_id}"


RECORD_SK = "REC"


def hour_sk(hour: str, dimension: str) -> str:
    return f"HOUR#{hour}#{dimension}"


def day_sk(day: str, dimension: str) -> str:
    return f"DAY#{day}#{dimension}"


def due_shard(customer_id: str) -> int:
    return int.from_bytes(hashlib.sha256(customer_id.encode("utf-8")).digest()[:4], "big") % DUE_SHARDS


def due_pk(shard: int) -> str:
    return f"METERDUE#{shard}"


def flag_pk(status: str) -> str:
    return f"METERFLAG#{status}"


def queue_sk(hour: str, customer_id: str, dimension: str) -> str:
    return f"{hour}#{customer_id}#{dimension}"


def hour_floor(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def hour_key(moment: datetime) -> str:
    """The hour a moment falls in, as stored and sent: `2026-11-22T13:00:00Z`."""
    return format_timestamp(hour_floor(moment))


def day_key(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d")


# ------------------------------------------------------------------------------- request


@dataclass(frozen=True)
class Rejection:
    id: str | None
    code: str
    message: str

    def document(self) -> dict:
        return {"id": self.id, "code": self.code, "message": self.message}


@dataclass(frozen=True)
class UsageRecord:
    """A record that passed every check: quantity a whole number, hour known."""

    id: str
    dimension: str
    quantity: int
    timestamp: datetime

    @property
    def hour(self) -> str:
        return hour_key(self.timestamp)

    @property
    def day(self) -> str:
        return day_key(self.timestamp)


def _echo_id(value: Any) -> str | None:
    return value[:MAX_ID_LENGTH] if isinstance(value, str) else None


def check_record(
    raw: RawRecord, *, dimensions: set[str], window: timedelta, now: datetime
) -> UsageRecord | Rejection:
    """The per-record rules of docs/protocol.md §4.2, first failure wins; `now` is server time."""
    rid = raw.id
    if not (isinstance(rid, str) and 1 <= len(rid) <= MAX_ID_LENGTH and rid.isprintable()):
        return Rejection(_echo_id(rid), INVALID_ID, "id must be 1-64 printable characters.")
    if not isinstance(raw.dimension, str) or raw.dimension not in dimensions:
        return Rejection(rid, UNKNOWN_DIMENSION, "dimension is not one of the product's dimensions.")
    quantity = raw.quantity
    if isinstance(quantity, bool) or not isinstance(quantity, int) or not 0 <= quantity <= MAX_QUANTITY:
        return Rejection(rid, INVALID_QUANTITY, f"quantity must be a whole number from 0 to {MAX_QUANTITY}.")
    try:
        when = parse_timestamp(raw.timestamp) if isinstance(raw.timestamp, str) else None
    except ValueError:
        when = None
    if when is None:
        return Rejection(rid, INVALID_TIMESTAMP, "timestamp must be RFC 3339 UTC, e.g. 2026-11-22T13:00:00Z.")
    if when < now - window:
        hours = int(window.total_seconds() // 3600)
        return Rejection(rid, TOO_OLD, f"timestamp is older than the accepted window of {hours} h.")
    if when > now + FUTURE_SKEW:
        return Rejection(rid, IN_FUTURE, "timestamp is more than 5 minutes in the future.")
    return UsageRecord(id=rid, dimension=raw.dimension, quantity=quantity, timestamp=when)


@dataclass
class IngestResult:
    accepted: int = 0
    duplicates: int = 0
    rejected: list[Rejection] = field(default_factory=list)

    def document(self) -> dict:
        return {
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "rejected": [r.document() for r in self.rejected],
        }


@dataclass(frozen=True)
class Attribution:
    """Who sent a record: always the access key; the activation when it is unambiguous."""

    access_key: str
    activation_id: str | None = None
    kind: str = "key-only"  # activation | key-only | ambiguous


# ------------------------------------------------------------------------------- history


_DAY_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def parse_day(value: str) -> date:
    """`YYYY-MM-DD` and nothing else (`date.fromisoformat` would also take `2026-W47-1`)."""
    if not isinstance(value, str) or not _DAY_RE.match(value):
        raise ValueError("not YYYY-MM-DD")
    return date.fromisoformat(value)
