"""The key vault's typed models, shared by the developer API (keys) and the license API.

A key item holds no secret: the secret key is derived on demand from the KMS HMAC key,
the access key and the item's random salt (see `keys.dal.secrets`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import datetime

from shared.timestamps import format_timestamp

ACCESS_KEY_RE = re.compile(r"^VSAK[A-Z2-7]{16}$")

ACTIVE = "active"
EXPIRED = "expired"
REVOKED = "revoked"


@dataclass(frozen=True)
class KeyItem:
    access_key: str
    owner: str  # the team (customer id)
    owner_email: str  # who in the team created it: `created_by` on the wire
    label: str | None
    created_at: datetime
    expires_at: datetime
    status: str  # ACTIVE or REVOKED as stored; EXPIRED is computed from the clock
    salt: str
    kdf: str = "vs1"
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None

    def status_at(self, now: datetime) -> str:
        if self.status == REVOKED:
            return REVOKED
        return EXPIRED if now >= self.expires_at else ACTIVE

    def public(self, now: datetime) -> dict:
        """The `GET /v1/keys` entry: never the salt, never anything secret."""
        return {
            "access_key": self.access_key,
            "label": self.label,
            "created_at": format_timestamp(self.created_at),
            "expires_at": format_timestamp(self.expires_at),
            "status": self.status_at(now),
            "last_used_at": format_timestamp(self.last_used_at) if self.last_used_at else None,
            "created_by": self.owner_email,
        }

    def revoked(self, when: datetime) -> KeyItem:
        return replace(self, status=REVOKED, revoked_at=when)


@dataclass(frozen=True)
class KeySet:
    """Per-customer record of active keys: read and written under an optimistic version."""

    customer_id: str
    version: int  # 0 = no item yet
    active: dict[str, int] = field(default_factory=dict)  # access_key → expires_at epoch seconds

    def live(self, now: datetime) -> dict[str, int]:
        cutoff = int(now.timestamp())
        return {ak: exp for ak, exp in self.active.items() if exp > cutoff}


@dataclass(frozen=True)
class CreatedKey:
    key: KeyItem
    secret_key: str = field(repr=False)

    def document(self) -> dict:
        """The `201` body: the only place the secret ever appears."""
        return {
            "access_key": self.key.access_key,
            "secret_key": self.secret_key,
            "label": self.key.label,
            "created_at": format_timestamp(self.key.created_at),
            "expires_at": format_timestamp(self.key.expires_at),
            "status": ACTIVE,
        }


# -- item layout (the keys table): the key set item, also read by the team store

KEYSET_SK = "KEYSET"


def keyset_pk(customer_id: str) -> str:
    return f"CUSTOMER#{customer_id}"
