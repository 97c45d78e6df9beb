"""The audit table: one partition per customer and day, kept `audit_retention_days` via TTL.

Beside the records, one daily roll-up per customer that never expires: pk `STATS#<customer>`,
sk `DAY#<YYYY-MM-DD>`; type `audit-day`, customer_id, day, `calls`, and one counter per
`result:<result>`, `op:<METHOD /route>` and `error:<code>` (ADD, so concurrent calls never lose a
count). The dispute report reads it, so a day's call statistics outlive its raw records.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from audit.record import AuditRecord
from shared.aws import all_items, made_once, new_client, sdk_config
from shared.ddb_items import TypeDeserializer, TypeSerializer
from shared.errors import ServiceError

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


@made_once
def dynamodb_client() -> Any:
    """Lazy, so `AWS_ENDPOINT_URL` and `AWS_REGION` are read from the function's environment."""
    return new_client(
        "dynamodb", config=sdk_config(connect_timeout=2, read_timeout=3, retries={"max_attempts": 2})
    )


def stats_pk(customer_id: str) -> str:
    return f"STATS#{customer_id}"


class AuditLog:
    def __init__(self, table: str, *, retention_days: int = 400, dynamodb: Any = None) -> None:
        self._table = table
        self._retention_days = retention_days
        self._ddb = dynamodb

    @property
    def _client(self) -> Any:
        return self._ddb or dynamodb_client()

    def write(self, record: AuditRecord) -> None:
        item = record.item(self._retention_days)
        try:
            self._client.put_item(
                TableName=self._table, Item={k: _serializer.serialize(v) for k, v in item.items()}
            )
            self._count(record)
        except (ClientError, BotoCoreError) as exc:
            raise ServiceError("The audit log is unavailable.") from exc

    def _count(self, record: AuditRecord) -> None:
        counters = ["calls", f"result:{record.result}", f"op:{record.operation}"]
        if record.error_code:
            counters.append(f"error:{record.error_code[:64]}")
        names = {f"#c{i}": name for i, name in enumerate(counters)}
        self._client.update_item(
            TableName=self._table,
            Key={"pk": {"S": stats_pk(record.customer_id)}, "sk": {"S": f"DAY#{record.day}"}},
            UpdateExpression="SET #type = :type, customer_id = :customer, #day = :day ADD "
            + ", ".join(f"{name} :one" for name in names),
            ExpressionAttributeNames={**names, "#type": "type", "#day": "day"},
            ExpressionAttributeValues={
                ":type": {"S": "audit-day"},
                ":customer": {"S": record.customer_id},
                ":day": {"S": record.day},
                ":one": {"N": "1"},
            },
        )

    def daily_stats(self, customer_id: str, first: date, last: date) -> list[dict]:
        """The roll-ups of `first`..`last` inclusive (days without calls have none)."""
        request: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk AND sk BETWEEN :low AND :high",
            "ExpressionAttributeValues": {
                ":pk": {"S": stats_pk(customer_id)},
                ":low": {"S": f"DAY#{first.isoformat()}"},
                ":high": {"S": f"DAY#{last.isoformat()}"},
            },
        }
        try:
            return [
                {k: _deserializer.deserialize(v) for k, v in item.items()}
                for item in all_items(self._client, "query", request)
            ]
        except (ClientError, BotoCoreError) as exc:
            raise ServiceError("The audit log is unavailable.") from exc

    def query_day(self, customer_id: str, day: date) -> list[dict]:
        """Every record of one customer on one UTC day, oldest first."""
        request: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": f"{customer_id}#{day.isoformat()}"}},
        }
        records: list[dict] = []
        try:
            records.extend(
                {k: _deserializer.deserialize(v) for k, v in item.items()}
                for item in all_items(self._client, "query", request)
            )
            return records
        except (ClientError, BotoCoreError) as exc:
            raise ServiceError("The audit log is unavailable.") from exc

    def query_range(self, customer_id: str, first: date, last: date) -> Iterator[dict]:
        """Records of `first`..`last` inclusive, day by day (for the vendor's audit command)."""
        day = first
        while day <= last:
            yield from self.query_day(customer_id, day)
            day += timedelta(days=1)
