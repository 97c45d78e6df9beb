"""Usage items in the platform-data table (layout: `usage.models`).

`commit` is the one write path of ingestion: one TransactWriteItems call holding, for a chunk
of records, a conditional put per record id plus one ADD per hourly and per daily aggregate.
DynamoDB applies all of it or none, so a record is counted exactly once or not at all.

The hourly ADD carries its own ceiling in its condition (`quantity <= MAX_QUANTITY - what this
chunk adds`), so concurrent requests cannot race an hour past what one BatchMeterUsage record
takes: the check and the write are one atomic step. When that condition fails, the item as it
was comes back in the cancellation reason (`ReturnValuesOnConditionCheckFailure: ALL_OLD`), so
the caller learns the stored total and whether the hour was sealed without another read.
AWS docs: Amazon DynamoDB API Reference, "TransactWriteItems" and "CancellationReason"
(https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_CancellationReason.html):
reasons are ordered like the request's items, and `Item` is the item that cancelled it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from shared.aws import all_items, client
from shared.ddb_errors import PASSED, Reason, cancellation_reasons
from shared.ddb_items import TypeDeserializer, TypeSerializer
from shared.errors import ServiceError
from shared.timestamps import format_timestamp, parse_timestamp
from usage.models import (
    MAX_QUANTITY,
    RECORD_SK,
    Attribution,
    UsageRecord,
    customer_pk,
    day_sk,
    due_pk,
    due_shard,
    hour_sk,
    queue_sk,
    record_pk,
)

MAX_TRANSACTION_ITEMS = 100
_RETRYABLE_REASONS = {"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded"}
_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def dump(values: dict[str, Any]) -> dict[str, Any]:
    return {k: _serializer.serialize(v) for k, v in values.items() if v is not None}


def load(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _deserializer.deserialize(v) for k, v in item.items()}


def unavailable() -> ServiceError:
    return ServiceError("The usage store is unavailable; retry later.")


@dataclass(frozen=True)
class Entry:
    """One record to count, and the hour whose aggregate it is added to (its own, or the
    current hour when its own was already sent to Marketplace)."""

    record: UsageRecord
    billed_hour: str


@dataclass
class CommitOutcome:
    committed: bool = False
    duplicates: set[str] = field(default_factory=set)  # record ids already stored
    sealed: set[tuple[str, str]] = field(default_factory=set)  # (hour, dimension) no longer open
    # (hour, dimension) whose stored total plus this chunk's would pass MAX_QUANTITY → stored total
    full: dict[tuple[str, str], int] = field(default_factory=dict)
    contention: bool = False  # a concurrent writer or throttling: retry the same chunk
    unread: list[tuple[str, str]] = field(default_factory=list)  # failed hours the reason did not show


def transaction_items(entries: Iterable[Entry]) -> tuple[int, int, int]:
    """(records, hourly aggregates, daily aggregates) that a chunk of entries writes."""
    entries = list(entries)
    hours = {(e.billed_hour, e.record.dimension) for e in entries}
    days = {(e.record.day, e.record.dimension) for e in entries}
    return len(entries), len(hours), len(days)


def chunk_entries(entries: list[Entry], limit: int = MAX_TRANSACTION_ITEMS) -> Iterator[list[Entry]]:
    """Greedy chunks whose transaction stays within `limit` items."""
    chunk: list[Entry] = []
    hours: set[tuple[str, str]] = set()
    days: set[tuple[str, str]] = set()
    for entry in entries:
        hour = (entry.billed_hour, entry.record.dimension)
        day = (entry.record.day, entry.record.dimension)
        size = len(chunk) + len(hours) + len(days) + 1 + (hour not in hours) + (day not in days)
        if chunk and size > limit:
            yield chunk
            chunk, hours, days = [], set(), set()
        chunk.append(entry)
        hours.add(hour)
        days.add(day)
    if chunk:
        yield chunk


class UsageStore:
    def __init__(self, table: str, *, retention_days: int, dynamodb: Any = None) -> None:
        self._table = table
        self._retention = timedelta(days=retention_days)
        self._ddb = dynamodb

    @property
    def ddb(self) -> Any:
        return self._ddb or client("dynamodb")

    # ------------------------------------------------------------------ ingestion

    def commit(
        self, customer_id: str, entries: list[Entry], attribution: Attribution, now: datetime
    ) -> CommitOutcome:
        items, kinds = self._transaction(customer_id, entries, attribution, now)
        try:
            # A fresh token per attempt: botocore's own retries of this call reuse it, so a commit
            # whose answer was lost is not reported back as a conflict with itself.
            self.ddb.transact_write_items(TransactItems=items, ClientRequestToken=str(uuid.uuid4()))
        except ClientError as exc:
            error = exc.response.get("Error", {}).get("Code", "")
            if error == "TransactionCanceledException":
                outcome = _cancelled(cancellation_reasons(exc), kinds)
                for hour, dimension in outcome.unread:
                    self._classify_hour(customer_id, hour, dimension, outcome)
                return outcome
            if error in (
                "TransactionInProgressException",
                "ThrottlingException",
                "ProvisionedThroughputExceededException",
                "RequestLimitExceeded",
            ):
                return CommitOutcome(contention=True)
            raise unavailable() from exc
        except BotoCoreError as exc:
            raise unavailable() from exc
        return CommitOutcome(committed=True)

    def _transaction(
        self, customer_id: str, entries: list[Entry], attribution: Attribution, now: datetime
    ) -> tuple[list[dict], list[tuple[str, Any]]]:
        table, stamp = self._table, format_timestamp(now)
        items: list[dict] = []
        kinds: list[tuple[str, Any]] = []  # what each transaction item is, for cancellation reasons
        hours: dict[tuple[str, str], list[int]] = {}
        days: dict[tuple[str, str], int] = {}
        for entry in entries:
            record = entry.record
            item = {
                "pk": record_pk(customer_id, record.id),
                "sk": RECORD_SK,
                "type": "usage-record",
                "customer_id": customer_id,
                "record_id": record.id,
                "dimension": record.dimension,
                "quantity": record.quantity,
                "timestamp": format_timestamp(record.timestamp),
                "hour": record.hour,
                "billed_hour": entry.billed_hour,
                "received_at": stamp,
                "access_key": attribution.access_key,
                "activation_id": attribution.activation_id,
                "attribution": attribution.kind,
                "ttl": int((now + self._retention).timestamp()),
            }
            items.append(
                {
                    "Put": {
                        "TableName": table,
                        "Item": dump(item),
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                }
            )
            kinds.append(("record", record.id))
            total = hours.setdefault((entry.billed_hour, record.dimension), [0, 0])
            total[0] += record.quantity
            total[1] += 1
            days[(record.day, record.dimension)] = (
                days.get((record.day, record.dimension), 0) + record.quantity
            )
        shard = due_pk(due_shard(customer_id))
        for (hour, dimension), (quantity, count) in hours.items():
            expires = int((parse_timestamp(hour) + self._retention).timestamp())
            items.append(
                {
                    "Update": {
                        "TableName": table,
                        "Key": dump({"pk": customer_pk(customer_id), "sk": hour_sk(hour, dimension)}),
                        "UpdateExpression": (
                            "ADD #quantity :q, #records :n SET #type = :type, #customer = :c, "
                            "#dimension = :d, #hour = :h, #updated = :now, #ttl = :ttl, "
                            "#gpk = :gpk, #gsk = :gsk"
                        ),
                        "ConditionExpression": (
                            "attribute_not_exists(#sealed) AND "
                            "(attribute_not_exists(#quantity) OR #quantity <= :room)"
                        ),
                        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                        "ExpressionAttributeNames": {
                            "#quantity": "quantity",
                            "#records": "records",
                            "#type": "type",
                            "#customer": "customer_id",
                            "#dimension": "dimension",
                            "#hour": "hour",
                            "#updated": "updated_at",
                            "#ttl": "ttl",
                            "#gpk": "gsi1pk",
                            "#gsk": "gsi1sk",
                            "#sealed": "sealed_at",
                        },
                        "ExpressionAttributeValues": dump(
                            {
                                ":q": quantity,
                                ":room": MAX_QUANTITY - quantity,
                                ":n": count,
                                ":type": "usage-hour",
                                ":c": customer_id,
                                ":d": dimension,
                                ":h": hour,
                                ":now": stamp,
                                ":ttl": expires,
                                ":gpk": shard,
                                ":gsk": queue_sk(hour, customer_id, dimension),
                            }
                        ),
                    }
                }
            )
            kinds.append(("hour", (hour, dimension)))
        for (day, dimension), quantity in days.items():
            expires = int((datetime.fromisoformat(f"{day}T00:00:00+00:00") + self._retention).timestamp())
            items.append(
                {
                    "Update": {
                        "TableName": table,
                        "Key": dump({"pk": customer_pk(customer_id), "sk": day_sk(day, dimension)}),
                        "UpdateExpression": (
                            "ADD #quantity :q SET #type = :type, #customer = :c, #dimension = :d, "
                            "#date = :day, #updated = :now, #ttl = :ttl"
                        ),
                        "ExpressionAttributeNames": {
                            "#quantity": "quantity",
                            "#type": "type",
                            "#customer": "customer_id",
                            "#dimension": "dimension",
                            "#date": "date",
                            "#updated": "updated_at",
                            "#ttl": "ttl",
                        },
                        "ExpressionAttributeValues": dump(
                            {
                                ":q": quantity,
                                ":type": "usage-day",
                                ":c": customer_id,
                                ":d": dimension,
                                ":day": day,
                                ":now": stamp,
                                ":ttl": expires,
                            }
                        ),
                    }
                }
            )
            kinds.append(("day", (day, dimension)))
        return items, kinds

    def _classify_hour(self, customer_id: str, hour: str, dimension: str, outcome: CommitOutcome) -> None:
        """A failed hourly condition whose reason carried no item: read it (consistently) to
        tell a sealed hour from a full one; gone again (TTL) is plain contention."""
        try:
            reply = self.ddb.get_item(
                TableName=self._table,
                Key=dump({"pk": customer_pk(customer_id), "sk": hour_sk(hour, dimension)}),
                ConsistentRead=True,
            )
        except (ClientError, BotoCoreError) as exc:
            raise unavailable() from exc
        _classify(reply.get("Item"), (hour, dimension), outcome)

    # ------------------------------------------------------------------ reads

    def daily(self, customer_id: str, first: date, last: date) -> list[dict[str, Any]]:
        """The customer's daily aggregates from `first` to `last` inclusive, by date then dimension."""
        return self._query_range(customer_id, f"DAY#{first.isoformat()}", f"DAY#{last.isoformat()}~")

    def hourly(self, customer_id: str, first: date, last: date) -> list[dict[str, Any]]:
        """The customer's hourly aggregates (with their metering state) for whole UTC days."""
        return self._query_range(customer_id, f"HOUR#{first.isoformat()}", f"HOUR#{last.isoformat()}~")

    def _query_range(self, customer_id: str, low: str, high: str) -> list[dict[str, Any]]:
        request: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk AND sk BETWEEN :low AND :high",
            "ExpressionAttributeValues": dump({":pk": customer_pk(customer_id), ":low": low, ":high": high}),
        }
        found: list[dict[str, Any]] = []
        try:
            found.extend(load(item) for item in all_items(self.ddb, "query", request))
            return found
        except (ClientError, BotoCoreError) as exc:
            raise unavailable() from exc


def _cancelled(reasons: list[Reason], kinds: list[tuple[str, Any]]) -> CommitOutcome:
    outcome = CommitOutcome()
    for (kind, key), reason in zip(kinds, reasons, strict=False):
        code = reason.code
        if code == PASSED:
            continue
        if code == "ConditionalCheckFailed" and kind == "record":
            outcome.duplicates.add(key)
        elif code == "ConditionalCheckFailed" and kind == "hour":
            if reason.item:
                _classify(reason.item, key, outcome)
            else:
                outcome.unread.append(key)
        elif code in _RETRYABLE_REASONS:
            outcome.contention = True
        else:
            raise unavailable()
    if not (outcome.duplicates or outcome.sealed or outcome.full or outcome.unread or outcome.contention):
        outcome.contention = True  # cancelled without a usable reason: try again
    return outcome


def _classify(item: dict | None, key: tuple[str, str], outcome: CommitOutcome) -> None:
    """Why an hourly aggregate refused an ADD: sealed for Marketplace, or too full for it."""
    if not item:
        outcome.contention = True
        return
    values = load(item)
    if "sealed_at" in values:
        outcome.sealed.add(key)
    else:
        outcome.full[key] = int(values.get("quantity", 0))
