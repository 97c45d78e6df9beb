"""What the customer list reads: subscriptions and standing in the platform-data table, key
sets in the keys table, and each customer's latest hourly usage aggregate.

Customers are whoever has a subscription (walked first: a scan of `SUB#` items) or a key set
(`CUSTOMER#<id>`/`KEYSET` in the keys table, walked second, skipping those with a subscription).
A scan's `Limit` counts items read before the filter, so a page may come back short.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from shared.aws import client
from shared.ddb_items import TypeSerializer, load
from shared.errors import ServiceError

_serializer = TypeSerializer()


def _dump(values: dict[str, Any]) -> dict[str, Any]:
    return {k: _serializer.serialize(v) for k, v in values.items()}


class Directory:
    def __init__(self, data_table: str, keys_table: str, *, dynamodb: Any = None) -> None:
        self._data = data_table
        self._keys = keys_table
        self._ddb = dynamodb

    @property
    def client(self) -> Any:
        return self._ddb or client("dynamodb")

    def _scan(self, request: dict[str, Any]) -> tuple[list[dict[str, Any]], dict | None]:
        try:
            answer = self.client.scan(**request)
        except (ClientError, BotoCoreError) as exc:
            raise ServiceError("The customer directory is unavailable; retry later.") from exc
        return [load(item) for item in answer.get("Items", [])], answer.get("LastEvaluatedKey")

    def subscriptions_page(self, start: dict | None, limit: int) -> tuple[list[dict[str, Any]], dict | None]:
        request: dict[str, Any] = {
            "TableName": self._data,
            "FilterExpression": "#sk = :sk AND begins_with(pk, :prefix)",
            "ExpressionAttributeNames": {"#sk": "sk"},
            "ExpressionAttributeValues": _dump({":sk": "SUB", ":prefix": "SUB#"}),
            "Limit": limit,
        }
        if start:
            request["ExclusiveStartKey"] = start
        return self._scan(request)

    def keysets_page(self, start: dict | None, limit: int) -> tuple[list[dict[str, Any]], dict | None]:
        request: dict[str, Any] = {
            "TableName": self._keys,
            "FilterExpression": "#sk = :sk",
            "ExpressionAttributeNames": {"#sk": "sk"},
            "ExpressionAttributeValues": _dump({":sk": "KEYSET"}),
            "Limit": limit,
        }
        if start:
            request["ExclusiveStartKey"] = start
        return self._scan(request)

    def _get(self, table: str, pk: str, sk: str) -> dict[str, Any] | None:
        try:
            answer = self.client.get_item(
                TableName=table, Key=_dump({"pk": pk, "sk": sk}), ConsistentRead=True
            )
        except (ClientError, BotoCoreError) as exc:
            raise ServiceError("The customer directory is unavailable; retry later.") from exc
        item = answer.get("Item")
        return load(item) if item else None

    def keyset(self, team_id: str) -> dict[str, Any] | None:
        return self._get(self._keys, f"CUSTOMER#{team_id}", "KEYSET")

    def subscription(self, team_id: str) -> dict[str, Any] | None:
        return self._get(self._data, f"SUB#{team_id}", "SUB")

    def last_usage_hour(self, team_id: str) -> str | None:
        """The latest hour with usage (the newest `HOUR#` aggregate of the team)."""
        try:
            answer = self.client.query(
                TableName=self._data,
                KeyConditionExpression="pk = :pk AND begins_with(sk, :hour)",
                ExpressionAttributeValues=_dump({":pk": f"USAGE#{team_id}", ":hour": "HOUR#"}),
                ScanIndexForward=False,
                Limit=1,
            )
        except (ClientError, BotoCoreError) as exc:
            raise ServiceError("The customer directory is unavailable; retry later.") from exc
        items = answer.get("Items", [])
        return str(load(items[0]).get("hour")) if items else None
