"""Subscriptions of many customers at once, for the metering job.

Reads the subscriptions feature's items (`pk=SUB#<customer_id>`, `sk=SUB`, layout and parsing
owned by `subscriptions.dal.store`) with BatchGetItem, 100 keys a call and strongly consistent:
`SubscriptionStore.get` would take one call per customer.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from shared.aws import client
from shared.backoff import equal_jitter
from shared.ddb_items import dump, load
from shared.errors import ServiceError
from subscriptions.models import SUB_SK, Subscription, sub_pk, subscription_from_item

GET_BATCH = 100  # BatchGetItem limit
MAX_ROUNDS = 8


class SubscriptionReader:
    def __init__(
        self, table: str, *, dynamodb: Any = None, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self._table = table
        self._ddb = dynamodb
        self._sleep = sleep

    @property
    def ddb(self) -> Any:
        return self._ddb or client("dynamodb")

    def get_many(self, customer_ids: Iterable[str]) -> dict[str, Subscription]:
        ids = sorted(set(customer_ids))
        found: dict[str, Subscription] = {}
        for start in range(0, len(ids), GET_BATCH):
            keys = [dump({"pk": sub_pk(c), "sk": SUB_SK}) for c in ids[start : start + GET_BATCH]]
            request: dict[str, Any] = {self._table: {"Keys": keys, "ConsistentRead": True}}
            for attempt in range(MAX_ROUNDS):
                try:
                    answer = self.ddb.batch_get_item(RequestItems=request)
                except (ClientError, BotoCoreError) as exc:
                    raise ServiceError("The subscription store is unavailable.") from exc
                for raw in (answer.get("Responses") or {}).get(self._table, []):
                    sub = subscription_from_item(load(raw))
                    found[sub.customer_id] = sub
                request = answer.get("UnprocessedKeys") or {}
                if not request:
                    break
                self._sleep(equal_jitter(attempt, base=0.05, cap=2.0))
            else:
                raise ServiceError("The subscription store kept throttling.")
        return found
