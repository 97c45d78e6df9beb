"""Teams (docs/protocol.md §3.2): who the caller is, the team, invitations and removal.

**Migration of single-user customers: lazily, when the team is first used as a team.** Every
record made before teams existed is keyed by the customer's sub, and a team made from that
customer has `team_id == sub`, so no existing record is rewritten. A person with no membership
item is, by definition, the owner of their own team of one: `resolve_caller` answers that from
the one read it makes, and writes nothing (a refused request changes nothing). The team item
and the owner's membership are written, in one conditional transaction, the first time the
team is looked at or changed as a team (`GET /v1/team`, an invitation), exactly as for a new
sign-up. That is idempotent (a second writer finds the membership and reads it), resumable
(per person; one transaction, so nothing is half-done), and needs no scan, no downtime and no
one-off job to schedule or forget. The jobs that look teams up (notices) treat a team with no
items the same way: its owner is the person whose email the customer's own records carry.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from aws_lambda_powertools import Logger

from notices.dal.mailer import Mailer, MailError
from notices.dal.notice_store import NoticeStore
from shared.callers import Caller
from shared.errors import Conflict, Forbidden, NotFound, ServiceError
from teams.dal.team_store import AlreadyExists, TeamStore, TransactionConflict
from teams.logic.invitations import (
    LIFETIME,
    MAX_PENDING,
    check_acceptable,
    invitation_email,
    is_invitation_id,
    new_invitation_id,
)
from teams.models import OWNER, PENDING, Invitation, Membership, normalize_email

if TYPE_CHECKING:
    from teams.bodies import InvitationRequest

logger = Logger(child=True)
_SUB_RE = re.compile(r"^[A-Za-z0-9-]{1,128}$")  # a Cognito sub (a UUID); anything else is nobody


@dataclass(frozen=True)
class InvitationMail:
    """The notices sender, its never-twice records, and what the email links to."""

    mailer: Mailer
    records: NoticeStore
    product: str
    page_url: str


def ensure_membership(store: TeamStore, sub: str, email: str, now: datetime) -> Membership:
    """The person's membership, writing their team of one if it was only implicit (the migration)."""
    membership = store.get_membership(sub)
    if membership is not None:
        return membership
    owner = Membership(sub=sub, team_id=sub, role=OWNER, email=email, joined_at=now)
    try:
        store.create_team_of_one(owner)
    except AlreadyExists:
        made = store.get_membership(sub)  # a concurrent first request made it: use theirs
        if made is None:
            raise ServiceError("Your team changed while we read it; retry.") from None
        return made
    logger.info("team of one created", extra={"team_id": sub})
    return owner


def resolve_caller(store: TeamStore, sub: str, email: str) -> Caller:
    """Who is calling and for which team: one strongly consistent read, no write. No membership
    means the person's own team of one (a new sign-up, an unmigrated customer, a removed member)."""
    membership = store.get_membership(sub)
    if membership is None:
        return Caller(customer_id=sub, email=email, sub=sub, role=OWNER)
    return Caller(customer_id=membership.team_id, email=email, sub=sub, role=membership.role)


def _materialize(store: TeamStore, caller: Caller, now: datetime) -> None:
    if caller.customer_id == caller.person and caller.role == OWNER:
        ensure_membership(store, caller.person, caller.email, now)


def team_document(store: TeamStore, caller: Caller, now: datetime) -> dict:
    _materialize(store, caller, now)
    view = store.team_view(caller.customer_id)
    return {
        "team_id": caller.customer_id,
        "role": caller.role,
        "members": [m.public() for m in view.members],
        "invitations": [i.public() for i in view.invitations if i.status_at(now) == PENDING],
    }


def invite(
    store: TeamStore, mail: InvitationMail, caller: Caller, request: InvitationRequest, now: datetime
) -> Invitation:
    """Record the invitation, then email it exactly once; if the email cannot be sent, the
    invitation is taken back (503) so nothing half-made stays."""
    _materialize(store, caller, now)
    view = store.team_view(caller.customer_id)
    wanted = normalize_email(request.email)
    if any(normalize_email(m.email) == wanted for m in view.members):
        raise Conflict("That person is already a member of your team.")
    pending = [i for i in view.invitations if i.status_at(now) == PENDING]
    if len(pending) >= MAX_PENDING:
        raise Conflict(f"Your team already has {MAX_PENDING} pending invitations; wait for some to expire.")
    invitation = Invitation(
        invitation_id=new_invitation_id(),
        team_id=caller.customer_id,
        email=request.email.strip(),
        role=request.role,
        invited_by=caller.email,
        created_at=now,
        expires_at=now + LIFETIME,
        status=PENDING,
    )
    try:
        store.insert_invitation(invitation, now)
    except AlreadyExists:
        raise Conflict("That address already has a pending invitation to your team.") from None
    if not _email_once(mail, invitation, now):
        store.cancel_invitation(invitation)
        raise ServiceError("The invitation email could not be sent; nothing was kept. Retry later.")
    return invitation


def _email_once(mail: InvitationMail, invitation: Invitation, now: datetime) -> bool:
    """Claim the send in the notices records first, so the same invitation is never emailed
    twice; a failed send releases the claim."""
    subject_key = f"INVITE#{invitation.invitation_id}"
    run_id = invitation.invitation_id
    if not mail.records.claim(
        invitation.team_id, subject_key, run_id=run_id, now=now, expires=invitation.expires_at + LIFETIME
    ):
        return True  # already sent (or being sent) for this invitation: never twice
    subject, text = invitation_email(invitation, product=mail.product, page_url=mail.page_url)
    try:
        message_id = mail.mailer.send(invitation.email, subject, text)
    except MailError as exc:
        mail.records.release(invitation.team_id, subject_key, run_id=run_id)
        logger.warning(
            "invitation email not sent", extra={"team_id": invitation.team_id, "error_code": exc.code}
        )
        return False
    mail.records.confirm(invitation.team_id, subject_key, run_id=run_id, now=now, message_id=message_id)
    logger.info("invitation emailed", extra={"team_id": invitation.team_id})
    return True


def accept(store: TeamStore, caller: Caller, invitation_id: str, *, verified: bool, now: datetime) -> dict:
    """Join the invitation's team. The person must be alone in their own team, with no keys
    and no subscription there: moving them would strand those records (409)."""
    invitation = store.get_invitation(invitation_id) if is_invitation_id(invitation_id) else None
    fresh = check_acceptable(invitation, sub=caller.person, email=caller.email, verified=verified, now=now)
    assert invitation is not None  # noqa: S101 - check_acceptable raised otherwise
    answer = {"team_id": invitation.team_id, "role": invitation.role}
    if not fresh:
        return answer  # this person already accepted it: the same answer again
    if caller.customer_id == invitation.team_id:
        raise Conflict("You are already a member of this team.")
    if caller.customer_id != caller.person or caller.role != OWNER:
        raise Conflict("You are a member of another team; ask its owner or an admin to remove you first.")
    own = store.team_view(caller.person)
    if any(m.sub != caller.person for m in own.members) or own.invitations:
        raise Conflict("Your own team has other members or invitations; remove them first.")
    if store.holds_records(caller.person):
        raise Conflict("You already hold keys or a linked subscription in your own team.")
    joining = Membership(
        sub=caller.person, team_id=invitation.team_id, role=invitation.role, email=caller.email, joined_at=now
    )
    try:
        store.accept(invitation, joining, caller.person, now)
    except TransactionConflict as exc:
        if exc.reasons[:1] == ["ConditionalCheckFailed"]:
            raise NotFound("No such invitation for your email address (it may have expired).") from None
        raise Conflict("Your own team changed (a key or a subscription); you cannot join now.") from None
    logger.info("invitation accepted", extra={"team_id": invitation.team_id, "role": invitation.role})
    return answer


def remove_member(store: TeamStore, caller: Caller, sub: str) -> None:
    """Owner and admins remove anyone but the owner; a member of another team, or nobody, is
    `404`. The person's next request resolves to no membership in this team."""
    target = store.get_membership(sub) if _SUB_RE.match(sub) else None
    if target is None or target.team_id != caller.customer_id:
        raise NotFound("No such member of your team.")
    if target.role == OWNER:
        raise Forbidden("The team's owner cannot be removed.")
    if not store.remove_member(target):
        raise NotFound("No such member of your team.")
    logger.info("member removed", extra={"team_id": caller.customer_id, "role": target.role})
