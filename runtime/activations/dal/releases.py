"""The release records in the platform-data table: read by activations, written by
`customer_stack/publish.py` (the vendor's publish command), in one place.

A publish writes the version's item and the product's CURRENT item in one TransactWriteItems
call, so an activation never sees a CURRENT that names a version without its record. A version is
written once (`attribute_not_exists(pk)`) unless forced.
AWS docs: "TransactWriteItems" (Amazon DynamoDB API Reference,
https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TransactWriteItems.html).
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from activations.models import CURRENT_SK, Release, release_pk, version_sk
from shared.aws import client
from shared.ddb_errors import CONDITION_FAILED, cancellation_codes
from shared.ddb_items import TypeDeserializer, serialize
from shared.errors import ServiceError

_deserializer = TypeDeserializer()


class ReleasePublishedMeanwhile(Exception):
    """Another publish wrote this version first (and `force` was not given)."""


class ReleaseStore:
    def __init__(self, table: str, *, dynamodb: Any = None) -> None:
        self._table = table
        self._ddb = dynamodb

    def current(self, product: str) -> Release | None:
        return self._get(product, CURRENT_SK)

    def version(self, product: str, version: str) -> Release | None:
        return self._get(product, version_sk(version))

    def _get(self, product: str, sk: str) -> Release | None:
        try:
            answer = (self._ddb or client("dynamodb")).get_item(
                TableName=self._table,
                Key={"pk": {"S": release_pk(product)}, "sk": {"S": sk}},
                ConsistentRead=True,
            )
        except (ClientError, BotoCoreError) as exc:
            raise ServiceError("The release store is unavailable; retry later.") from exc
        item = answer.get("Item")
        if not item:
            return None
        return Release.from_item({k: _deserializer.deserialize(v) for k, v in item.items()})

    def record(self, release: Release, *, force: bool) -> None:
        """Write `release` as its version's record and as the product's CURRENT one, together.
        Raises `ReleasePublishedMeanwhile` when the version exists and `force` is off,
        `ServiceError` (with the SDK error as its cause) for anything else."""
        version_put: dict[str, Any] = {"TableName": self._table, "Item": _item(release.version_item())}
        if not force:
            version_put["ConditionExpression"] = "attribute_not_exists(pk)"
        current_put = {"TableName": self._table, "Item": _item(release.current_item())}
        try:
            (self._ddb or client("dynamodb")).transact_write_items(
                TransactItems=[{"Put": version_put}, {"Put": current_put}]
            )
        except ClientError as exc:
            if CONDITION_FAILED in cancellation_codes(exc):
                raise ReleasePublishedMeanwhile(f"{release.product} {release.version}") from None
            raise ServiceError("The release store is unavailable; retry later.") from exc
        except BotoCoreError as exc:
            raise ServiceError("The release store is unavailable; retry later.") from exc


def _item(values: dict[str, Any]) -> dict[str, Any]:
    return {k: serialize(v) for k, v in values.items()}
