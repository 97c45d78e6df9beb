"""Teams: the invitation request bodies (pydantic).

pydantic is imported here only: the request bodies load on the first request that parses one, not at
a handler's cold start (see "Cold start" in the README). The rest of the feature's types stay in
`teams.models` (standard library only)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, field_validator
from pydantic_core import PydanticCustomError

from teams.models import EMAIL_RE, INVITABLE_ROLES


class InvitationRequest(BaseModel):
    """`POST /v1/team/invitations` body; unknown fields are refused (docs/protocol.md §1)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    email: str
    role: str

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        if len(value) > 254 or not EMAIL_RE.match(value):
            raise PydanticCustomError("email", "must be an email address such as name@example.com")
        return value

    @field_validator("role")
    @classmethod
    def _role(cls, value: str) -> str:
        if value not in INVITABLE_ROLES:
            raise PydanticCustomError("role", "must be one of admin, developer, viewer")
        return value


class AcceptRequest(BaseModel):
    """`POST /v1/team/invitations/{id}/accept` takes no fields: an empty body or `{}`."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)
