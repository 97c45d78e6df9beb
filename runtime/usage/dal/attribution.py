"""Which activation sent a usage request.

The wire format carries no activation id (docs/protocol.md §4.2), so a record is attributed to the
access key that signed it and, when the customer has exactly one active activation made with
that key, to that activation too. Two stacks launched with one key are `ambiguous`; a key with
no activation (a test script, say) is `key-only`. Attribution never fails a request: if the
activation store cannot be read, the records are attributed to the key alone.

Lookups are cached per access key for a few minutes in the warm function.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger

from shared.errors import ApiError
from usage.models import Attribution

logger = Logger(child=True)
CACHE_SECONDS = 300.0
_CACHE_LIMIT = 10_000


class ActivationAttributor:
    def __init__(
        self,
        activations: Any | None,
        *,
        cache_seconds: float = CACHE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._activations = activations  # an `activations.dal.activation_store.ActivationStore`
        self._cache_seconds = cache_seconds
        self._clock = clock
        self._cache: dict[tuple[str, str], tuple[float, Attribution]] = {}

    def attribute(self, customer_id: str, access_key: str) -> Attribution:
        key = (customer_id, access_key)
        cached = self._cache.get(key)
        now = self._clock()
        if cached is not None and now - cached[0] < self._cache_seconds:
            return cached[1]
        answer = self._lookup(customer_id, access_key)
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()
        self._cache[key] = (now, answer)
        return answer

    def _lookup(self, customer_id: str, access_key: str) -> Attribution:
        if self._activations is None:
            return Attribution(access_key=access_key)
        try:
            found = self._activations.for_customer(customer_id)
        except ApiError:
            logger.warning("activation lookup failed; usage attributed to the key only")
            return Attribution(access_key=access_key)
        ids = sorted(a.activation_id for a in found if a.access_key == access_key and a.status == "active")
        if len(ids) == 1:
            return Attribution(access_key=access_key, activation_id=ids[0], kind="activation")
        return Attribution(access_key=access_key, kind="ambiguous" if ids else "key-only")
