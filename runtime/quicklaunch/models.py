"""Typed models of Quick Launch's deployment keys (README "Quick Launch").

One `DeploymentKey` per (customer, agreement): the key the platform issued for that AWS
Marketplace agreement and delivered to the buyer's account with PutDeploymentParameter. It holds
the access key only; the secret is derived from the key vault when it is delivered, never stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

ISSUING = "issuing"  # key drawn (and maybe created), not yet delivered
DELIVERED = "delivered"  # PutDeploymentParameter answered
REVOKED = "revoked"  # revoked after its agreement's grace (or replaced agreement's grace) ended

LABEL_PREFIX = "AWS Marketplace Quick Launch "


def deployment_key_label(agreement_id: str) -> str:
    """The key's label in the customer's key list (1-64 printable characters)."""
    return (LABEL_PREFIX + agreement_id)[:64]


@dataclass(frozen=True)
class DeploymentKey:
    customer_id: str
    agreement_id: str
    access_key: str
    state: str  # ISSUING | DELIVERED | REVOKED
    created_at: datetime
    delivered_at: datetime | None = None
    revoke_after: datetime | None = None  # set once the agreement is no longer the live one
    attempts: int = 0  # failed delivery attempts since the last success
    last_error: str | None = None  # an error code, never a message that could carry a secret
