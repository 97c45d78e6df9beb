"""Usage: the `POST /v1/usage` request body (pydantic).

pydantic is imported here only: the request bodies load on the first request that parses one, not at
a handler's cold start (see "Cold start" in the README). The rest of the feature's types stay in
`usage.models` (standard library only)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from usage.models import MAX_RECORDS


class RawRecord(BaseModel):
    """One record's shape: exactly these four fields (unknown → 400 for the whole request);
    their values are checked one record at a time, so one bad record never blocks the rest."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Any
    dimension: Any
    quantity: Any
    timestamp: Any


class UsageRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    records: list[RawRecord] = Field(min_length=1, max_length=MAX_RECORDS)
