"""The metering queue and the metering state of hourly aggregates (layout: `usage.models`).

- `due`: the queue, read from the sparse index gsi1 (`METERDUE#<shard>`), shards in parallel.
- `write_pending` / `resolve`: whole-item puts in BatchWriteItem calls (25 items per call) —
  used only for aggregates that can no longer change (see `metering.logic.plan`), so a put of the
  item as read can never overwrite a concurrent increment.
- `seal`: the conditional per-item write for aggregates that can still change: it succeeds only
  if the quantity is still the one read and the item is not sealed yet.
- `mark`: single-item state changes that are rare (awaiting a subscription, expired).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from shared.aws import all_items, client
from shared.backoff import equal_jitter
from shared.ddb_items import dump, load
from shared.errors import ServiceError
from usage.models import DUE_SHARDS, due_pk

INDEX = "gsi1"
WRITE_BATCH = 25  # BatchWriteItem limit
MAX_BATCH_ROUNDS = 8


def _unavailable() -> ServiceError:
    return ServiceError("The usage table is unavailable.")


class MeterStore:
    def __init__(
        self,
        table: str,
        *,
        dynamodb: Any = None,
        workers: int = DUE_SHARDS,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._table = table
        self._ddb = dynamodb
        self._workers = max(1, workers)
        self._sleep = sleep

    @property
    def ddb(self) -> Any:
        return self._ddb or client("dynamodb")

    # ------------------------------------------------------------------ reads

    def due(self, before_hour: str) -> list[dict[str, Any]]:
        """Every queued aggregate of an hour before `before_hour` (RFC 3339 hour), all shards."""
        shards = range(DUE_SHARDS)
        if self._workers == 1:
            pages = [self._due_shard(s, before_hour) for s in shards]
        else:
            with ThreadPoolExecutor(max_workers=min(self._workers, DUE_SHARDS)) as pool:
                pages = list(pool.map(lambda s: self._due_shard(s, before_hour), shards))
        return [item for page in pages for item in page]

    def _due_shard(self, shard: int, before_hour: str) -> list[dict[str, Any]]:
        request: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": INDEX,
            "KeyConditionExpression": "gsi1pk = :pk AND gsi1sk < :before",
            "ExpressionAttributeValues": dump({":pk": due_pk(shard), ":before": before_hour}),
        }
        found: list[dict[str, Any]] = []
        try:
            found.extend(load(item) for item in all_items(self.ddb, "query", request))
            return found
        except (ClientError, BotoCoreError) as exc:
            raise _unavailable() from exc

    # ------------------------------------------------------------------ writes

    def put_items(self, items: list[dict[str, Any]]) -> int:
        """Whole-item puts, 25 per BatchWriteItem call, unprocessed items retried; returns calls."""
        calls = 0
        for start in range(0, len(items), WRITE_BATCH):
            requests = [{"PutRequest": {"Item": dump(item)}} for item in items[start : start + WRITE_BATCH]]
            for attempt in range(MAX_BATCH_ROUNDS):
                try:
                    answer = self.ddb.batch_write_item(RequestItems={self._table: requests})
                except (ClientError, BotoCoreError) as exc:
                    raise _unavailable() from exc
                calls += 1
                requests = (answer.get("UnprocessedItems") or {}).get(self._table) or []
                if not requests:
                    break
                self._sleep(equal_jitter(attempt, base=0.05, cap=2.0))
            else:
                raise _unavailable()
        return calls

    def seal(self, item: dict[str, Any], fields: dict[str, Any]) -> dict[str, Any] | None:
        """Set `fields` (meter_status, sealed_at, meter_record, …) if the aggregate still holds the
        quantity read and is not sealed; the stored item afterwards, or None if it changed."""
        names = {f"#f{i}": name for i, name in enumerate(fields)}
        values = {f":f{i}": value for i, value in enumerate(fields.values())}
        try:
            answer = self.ddb.update_item(
                TableName=self._table,
                Key=dump({"pk": item["pk"], "sk": item["sk"]}),
                UpdateExpression="SET " + ", ".join(f"#f{i} = :f{i}" for i in range(len(fields))),
                ConditionExpression="attribute_exists(pk) AND attribute_not_exists(#sealed) AND #q = :q",
                ExpressionAttributeNames={**names, "#sealed": "sealed_at", "#q": "quantity"},
                ExpressionAttributeValues=dump({**values, ":q": item.get("quantity", 0)}),
                ReturnValues="ALL_NEW",
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return None
            raise _unavailable() from exc
        except BotoCoreError as exc:
            raise _unavailable() from exc
        return load(answer["Attributes"])

    def mark(
        self, item: dict[str, Any], fields: dict[str, Any], remove: tuple[str, ...] = (), *, unsealed: bool
    ) -> bool:
        """Set `fields` and remove attributes; with `unsealed`, only while nothing sealed the item
        (so a concurrent seal always wins). False when that condition failed."""
        names = {f"#f{i}": name for i, name in enumerate(fields)}
        values = {f":f{i}": value for i, value in enumerate(fields.values())}
        expression = "SET " + ", ".join(f"#f{i} = :f{i}" for i in range(len(fields)))
        if remove:
            names.update({f"#r{i}": name for i, name in enumerate(remove)})
            expression += " REMOVE " + ", ".join(f"#r{i}" for i in range(len(remove)))
        condition = "attribute_exists(pk)"
        if unsealed:
            condition += " AND attribute_not_exists(#sealed)"
            names["#sealed"] = "sealed_at"
        try:
            self.ddb.update_item(
                TableName=self._table,
                Key=dump({"pk": item["pk"], "sk": item["sk"]}),
                UpdateExpression=expression,
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=dump(values),
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise _unavailable() from exc
        except BotoCoreError as exc:
            raise _unavailable() from exc
        return True
