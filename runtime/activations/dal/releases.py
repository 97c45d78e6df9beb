"""Reads the current release (written by `customer_stack/publish.py`) from the platform-data table."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from activations.models import CURRENT_SK, Release, release_pk, version_sk
from shared.aws import client
from shared.ddb_items import TypeDeserializer
from shared.errors import ServiceError

_deserializer = TypeDeserializer()


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
