"""Teams (docs/protocol.md §3.2): the team is the customer, people are its members.

A team's id is the customer id every other record is keyed by. A team of one made from an
existing single-user customer has `team_id == the owner's sub`, so keys, usage, the
subscription, audit records and notices recorded before teams existed stay the team's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from shared.timestamps import format_timestamp

OWNER = "owner"
ADMIN = "admin"
DEVELOPER = "developer"
VIEWER = "viewer"
ROLES = (OWNER, ADMIN, DEVELOPER, VIEWER)
INVITABLE_ROLES = (ADMIN, DEVELOPER, VIEWER)  # one owner per team: the creator

PENDING = "pending"
ACCEPTED = "accepted"
EXPIRED = "expired"  # computed from the clock, never stored

INVITATION_ID_RE = re.compile(r"^inv-[a-z2-7]{26}$")
# A deliberately plain address check: Cognito verifies the address by email before it can accept.
EMAIL_RE = re.compile(r"^[^@\s\x00-\x1f\x7f]{1,64}@[A-Za-z0-9.-]{1,189}\.[A-Za-z0-9-]{2,63}$")


def normalize_email(email: str) -> str:
    """Addresses compare case-insensitively (the user pool signs in by email, any case)."""
    return email.strip().lower()


@dataclass(frozen=True)
class Membership:
    """One person's place: the team they act for and their role in it. One per person."""

    sub: str
    team_id: str
    role: str
    email: str
    joined_at: datetime

    def public(self) -> dict:
        return {
            "sub": self.sub,
            "email": self.email,
            "role": self.role,
            "joined_at": format_timestamp(self.joined_at),
        }


@dataclass(frozen=True)
class Invitation:
    invitation_id: str
    team_id: str
    email: str
    role: str
    invited_by: str  # the inviter's email, shown in the invitation email
    created_at: datetime
    expires_at: datetime
    status: str  # PENDING or ACCEPTED as stored; EXPIRED is computed
    accepted_by: str | None = None

    def status_at(self, now: datetime) -> str:
        if self.status == ACCEPTED:
            return ACCEPTED
        return EXPIRED if now >= self.expires_at else PENDING

    def public(self) -> dict:
        return {
            "invitation_id": self.invitation_id,
            "email": self.email,
            "role": self.role,
            "expires_at": format_timestamp(self.expires_at),
        }


@dataclass(frozen=True)
class TeamView:
    """What one query of the team's index returns: its members and its invitations."""

    team_id: str
    members: tuple[Membership, ...]
    invitations: tuple[Invitation, ...]
