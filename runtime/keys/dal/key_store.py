"""Key items and per-customer key sets in the keys table.

Item layout (table `pk`/`sk`, TTL `ttl`, GSI `by-owner` = `owner`/`created_at`):

- key:    pk `KEY#<access_key>`, sk `KEY`; owner, owner_email, access_key, label?, created_at
          (fixed-width microseconds, so the GSI sorts by age), expires_at, expires_epoch, status
          (active|revoked), revoked_at?, last_used_at?, salt, kdf, ttl (expiry + retention).
- keyset: pk `CUSTOMER#<sub>`, sk `KEYSET`; customer_id, email, active (map access_key →
          expires epoch), version, updated_at. No `owner` attribute, so it stays out of the GSI.
          Every create writes it under a version condition in the same transaction as the key,
          so two concurrent creates cannot both pass the active-key limit.
- nonce:  see `license.dal.nonces`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from keys.models import KEYSET_SK, KeyItem, KeySet, keyset_pk
from shared.aws import all_items, client
from shared.ddb_errors import cancellation_codes
from shared.ddb_items import dump, load
from shared.errors import ServiceError
from shared.timestamps import format_sortable, format_timestamp, parse_timestamp

KEY_SK = "KEY"
OWNER_INDEX = "by-owner"


class KeySetContention(Exception):
    """The key set changed between read and write; re-read and try again."""


class AccessKeyTaken(Exception):
    """The freshly drawn access key already exists (astronomically rare); draw another."""


def key_pk(access_key: str) -> str:
    return f"KEY#{access_key}"


def _unavailable(_exc: Exception) -> ServiceError:
    return ServiceError("The key store is unavailable; retry later.")


def key_to_item(key: KeyItem, retention_days: int) -> dict[str, Any]:
    expires_epoch = int(key.expires_at.timestamp())
    return {
        "pk": key_pk(key.access_key),
        "sk": KEY_SK,
        "type": "key",
        "access_key": key.access_key,
        "owner": key.owner,
        "owner_email": key.owner_email,
        "label": key.label,
        "created_at": format_sortable(key.created_at),
        "expires_at": format_timestamp(key.expires_at),
        "expires_epoch": expires_epoch,
        "status": key.status,
        "revoked_at": format_timestamp(key.revoked_at) if key.revoked_at else None,
        "last_used_at": format_timestamp(key.last_used_at) if key.last_used_at else None,
        "salt": key.salt,
        "kdf": key.kdf,
        "ttl": expires_epoch + retention_days * 86400,
    }


def key_from_item(item: dict[str, Any]) -> KeyItem:
    def when(name: str) -> datetime | None:
        return parse_timestamp(item[name]) if item.get(name) else None

    return KeyItem(
        access_key=item["access_key"],
        owner=item["owner"],
        owner_email=item.get("owner_email", ""),
        label=item.get("label"),
        created_at=parse_timestamp(item["created_at"]),
        expires_at=parse_timestamp(item["expires_at"]),
        status=item["status"],
        salt=item["salt"],
        kdf=item.get("kdf", "vs1"),
        revoked_at=when("revoked_at"),
        last_used_at=when("last_used_at"),
    )


class KeyStore:
    def __init__(self, table: str, *, retention_days: int = 400, dynamodb: Any = None) -> None:
        self._table = table
        self._retention_days = retention_days
        self._ddb = dynamodb

    @property
    def _client(self) -> Any:
        return self._ddb or client("dynamodb")

    def get_key(self, access_key: str) -> KeyItem | None:
        """Strongly consistent: a revocation is seen by the very next call."""
        try:
            answer = self._client.get_item(
                TableName=self._table,
                Key=dump({"pk": key_pk(access_key), "sk": KEY_SK}),
                ConsistentRead=True,
            )
        except (ClientError, BotoCoreError) as exc:
            raise _unavailable(exc) from exc
        item = answer.get("Item")
        return key_from_item(load(item)) if item else None

    def get_keyset(self, customer_id: str) -> KeySet:
        try:
            answer = self._client.get_item(
                TableName=self._table,
                Key=dump({"pk": keyset_pk(customer_id), "sk": KEYSET_SK}),
                ConsistentRead=True,
            )
        except (ClientError, BotoCoreError) as exc:
            raise _unavailable(exc) from exc
        item = load(answer["Item"]) if answer.get("Item") else None
        if item is None:
            return KeySet(customer_id=customer_id, version=0)
        active = {ak: int(exp) for ak, exp in item.get("active", {}).items()}
        return KeySet(customer_id=customer_id, version=int(item["version"]), active=active)

    def insert_key(self, key: KeyItem, read: KeySet, active: dict[str, int], now: datetime) -> None:
        """Write the key and the customer's new key set atomically, if the set is unchanged."""
        keyset = {
            "pk": keyset_pk(key.owner),
            "sk": KEYSET_SK,
            "type": "keyset",
            "customer_id": key.owner,
            "email": key.owner_email,
            "active": active,
            "version": read.version + 1,
            "updated_at": format_timestamp(now),
        }
        if read.version:
            keyset_condition = {
                "ConditionExpression": "version = :v",
                "ExpressionAttributeValues": dump({":v": read.version}),
            }
        else:
            keyset_condition = {"ConditionExpression": "attribute_not_exists(pk)"}
        items = [
            {"Put": {"TableName": self._table, "Item": dump(keyset), **keyset_condition}},
            {
                "Put": {
                    "TableName": self._table,
                    "Item": dump(key_to_item(key, self._retention_days)),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
        ]
        try:
            self._client.transact_write_items(TransactItems=items)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "TransactionCanceledException":
                raise _unavailable(exc) from exc
            reasons = cancellation_codes(exc)
            if (
                len(reasons) == 2
                and reasons[0] != "ConditionalCheckFailed"
                and reasons[1] == "ConditionalCheckFailed"
            ):
                raise AccessKeyTaken() from None
            raise KeySetContention() from None
        except BotoCoreError as exc:
            raise _unavailable(exc) from exc

    def list_keys(self, customer_id: str) -> list[KeyItem]:
        """Newest first, through the `by-owner` index (eventually consistent)."""
        keys: list[KeyItem] = []
        request: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": OWNER_INDEX,
            "KeyConditionExpression": "#owner = :owner",
            "ExpressionAttributeNames": {"#owner": "owner"},
            "ExpressionAttributeValues": dump({":owner": customer_id}),
            "ScanIndexForward": False,
        }
        try:
            keys.extend(key_from_item(load(item)) for item in all_items(self._client, "query", request))
            return keys
        except (ClientError, BotoCoreError) as exc:
            raise _unavailable(exc) from exc

    def revoke(self, key: KeyItem, now: datetime) -> bool:
        """Mark the key revoked and drop it from the active set; False if it was not active."""
        items = [
            {
                "Update": {
                    "TableName": self._table,
                    "Key": dump({"pk": key_pk(key.access_key), "sk": KEY_SK}),
                    "UpdateExpression": "SET #status = :revoked, revoked_at = :now",
                    "ConditionExpression": "#owner = :owner AND #status = :active",
                    "ExpressionAttributeNames": {"#status": "status", "#owner": "owner"},
                    "ExpressionAttributeValues": dump(
                        {
                            ":revoked": "revoked",
                            ":now": format_timestamp(now),
                            ":owner": key.owner,
                            ":active": "active",
                        }
                    ),
                }
            },
            {
                "Update": {
                    "TableName": self._table,
                    "Key": dump({"pk": keyset_pk(key.owner), "sk": KEYSET_SK}),
                    "UpdateExpression": "REMOVE active.#ak SET version = version + :one, updated_at = :now",
                    "ConditionExpression": "attribute_exists(pk)",
                    "ExpressionAttributeNames": {"#ak": key.access_key},
                    "ExpressionAttributeValues": dump({":one": 1, ":now": format_timestamp(now)}),
                }
            },
        ]
        try:
            self._client.transact_write_items(TransactItems=items)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "TransactionCanceledException":
                raise _unavailable(exc) from exc
            reasons = cancellation_codes(exc)
            if reasons[:1] == ["ConditionalCheckFailed"]:
                return False
            # The key set is missing (should not happen): revoking the key is what matters.
            return self._revoke_key_only(key, now)
        except BotoCoreError as exc:
            raise _unavailable(exc) from exc
        return True

    def _revoke_key_only(self, key: KeyItem, now: datetime) -> bool:
        try:
            self._client.update_item(
                TableName=self._table,
                Key=dump({"pk": key_pk(key.access_key), "sk": KEY_SK}),
                UpdateExpression="SET #status = :revoked, revoked_at = :now",
                ConditionExpression="#owner = :owner AND #status = :active",
                ExpressionAttributeNames={"#status": "status", "#owner": "owner"},
                ExpressionAttributeValues=dump(
                    {
                        ":revoked": "revoked",
                        ":now": format_timestamp(now),
                        ":owner": key.owner,
                        ":active": "active",
                    }
                ),
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise _unavailable(exc) from exc
        except BotoCoreError as exc:
            raise _unavailable(exc) from exc
        return True

    def touch(self, access_key: str, now: datetime, *, not_since: datetime) -> None:
        """Record use; skipped by DynamoDB if another call already did within the interval."""
        try:
            self._client.update_item(
                TableName=self._table,
                Key=dump({"pk": key_pk(access_key), "sk": KEY_SK}),
                UpdateExpression="SET last_used_at = :now",
                ConditionExpression=(
                    "attribute_exists(pk) AND (attribute_not_exists(last_used_at) OR last_used_at < :since)"
                ),
                ExpressionAttributeValues=dump(
                    {":now": format_timestamp(now), ":since": format_timestamp(not_since)}
                ),
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise _unavailable(exc) from exc
        except BotoCoreError as exc:
            raise _unavailable(exc) from exc
