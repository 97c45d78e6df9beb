"""Records of notices sent, in the platform-data table: the "never twice" guarantee.

Item: pk `NOTICE#<customer_id>#<subject key>`, sk `NOTICE`; customer_id, subject, status
(sending|sent), run_id, claimed_at, sent_at?, message_id?, ttl.

A notice is claimed with a conditional put *before* the email is sent, so two concurrent runs
cannot both send it; a failed send deletes the claim (conditional on the claiming run), so a
later run retries. A claim left `sending` by a run that died is taken over after `STALE_CLAIM`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from shared.aws import client
from shared.ddb_items import dump
from shared.errors import ServiceError
from shared.timestamps import format_sortable, format_timestamp

NOTICE_SK = "NOTICE"
SENDING = "sending"
SENT = "sent"
STALE_CLAIM = timedelta(minutes=15)


def notice_pk(customer_id: str, subject_key: str) -> str:
    return f"NOTICE#{customer_id}#{subject_key}"


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _unavailable() -> ServiceError:
    return ServiceError("The notice store is unavailable; retry later.")


class NoticeStore:
    def __init__(self, table: str, *, dynamodb: Any = None) -> None:
        self._table = table
        self._ddb = dynamodb

    @property
    def _client(self) -> Any:
        return self._ddb or client("dynamodb")

    def _key(self, customer_id: str, subject_key: str) -> dict[str, Any]:
        return dump({"pk": notice_pk(customer_id, subject_key), "sk": NOTICE_SK})

    def claim(
        self, customer_id: str, subject_key: str, *, run_id: str, now: datetime, expires: datetime
    ) -> bool:
        """True if this run may send the notice; False if it was sent or another run is sending it."""
        item = {
            "pk": notice_pk(customer_id, subject_key),
            "sk": NOTICE_SK,
            "type": "notice",
            "customer_id": customer_id,
            "subject": subject_key,
            "status": SENDING,
            "run_id": run_id,
            "claimed_at": format_sortable(now),
            "ttl": int(expires.timestamp()),
        }
        try:
            self._client.put_item(
                TableName=self._table,
                Item=dump(item),
                ConditionExpression=(
                    "attribute_not_exists(pk) OR (#status = :sending AND claimed_at < :stale)"
                ),
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues=dump(
                    {":sending": SENDING, ":stale": format_sortable(now - STALE_CLAIM)}
                ),
            )
        except ClientError as exc:
            if _code(exc) == "ConditionalCheckFailedException":
                return False
            raise _unavailable() from exc
        except BotoCoreError as exc:
            raise _unavailable() from exc
        return True

    def confirm(
        self, customer_id: str, subject_key: str, *, run_id: str, now: datetime, message_id: str
    ) -> None:
        try:
            self._client.update_item(
                TableName=self._table,
                Key=self._key(customer_id, subject_key),
                UpdateExpression="SET #status = :sent, sent_at = :now, message_id = :mid",
                ConditionExpression="run_id = :run",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues=dump(
                    {":sent": SENT, ":now": format_timestamp(now), ":mid": message_id, ":run": run_id}
                ),
            )
        except ClientError as exc:
            if _code(exc) != "ConditionalCheckFailedException":  # taken over: the email is out anyway
                raise _unavailable() from exc
        except BotoCoreError as exc:
            raise _unavailable() from exc

    def release(self, customer_id: str, subject_key: str, *, run_id: str) -> None:
        """Forget a claim whose email was not sent, so a later run tries again."""
        try:
            self._client.delete_item(
                TableName=self._table,
                Key=self._key(customer_id, subject_key),
                ConditionExpression="run_id = :run AND #status = :sending",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues=dump({":run": run_id, ":sending": SENDING}),
            )
        except ClientError as exc:
            if _code(exc) != "ConditionalCheckFailedException":
                raise _unavailable() from exc
        except BotoCoreError as exc:
            raise _unavailable() from exc
