"""Deployment-key records and the job's work list, in the platform-data table (`VS_TABLE_DATA`).

Item layout (table `pk`/`sk`, GSI `gsi1` = `gsi1pk`/`gsi1sk`):

- deployment key: pk `QLKEY#<customer_id>`, sk `AGREEMENT#<agreement_id>`; customer_id,
  agreement_id, access_key, state (issuing|delivered|revoked), created_at, delivered_at?,
  revoke_after?, attempts, last_error?. Created conditionally (one per agreement), so two runs
  never issue two keys for one agreement.
- due marker: pk `QLDUE#<customer_id>`, sk `DUE`; customer_id, gsi1pk `QLDUE`, gsi1sk
  `<due time µs>#<customer_id>`. Written by registration and by the Marketplace events function
  ("look at this customer now"), moved to the next scheduled revocation or deleted by the job,
  conditionally on what it read, so a marker written meanwhile is never lost.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from quicklaunch.models import DELIVERED, REVOKED, DeploymentKey
from shared.aws import all_items, client
from shared.ddb_items import dump, load
from shared.errors import ServiceError
from shared.timestamps import format_sortable, format_timestamp, parse_timestamp

DUE_INDEX_PK = "QLDUE"
DUE_SK = "DUE"
INDEX = "gsi1"


class RecordExists(Exception):
    """Another run created this agreement's record first; re-read it."""


def key_pk(customer_id: str) -> str:
    return f"QLKEY#{customer_id}"


def due_pk(customer_id: str) -> str:
    return f"QLDUE#{customer_id}"


def _unavailable(exc: Exception) -> ServiceError:
    return ServiceError("The platform data store is unavailable; retry later.")


def _record(item: dict[str, Any]) -> DeploymentKey:
    def when(name: str) -> datetime | None:
        return parse_timestamp(item[name]) if item.get(name) else None

    return DeploymentKey(
        customer_id=item["customer_id"],
        agreement_id=item["agreement_id"],
        access_key=item["access_key"],
        state=item["state"],
        created_at=parse_timestamp(item["created_at"]),
        delivered_at=when("delivered_at"),
        revoke_after=when("revoke_after"),
        attempts=int(item.get("attempts", 0)),
        last_error=item.get("last_error"),
    )


class DeploymentKeyRecords:
    def __init__(self, table: str, *, dynamodb: Any = None) -> None:
        self._table = table
        self._ddb = dynamodb

    @property
    def _client(self) -> Any:
        return self._ddb or client("dynamodb")

    # ---------------------------------------------------------------- due markers

    def mark_due(self, customer_id: str, now: datetime) -> None:
        """Ask the job to look at this customer at its next run (idempotent)."""
        self._put_due(customer_id, now)

    def _put_due(self, customer_id: str, when: datetime) -> None:
        item = {
            "pk": due_pk(customer_id),
            "sk": DUE_SK,
            "customer_id": customer_id,
            "gsi1pk": DUE_INDEX_PK,
            "gsi1sk": f"{format_sortable(when)}#{customer_id}",
        }
        try:
            self._client.put_item(TableName=self._table, Item=dump(item))
        except (ClientError, BotoCoreError) as exc:
            raise _unavailable(exc) from exc

    def due(self, now: datetime) -> list[tuple[str, str]]:
        """(customer_id, marker sort value) of every marker due at `now`, oldest first."""
        request = {
            "TableName": self._table,
            "IndexName": INDEX,
            "KeyConditionExpression": "gsi1pk = :pk AND gsi1sk <= :now",
            "ExpressionAttributeValues": dump({":pk": DUE_INDEX_PK, ":now": format_sortable(now) + "#~"}),
        }
        try:
            items = [load(item) for item in all_items(self._client, "query", request)]
        except (ClientError, BotoCoreError) as exc:
            raise _unavailable(exc) from exc
        return [(item["customer_id"], item["gsi1sk"]) for item in items]

    def settle_due(self, customer_id: str, seen: str, next_due: datetime | None) -> None:
        """Move the marker to `next_due` (or delete it), unless it changed since it was `seen`."""
        condition = {
            "ConditionExpression": "gsi1sk = :seen",
            "ExpressionAttributeValues": dump({":seen": seen}),
        }
        key = dump({"pk": due_pk(customer_id), "sk": DUE_SK})
        try:
            if next_due is None:
                self._client.delete_item(TableName=self._table, Key=key, **condition)
            else:
                self._client.update_item(
                    TableName=self._table,
                    Key=key,
                    UpdateExpression="SET gsi1sk = :next",
                    ConditionExpression="gsi1sk = :seen",
                    ExpressionAttributeValues=dump(
                        {":seen": seen, ":next": f"{format_sortable(next_due)}#{customer_id}"}
                    ),
                )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise _unavailable(exc) from exc
        except BotoCoreError as exc:
            raise _unavailable(exc) from exc

    # ---------------------------------------------------------------- deployment keys

    def keys(self, customer_id: str) -> list[DeploymentKey]:
        request = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": dump({":pk": key_pk(customer_id)}),
            "ConsistentRead": True,
        }
        try:
            return [_record(load(item)) for item in all_items(self._client, "query", request)]
        except (ClientError, BotoCoreError) as exc:
            raise _unavailable(exc) from exc

    def create(self, record: DeploymentKey) -> None:
        item = {
            "pk": key_pk(record.customer_id),
            "sk": f"AGREEMENT#{record.agreement_id}",
            "customer_id": record.customer_id,
            "agreement_id": record.agreement_id,
            "access_key": record.access_key,
            "state": record.state,
            "created_at": format_timestamp(record.created_at),
            "attempts": 0,
        }
        try:
            self._client.put_item(
                TableName=self._table, Item=dump(item), ConditionExpression="attribute_not_exists(pk)"
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                raise RecordExists() from None
            raise _unavailable(exc) from exc
        except BotoCoreError as exc:
            raise _unavailable(exc) from exc

    def _update(
        self, record: DeploymentKey, sets: str = "", values: dict[str, Any] | None = None, remove: str = ""
    ) -> None:
        expression = " ".join(
            part for part in (f"SET {sets}" if sets else "", f"REMOVE {remove}" if remove else "") if part
        )
        request: dict[str, Any] = {
            "TableName": self._table,
            "Key": dump({"pk": key_pk(record.customer_id), "sk": f"AGREEMENT#{record.agreement_id}"}),
            "UpdateExpression": expression,
            "ConditionExpression": "attribute_exists(pk)",
        }
        if "#state" in expression:
            request["ExpressionAttributeNames"] = {"#state": "state"}
        if values:
            request["ExpressionAttributeValues"] = dump(values)
        try:
            self._client.update_item(**request)
        except (ClientError, BotoCoreError) as exc:
            raise _unavailable(exc) from exc

    def delivered(self, record: DeploymentKey, now: datetime) -> None:
        self._update(
            record,
            "#state = :state, delivered_at = :now, attempts = :zero",
            {":state": DELIVERED, ":now": format_timestamp(now), ":zero": 0},
            remove="last_error",
        )

    def failed(self, record: DeploymentKey, code: str) -> None:
        self._update(
            record, "attempts = attempts + :one, last_error = :code", {":one": 1, ":code": code[:64]}
        )

    def schedule_revocation(self, record: DeploymentKey, at: datetime | None) -> None:
        if at is None:
            self._update(record, remove="revoke_after")
        else:
            self._update(record, "revoke_after = :at", {":at": format_timestamp(at)})

    def revoked(self, record: DeploymentKey, now: datetime) -> None:
        self._update(
            record, "#state = :state, revoked_at = :now", {":state": REVOKED, ":now": format_timestamp(now)}
        )
