"""Keys: the `POST /v1/keys` request body (pydantic).

pydantic is imported here only: the request bodies load on the first request that parses one, not at
a handler's cold start (see "Cold start" in the README). The rest of the feature's types stay in
`keys.models` (standard library only)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, field_validator
from pydantic_core import PydanticCustomError

from shared.timestamps import parse_timestamp


class CreateKeyRequest(BaseModel):
    """`POST /v1/keys` body; unknown fields are refused (docs/protocol.md §1)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    label: str | None = None
    expires_at: str

    @field_validator("label")
    @classmethod
    def _label(cls, value: str | None) -> str | None:
        if value is not None and not (1 <= len(value) <= 64 and value.isprintable()):
            raise PydanticCustomError("label", "must be 1-64 printable characters")
        return value

    @field_validator("expires_at")
    @classmethod
    def _expires_at(cls, value: str) -> str:
        try:
            parse_timestamp(value)
        except ValueError:
            raise PydanticCustomError(
                "timestamp", "must be an RFC 3339 UTC timestamp such as 2027-05-01T00:00:00Z"
            ) from None
        return value

    def expiry(self) -> datetime:
        return parse_timestamp(self.expires_at)
