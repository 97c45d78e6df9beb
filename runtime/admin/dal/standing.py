"""Standing items (suspension) in the platform-data table.

Layout: pk `STANDING#<team_id>`, sk `STANDING`; type `standing`, team_id, suspended (bool),
reason?, changed_at, changed_by (the operator's IAM principal ARN), version. Every write is
conditional on `version`, so two operators acting at once never lose a change. No TTL: the
standing of a team is kept for as long as the team.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from admin.models import Standing
from shared.aws import client
from shared.ddb_items import dump, load
from shared.errors import ServiceError
from shared.timestamps import format_timestamp, parse_timestamp

SK = "STANDING"


class StandingContention(Exception):
    """The standing changed between read and write; re-read and decide again."""


def standing_pk(team_id: str) -> str:
    return f"STANDING#{team_id}"


def _unavailable() -> ServiceError:
    return ServiceError("The account store is unavailable; retry later.")


def standing_to_item(standing: Standing) -> dict[str, Any]:
    return {
        "pk": standing_pk(standing.team_id),
        "sk": SK,
        "type": "standing",
        "team_id": standing.team_id,
        "suspended": standing.suspended,
        "reason": standing.reason,
        "changed_at": format_timestamp(standing.changed_at) if standing.changed_at else None,
        "changed_by": standing.changed_by,
        "version": standing.version,
    }


def standing_from_item(item: dict[str, Any]) -> Standing:
    changed = item.get("changed_at")
    return Standing(
        team_id=item["team_id"],
        suspended=bool(item.get("suspended", False)),
        reason=item.get("reason"),
        changed_at=parse_timestamp(changed) if changed else None,
        changed_by=item.get("changed_by"),
        version=int(item.get("version", 0)),
    )


class StandingStore:
    def __init__(self, table: str, *, dynamodb: Any = None) -> None:
        self._table = table
        self._ddb = dynamodb

    @property
    def _client(self) -> Any:
        return self._ddb or client("dynamodb")

    def get(self, team_id: str) -> Standing:
        """Strongly consistent: a suspension holds from the very next call."""
        try:
            answer = self._client.get_item(
                TableName=self._table, Key=dump({"pk": standing_pk(team_id), "sk": SK}), ConsistentRead=True
            )
        except (ClientError, BotoCoreError) as exc:
            raise _unavailable() from exc
        item = answer.get("Item")
        if not item:
            return Standing(team_id=team_id)
        return standing_from_item(load(item))

    def save(self, after: Standing, before: Standing) -> Standing:
        stored = replace(after, version=before.version + 1)
        if before.version == 0:
            condition: dict[str, Any] = {"ConditionExpression": "attribute_not_exists(pk)"}
        else:
            condition = {
                "ConditionExpression": "version = :v",
                "ExpressionAttributeValues": dump({":v": before.version}),
            }
        try:
            self._client.put_item(TableName=self._table, Item=dump(standing_to_item(stored)), **condition)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                raise StandingContention() from None
            raise _unavailable() from exc
        except BotoCoreError as exc:
            raise _unavailable() from exc
        return stored
