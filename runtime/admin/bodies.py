"""Admin: the operators' request bodies (pydantic).

pydantic is imported here only: the request bodies load on the first request that parses one, not at
a handler's cold start (see "Cold start" in the README). The rest of the feature's types stay in
`admin.models` (standard library only)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, field_validator
from pydantic_core import PydanticCustomError


class SuspendRequest(BaseModel):
    """`POST /v1/admin/customers/{team_id}/suspend` body."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    reason: str

    @field_validator("reason")
    @classmethod
    def _reason(cls, value: str) -> str:
        if not (1 <= len(value.strip()) <= 500 and value.isprintable()):
            raise PydanticCustomError("reason", "must be 1-500 printable characters")
        return value.strip()


class EmptyRequest(BaseModel):
    """Approve and resume take no fields: an empty body or `{}`."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)
