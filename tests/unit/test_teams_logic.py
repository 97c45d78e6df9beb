"""Pure team rules: the role table and the invitation state (no AWS)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.errors import Forbidden, NotFound
from teams.bodies import InvitationRequest
from teams.logic import roles
from teams.logic.invitations import (
    LIFETIME,
    check_acceptable,
    email_verified,
    invitation_email,
    is_invitation_id,
    new_invitation_id,
)
from teams.models import ACCEPTED, PENDING, ROLES, Invitation

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def invitation(**changes: object) -> Invitation:
    base = {
        "invitation_id": new_invitation_id(),
        "team_id": "team-1",
        "email": "Dev@Example.com",
        "role": "developer",
        "invited_by": "owner@example.com",
        "created_at": NOW,
        "expires_at": NOW + LIFETIME,
        "status": PENDING,
    }
    return Invitation(**{**base, **changes})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        ("owner", {roles.READ, roles.WRITE_KEYS, roles.LINK_SUBSCRIPTION, roles.MANAGE, roles.JOIN}),
        ("admin", {roles.READ, roles.WRITE_KEYS, roles.LINK_SUBSCRIPTION, roles.MANAGE, roles.JOIN}),
        ("developer", {roles.READ, roles.WRITE_KEYS, roles.JOIN}),
        ("viewer", {roles.READ, roles.JOIN}),
        ("superuser", set()),
    ],
)
def test_role_table(role: str, allowed: set[str]) -> None:
    every = {roles.READ, roles.WRITE_KEYS, roles.LINK_SUBSCRIPTION, roles.MANAGE, roles.JOIN}
    assert {a for a in every if roles.allows(role, a)} == allowed


def test_every_role_is_in_the_table() -> None:
    assert set(roles.PERMISSIONS) == set(ROLES)


def test_unlisted_routes_fail_closed() -> None:
    assert roles.action_for("GET", "/v1/something-new") == roles.READ
    assert roles.action_for("POST", "/v1/something-new") == roles.MANAGE
    assert roles.action_for("DELETE", "/v1/something-new") == roles.MANAGE
    with pytest.raises(Forbidden):
        roles.authorize("developer", "PUT", "/v1/something-new")
    roles.authorize("admin", "PUT", "/v1/something-new")


def test_authorize_names_the_role_not_the_rule() -> None:
    with pytest.raises(Forbidden, match="viewer"):
        roles.authorize("viewer", "POST", "/v1/keys")


def test_invitation_ids() -> None:
    made = {new_invitation_id() for _ in range(100)}
    assert len(made) == 100 and all(is_invitation_id(i) for i in made)
    assert not is_invitation_id("inv-" + "A" * 26) and not is_invitation_id("../inv")


def test_accept_rules() -> None:
    inv = invitation()
    assert check_acceptable(inv, sub="s1", email="dev@example.COM", verified=True, now=NOW) is True
    for kwargs in (
        {"email": "other@example.com", "verified": True, "now": NOW},
        {"email": "dev@example.com", "verified": False, "now": NOW},
        {"email": "dev@example.com", "verified": True, "now": NOW + LIFETIME},
    ):
        with pytest.raises(NotFound):
            check_acceptable(inv, sub="s1", **kwargs)  # type: ignore[arg-type]
    with pytest.raises(NotFound):
        check_acceptable(None, sub="s1", email="dev@example.com", verified=True, now=NOW)
    done = invitation(status=ACCEPTED, accepted_by="s1")
    assert check_acceptable(done, sub="s1", email="dev@example.com", verified=True, now=NOW) is False
    with pytest.raises(NotFound):
        check_acceptable(done, sub="s2", email="dev@example.com", verified=True, now=NOW)
    assert done.status_at(NOW + timedelta(days=30)) == ACCEPTED


def test_email_verified_claim() -> None:
    assert email_verified("true") and email_verified("True") and email_verified(True)
    assert not email_verified("false") and not email_verified(None) and not email_verified("1")


def test_invitation_request_rules() -> None:
    assert InvitationRequest.model_validate({"email": "a@b.example", "role": "viewer"}).role == "viewer"
    for body in (
        {"email": "a@b.example", "role": "owner"},
        {"email": "a b@b.example", "role": "viewer"},
        {"email": "a@b", "role": "viewer"},
        {"email": "x" * 250 + "@b.example", "role": "viewer"},
    ):
        with pytest.raises(ValueError):
            InvitationRequest.model_validate(body)


def test_invitation_email_names_the_link_and_no_secret() -> None:
    inv = invitation()
    subject, text = invitation_email(inv, product="textlens", page_url="https://dev.example/")
    assert "textlens" in subject
    assert f"https://dev.example/#invitation={inv.invitation_id}" in text
    assert "owner@example.com" in text and "developer" in text and "2026-12-04 12:00 UTC" in text
