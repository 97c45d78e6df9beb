"""Typed models of the admin feature: a customer's standing (suspension), request bodies and the
opaque page token of the customer list.

A team is the customer (docs/protocol.md §3.2): `team_id` is today's customer id, the Cognito
`sub` of the owner, so every record keyed by the customer id is the team's.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.errors import ValidationError

SUSPENDED = "suspended"
# `?status=` values of the customer list: the subscription states, plus suspended (which wins).
LIST_STATUSES = (
    "active",
    "pending",
    "pending-approval",
    "unsubscribe-pending",
    "grace",
    "inactive",
    SUSPENDED,
)
TEAM_ID_RE = re.compile(r"^[A-Za-z0-9-]{1,64}$")
MAX_PAGE = 100


@dataclass(frozen=True)
class Standing:
    """Whether the vendor suspended a team (`pk=STANDING#<team_id>`, `sk=STANDING`)."""

    team_id: str
    suspended: bool = False
    reason: str | None = None
    changed_at: datetime | None = None
    changed_by: str | None = None  # the operator's IAM principal ARN
    version: int = 0  # 0 = not stored yet


def check_team_id(team_id: str) -> str:
    if not TEAM_ID_RE.match(team_id or ""):
        raise ValidationError("team_id: must be 1-64 letters, digits or '-'.")
    return team_id


# ---------------------------------------------------------------------------------- paging

PHASES = ("sub", "keys")  # the list walks subscriptions first, then key sets of customers without one


@dataclass(frozen=True)
class PageToken:
    phase: str
    start_key: dict[str, Any] | None  # DynamoDB ExclusiveStartKey of the phase's scan


def encode_token(token: PageToken) -> str:
    raw = json.dumps({"p": token.phase, "k": token.start_key}, separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(raw.encode("utf-8")).decode("ascii").rstrip("=")


def decode_token(text: str) -> PageToken:
    """A `next_token` as this API issued it; anything else is `400`, never a scan from elsewhere."""
    bad = ValidationError("next_token: not a token this API issued.")
    if not text or len(text) > 2048:
        raise bad
    try:
        document = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise bad from None
    if not isinstance(document, dict) or set(document) != {"p", "k"} or document["p"] not in PHASES:
        raise bad
    key = document["k"]
    if key is not None:
        if not isinstance(key, dict) or not key or set(key) - {"pk", "sk"}:
            raise bad
        for value in key.values():
            if not (isinstance(value, dict) and set(value) == {"S"} and isinstance(value["S"], str)):
                raise bad
            if len(value["S"]) > 1024:
                raise bad
    return PageToken(document["p"], key)
