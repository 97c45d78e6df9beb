"""Keys that expire soon, read from the key vault (read-only).

A filtered scan of the keys table: the table's only index (`by-owner`) is by owner, so there
is no cheaper way to find keys by expiry without a new index. Only public attributes are
projected (never the salt). At larger scale, a sparse GSI keyed by expiry month
(`expires_month` / `expires_at`) would turn this into two small queries.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from shared.aws import all_items, client
from shared.ddb_items import TypeSerializer, load
from shared.errors import ServiceError
from shared.timestamps import parse_timestamp

_serializer = TypeSerializer()


@dataclass(frozen=True)
class ExpiringKey:
    access_key: str
    owner: str
    owner_email: str
    expires_at: datetime
    label: str | None = None


class ExpiringKeys:
    def __init__(self, table: str, *, dynamodb: Any = None) -> None:
        self._table = table
        self._ddb = dynamodb

    @property
    def _client(self) -> Any:
        return self._ddb or client("dynamodb")

    def between(self, after: datetime, until: datetime) -> Iterator[ExpiringKey]:
        """Active keys with `after < expires_at <= until`."""
        request: dict[str, Any] = {
            "TableName": self._table,
            "FilterExpression": (
                "sk = :key AND #status = :active AND expires_epoch > :after AND expires_epoch <= :until"
            ),
            "ProjectionExpression": "access_key, #owner, owner_email, expires_at, label",
            "ExpressionAttributeNames": {"#status": "status", "#owner": "owner"},
            "ExpressionAttributeValues": {
                k: _serializer.serialize(v)
                for k, v in {
                    ":key": "KEY",
                    ":active": "active",
                    ":after": int(after.timestamp()),
                    ":until": int(until.timestamp()),
                }.items()
            },
        }
        try:
            for raw in all_items(self._client, "scan", request):
                item = load(raw)
                yield ExpiringKey(
                    access_key=item["access_key"],
                    owner=item["owner"],
                    owner_email=item.get("owner_email", ""),
                    expires_at=parse_timestamp(item["expires_at"]),
                    label=item.get("label"),
                )
        except (ClientError, BotoCoreError) as exc:
            raise ServiceError("The key vault is unavailable; retry later.") from exc
