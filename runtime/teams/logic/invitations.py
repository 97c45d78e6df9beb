"""Invitation rules, pure: ids, lifetime, who may accept, and the email's text.

An invitation is `pending` until accepted or until it expires (7 days, docs/protocol.md §3.2).
Only the signed-in person whose *verified* email equals the invitation's may accept; anyone
else, an unknown id and an expired invitation all look the same (`404`), so an invitation id
reveals nothing to someone who is not its invitee.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from shared.errors import NotFound
from teams.models import ACCEPTED, INVITATION_ID_RE, PENDING, Invitation, normalize_email

LIFETIME = timedelta(days=7)
MAX_PENDING = 25  # per team: an inviting admin cannot turn the vendor's sender into a mailer
_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"


def new_invitation_id() -> str:
    """`inv-` and 26 base32 characters: 130 random bits."""
    return "inv-" + "".join(secrets.choice(_ALPHABET) for _ in range(26))


def is_invitation_id(value: str) -> bool:
    return bool(INVITATION_ID_RE.match(value))


def email_verified(claims_value: object) -> bool:
    """API Gateway passes every claim as a string: `email_verified` is `"true"` when verified."""
    return claims_value is True or (isinstance(claims_value, str) and claims_value.lower() == "true")


def check_acceptable(
    invitation: Invitation | None, *, sub: str, email: str, verified: bool, now: datetime
) -> bool:
    """True when the invitation may be accepted now by this person; False when this very
    person already accepted it (a retry). Raises `NotFound` for everyone and everything else."""
    unknown = NotFound("No such invitation for your email address (it may have expired).")
    if invitation is None or not verified:
        raise unknown
    if normalize_email(invitation.email) != normalize_email(email):
        raise unknown
    state = invitation.status_at(now)
    if state == ACCEPTED:
        if invitation.accepted_by == sub:
            return False
        raise unknown
    if state != PENDING:
        raise unknown
    return True


def invitation_email(invitation: Invitation, *, product: str, page_url: str) -> tuple[str, str]:
    """(subject, text). Names the inviter and the role; carries no secret of anyone."""
    link = f"{page_url.rstrip('/')}/#invitation={invitation.invitation_id}" if page_url else ""
    where = (
        f"Open {link} and sign in (or sign up) with this email address"
        if link
        else f"Sign in to the {product} developer page with this email address and accept "
        f"invitation {invitation.invitation_id}"
    )
    until = invitation.expires_at.strftime("%Y-%m-%d %H:%M UTC")
    text = (
        f"Hello,\n\n"
        f"{invitation.invited_by} invited you to join their team on {product} as {invitation.role}.\n\n"
        f"{where}. The invitation expires on {until}.\n\n"
        f"If you did not expect this, ignore this email: nothing happens unless you accept.\n"
    )
    return f"You are invited to a {product} team", text
