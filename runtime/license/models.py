"""Request models of the license feature's own routes (docs/protocol.md §4.3)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class TokenRequest(BaseModel):
    """`POST /v1/license-token` takes `{}`: nothing to choose (the lifetime and entitlements are the
    vendor's), and any field is refused like every unknown field (docs/protocol.md §1)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)
