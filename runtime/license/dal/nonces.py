"""Nonces seen per access key, in the keys table: pk `NONCE#<access_key>#<nonce>`, sk `NONCE`.

The item lives until the end of the window in which a request carrying it could still be
accepted; DynamoDB TTL removes it later, and until then an expired item counts as absent.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from shared.aws import client
from shared.errors import ReplayDetected, ServiceError

NONCE_SK = "NONCE"


class NonceStore:
    def __init__(self, table: str, *, dynamodb: Any = None) -> None:
        self._table = table
        self._ddb = dynamodb

    def remember(self, access_key: str, nonce: str, *, until: int, now: int) -> None:
        """Record first use; a second use inside the window is a replay."""
        try:
            (self._ddb or client("dynamodb")).put_item(
                TableName=self._table,
                Item={
                    "pk": {"S": f"NONCE#{access_key}#{nonce}"},
                    "sk": {"S": NONCE_SK},
                    "type": {"S": "nonce"},
                    "ttl": {"N": str(until)},
                },
                ConditionExpression="attribute_not_exists(pk) OR #ttl < :now",
                ExpressionAttributeNames={"#ttl": "ttl"},
                ExpressionAttributeValues={":now": {"N": str(now)}},
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                raise ReplayDetected("This nonce was already used with this access key.") from None
            raise ServiceError("The key store is unavailable; retry later.") from exc
        except BotoCoreError as exc:
            raise ServiceError("The key store is unavailable; retry later.") from exc
