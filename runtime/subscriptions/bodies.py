"""Subscriptions: the registration request body (pydantic).

pydantic is imported here only: the request bodies load on the first request that parses one, not at
a handler's cold start (see "Cold start" in the README). The rest of the feature's types stay in
`subscriptions.models` (standard library only)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, field_validator
from pydantic_core import PydanticCustomError


class RegistrationRequest(BaseModel):
    """`POST /v1/marketplace/registrations` body; unknown fields are refused (docs/protocol.md §1)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    registration_token: str

    @field_validator("registration_token")
    @classmethod
    def _token(cls, value: str) -> str:
        # The token is opaque and base64-like; AWS's model allows any non-empty string.
        if not value.strip() or len(value) > 4096:
            raise PydanticCustomError("token", "must be the x-amzn-marketplace-token value")
        return value.strip()
