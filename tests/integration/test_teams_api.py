"""Teams through the developer API's handler (docs/protocol.md §3.2), on moto in-process:
roles × actions, invitations (created, emailed once, accepted only by the right person,
expired, 409), removal that takes effect at once, and the migration of old-layout customers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends

from tests.plugins.keys_world import (
    AUDIT_TABLE,
    EMAIL,
    KEYS_TABLE,
    SUB,
    TOKEN,
    Answer,
    FakeLambdaContext,
    TableSnapshot,
    Vault,
    _answer,
    cognito_claims,
    iso,
    rest_event,
)
from tests.plugins.platform_tables import DATA_TABLE

REGION = "us-east-1"
SENDER = "notices@vendor.example"
PAGE = "https://developer.vendor.example"

ADMIN_SUB, ADMIN_EMAIL = "a0000000-0000-4000-8000-00000000000a", "admin@example.com"
DEV_SUB, DEV_EMAIL = "d0000000-0000-4000-8000-00000000000d", "dev@example.com"
VIEWER_SUB, VIEWER_EMAIL = "e0000000-0000-4000-8000-00000000000e", "viewer@example.com"
STRANGER_SUB, STRANGER_EMAIL = "f0000000-0000-4000-8000-00000000000f", "stranger@example.com"

RESOURCES = {
    "/v1/team/invitations/": "/v1/team/invitations/{invitation_id}/accept",
    "/v1/team/members/": "/v1/team/members/{sub}",
    "/v1/keys/": "/v1/keys/{access_key}",
}


@dataclass
class Person:
    sub: str
    email: str


OWNER = Person(SUB, EMAIL)
ADMIN = Person(ADMIN_SUB, ADMIN_EMAIL)
DEV = Person(DEV_SUB, DEV_EMAIL)
VIEWER = Person(VIEWER_SUB, VIEWER_EMAIL)
STRANGER = Person(STRANGER_SUB, STRANGER_EMAIL)


class Team:
    def __init__(self, vault: Vault) -> None:
        self.vault = vault

    def call(
        self,
        who: Person,
        method: str,
        path: str,
        body: Any = None,
        *,
        verified: str = "true",
    ) -> Answer:
        import apis.developer_api

        resource, params = path, None
        for prefix, template in RESOURCES.items():
            if path.startswith(prefix):
                resource = template
                value = path[len(prefix) :].removesuffix("/accept")
                name = template.rsplit("{", 1)[1].split("}")[0]
                params = {name: value}
        claims = {**cognito_claims(who.sub, who.email), "email_verified": verified}
        text = body if isinstance(body, str) or body is None else json.dumps(body)
        event = rest_event(
            method,
            path,
            resource=resource,
            body=text,
            headers={"Authorization": TOKEN},
            path_parameters=params,
            claims=claims,
        )
        return _answer(apis.developer_api.handler(event, FakeLambdaContext()))

    def invite(self, by: Person, email: str, role: str) -> Answer:
        return self.call(by, "POST", "/v1/team/invitations", {"email": email, "role": role})

    def accept(self, who: Person, invitation_id: str, **kwargs: Any) -> Answer:
        return self.call(who, "POST", f"/v1/team/invitations/{invitation_id}/accept", **kwargs)

    def join(self, who: Person, role: str, by: Person = OWNER) -> None:
        made = self.invite(by, who.email, role)
        assert made.status == 201, made.body
        answer = self.accept(who, made.body["invitation_id"])
        assert answer.status == 200, answer.body

    def key(self, who: Person, days: int = 30) -> Answer:
        return self.call(
            who, "POST", "/v1/keys", {"expires_at": iso(datetime.now(UTC) + timedelta(days=days))}
        )

    def data(self, prefix: str = "") -> list[dict]:
        return [i for i in self.vault.scan(DATA_TABLE) if i["pk"].startswith(prefix)]

    @staticmethod
    def mails() -> list[Any]:
        return list(ses_backends[DEFAULT_ACCOUNT_ID][REGION].sent_messages)


@pytest.fixture(name="team")
def team_fixture(vault: Vault, monkeypatch: pytest.MonkeyPatch) -> Iterator[Team]:
    import teams.handlers.router
    from shared.config import get_config

    monkeypatch.setenv("VS_NOTICES_SENDER", SENDER)
    monkeypatch.setenv("VS_DEVELOPER_PAGE_URL", PAGE)
    sesv2 = boto3.client("sesv2", region_name=REGION)
    if SENDER not in [i["IdentityName"] for i in sesv2.list_email_identities()["EmailIdentities"]]:
        sesv2.create_email_identity(EmailIdentity=SENDER)
    vault.empty(DATA_TABLE)
    ses_backends[DEFAULT_ACCOUNT_ID][REGION].sent_messages.clear()
    for cached in (get_config, teams.handlers.router.team_store, teams.handlers.router.invitation_mail):
        cached.cache_clear()
    yield Team(vault)
    for cached in (get_config, teams.handlers.router.team_store, teams.handlers.router.invitation_mail):
        cached.cache_clear()


@pytest.fixture(name="seeded_team", scope="module")
def seeded_team_fixture(aws_world: str) -> dict[str, Any]:
    """The full team as the first test that needs it built it through the API, kept for the rest
    of the module (the tables and the emails sent), so the others need not repeat its 6 calls."""
    return {}


@pytest.fixture(name="full_team")
def full_team_fixture(team: Team, seeded_team: dict[str, Any]) -> Team:
    """Owner, admin, developer and viewer: invited and accepted through the API (the first time
    in the module: the invitation tests prove that path), then restored from that state, the
    tables as moto copies them and the same three emails."""
    ses = ses_backends[DEFAULT_ACCOUNT_ID][REGION]
    if not seeded_team:
        team.join(ADMIN, "admin")
        team.join(DEV, "developer")
        team.join(VIEWER, "viewer")
        seeded_team["tables"] = TableSnapshot(KEYS_TABLE, AUDIT_TABLE, DATA_TABLE)
        seeded_team["mails"] = (list(ses.sent_messages), ses.sent_message_count)
        return team
    seeded_team["tables"].restore()
    mails, count = seeded_team["mails"]
    ses.sent_messages[:] = mails
    ses.sent_message_count = count
    return team


# --- GET /v1/team -------------------------------------------------------------------------


def test_everyone_starts_as_owner_of_a_team_of_one(team: Team) -> None:
    answer = team.call(OWNER, "GET", "/v1/team")
    assert answer.status == 200
    assert answer.body["team_id"] == SUB and answer.body["role"] == "owner"
    assert [(m["sub"], m["email"], m["role"]) for m in answer.body["members"]] == [(SUB, EMAIL, "owner")]
    assert answer.body["invitations"] == []
    assert set(answer.body["members"][0]) == {"sub", "email", "role", "joined_at"}


def test_team_lists_members_and_pending_invitations(full_team: Team) -> None:
    pending = full_team.invite(OWNER, "later@example.com", "viewer").body
    answer = full_team.call(VIEWER, "GET", "/v1/team")
    assert answer.status == 200
    assert answer.body["team_id"] == SUB and answer.body["role"] == "viewer"
    assert {m["email"]: m["role"] for m in answer.body["members"]} == {
        EMAIL: "owner",
        ADMIN_EMAIL: "admin",
        DEV_EMAIL: "developer",
        VIEWER_EMAIL: "viewer",
    }
    assert answer.body["invitations"] == [pending]


# --- roles × actions ----------------------------------------------------------------------

ALLOWED = {
    "owner": {
        "list",
        "create",
        "revoke",
        "usage",
        "subscription",
        "link",
        "launch",
        "team",
        "invite",
        "remove",
    },
    "admin": {
        "list",
        "create",
        "revoke",
        "usage",
        "subscription",
        "link",
        "launch",
        "team",
        "invite",
        "remove",
    },
    "developer": {"list", "create", "revoke", "usage", "subscription", "launch", "team"},
    "viewer": {"list", "usage", "subscription", "launch", "team"},
}
PEOPLE = {"owner": OWNER, "admin": ADMIN, "developer": DEV, "viewer": VIEWER}


def _act(team: Team, who: Person, action: str) -> Answer:
    if action == "list":
        return team.call(who, "GET", "/v1/keys")
    if action == "create":
        return team.key(who)
    if action == "revoke":
        key = team.key(OWNER).body["access_key"]
        return team.call(who, "DELETE", f"/v1/keys/{key}")
    if action == "usage":
        return team.call(who, "GET", "/v1/usage")
    if action == "subscription":
        return team.call(who, "GET", "/v1/subscription")
    if action == "link":
        return team.call(who, "POST", "/v1/marketplace/registrations", {"registration_token": "bm90LXJlYWw="})
    if action == "launch":
        return team.call(who, "GET", "/v1/launch")
    if action == "team":
        return team.call(who, "GET", "/v1/team")
    if action == "invite":
        return team.invite(who, f"new-{who.sub[:4]}@example.com", "viewer")
    if action == "remove":
        team.join(STRANGER, "viewer")
        return team.call(who, "DELETE", f"/v1/team/members/{STRANGER_SUB}")
    raise AssertionError(action)


@pytest.mark.parametrize("role", sorted(PEOPLE))
@pytest.mark.parametrize("action", sorted(ALLOWED["owner"]))
def test_each_role_each_action(full_team: Team, role: str, action: str) -> None:
    answer = _act(full_team, PEOPLE[role], action)
    if action in ALLOWED[role]:
        assert answer.code != "Forbidden", (role, action, answer.body)
    else:
        assert (answer.status, answer.code) == (403, "Forbidden"), (role, action, answer.body)
        assert role in answer.body["error"]["message"]


def test_refused_write_changes_nothing(full_team: Team) -> None:
    key = full_team.key(DEV).body["access_key"]
    before = full_team.vault.key_items(), full_team.data()
    assert full_team.call(VIEWER, "DELETE", f"/v1/keys/{key}").status == 403
    assert full_team.key(VIEWER).status == 403
    assert full_team.invite(VIEWER, "x@example.com", "admin").status == 403
    assert full_team.call(DEV, "DELETE", f"/v1/team/members/{VIEWER_SUB}").status == 403
    assert (full_team.vault.key_items(), full_team.data()) == before
    assert len(full_team.mails()) == 3, "only the three setup invitations were emailed"


@pytest.mark.slow(reason="imports the CDK constructs (jsii starts node) to read the developer routes")
def test_every_developer_route_names_its_action() -> None:
    from constructs.developer_keys import ROUTES
    from teams.logic.roles import ROUTE_ACTIONS

    assert set(ROUTES) == set(ROUTE_ACTIONS), "a developer route without a role rule, or a stale rule"


# --- keys belong to the team --------------------------------------------------------------


def test_keys_are_the_teams_with_created_by(full_team: Team) -> None:
    mine = full_team.key(DEV).body
    theirs = full_team.key(ADMIN).body
    listed = full_team.call(VIEWER, "GET", "/v1/keys").body["keys"]
    by_key = {k["access_key"]: k["created_by"] for k in listed}
    assert by_key == {mine["access_key"]: DEV_EMAIL, theirs["access_key"]: ADMIN_EMAIL}
    whoami = full_team.vault.whoami(mine["access_key"], mine["secret_key"])
    assert whoami.status == 200 and whoami.body["customer_id"] == SUB, "the key's customer is the team"
    assert full_team.call(DEV, "DELETE", f"/v1/keys/{theirs['access_key']}").status == 204


def test_audit_records_belong_to_the_team(full_team: Team) -> None:
    full_team.call(DEV, "GET", "/v1/keys")
    records = [r for r in full_team.vault.audit_items() if r["operation"] == "GET /v1/keys"]
    assert records and {r["customer_id"] for r in records} == {SUB}


# --- invitations --------------------------------------------------------------------------


def test_invitation_created_and_emailed_once(team: Team) -> None:
    now = datetime.now(UTC)
    answer = team.invite(OWNER, "New.Person@Example.com", "developer")
    assert answer.status == 201
    body = answer.body
    assert set(body) == {"invitation_id", "email", "role", "expires_at"}
    assert body["role"] == "developer" and body["email"] == "New.Person@Example.com"
    expires = datetime.fromisoformat(body["expires_at"].replace("Z", "+00:00"))
    assert timedelta(days=7) - timedelta(minutes=1) < expires - now <= timedelta(days=7, seconds=5)

    mails = team.mails()
    assert len(mails) == 1
    assert mails[0].destinations["ToAddresses"] == ["New.Person@Example.com"]
    assert mails[0].source == SENDER
    assert f"{PAGE}/#invitation={body['invitation_id']}" in mails[0].body
    assert EMAIL in mails[0].body and "developer" in mails[0].body
    records = team.data("NOTICE#")
    assert [(r["subject"], r["status"]) for r in records] == [(f"INVITE#{body['invitation_id']}", "sent")]

    again = team.invite(OWNER, "new.person@example.com", "viewer")
    assert (again.status, again.code) == (409, "Conflict"), "one pending invitation per address"
    assert len(team.mails()) == 1, "never emailed twice"


def test_invitation_validation(team: Team) -> None:
    for body in (
        {"email": "nobody", "role": "viewer"},
        {"email": "a@example.com", "role": "owner"},
        {"email": "a@example.com", "role": "viewer", "extra": 1},
        {"email": "a@example.com"},
        {"email": ["a@example.com"], "role": "viewer"},
    ):
        answer = team.call(OWNER, "POST", "/v1/team/invitations", body)
        assert (answer.status, answer.code) == (400, "ValidationError"), body
    assert team.data("INVITE") == [] and team.mails() == []


def test_inviting_a_member_is_a_conflict(full_team: Team) -> None:
    answer = full_team.invite(ADMIN, DEV_EMAIL.upper(), "viewer")
    assert (answer.status, answer.code) == (409, "Conflict")


def test_accept_by_the_right_user(team: Team) -> None:
    made = team.invite(OWNER, DEV_EMAIL, "developer").body
    answer = team.accept(DEV, made["invitation_id"])
    assert (answer.status, answer.body) == (200, {"team_id": SUB, "role": "developer"})
    again = team.accept(DEV, made["invitation_id"])
    assert (again.status, again.body) == (200, {"team_id": SUB, "role": "developer"}), "a retry answers alike"
    view = team.call(DEV, "GET", "/v1/team").body
    assert view["team_id"] == SUB and view["role"] == "developer" and view["invitations"] == []
    assert team.data("INVITEFOR#") == [], "the address may be invited again once it has left"


def test_accept_by_the_wrong_user_or_unknown_id_is_404(team: Team) -> None:
    made = team.invite(OWNER, DEV_EMAIL, "developer").body
    for who, invitation_id, verified in (
        (STRANGER, made["invitation_id"], "true"),  # another person
        (DEV, made["invitation_id"], "false"),  # the right address, not verified
        (DEV, "inv-" + "a" * 26, "true"),  # unknown
        (DEV, "not-an-id", "true"),  # malformed
    ):
        answer = team.accept(who, invitation_id, verified=verified)
        assert (answer.status, answer.code) == (404, "NotFound"), (who, invitation_id)
    assert team.call(DEV, "GET", "/v1/team").body["team_id"] == DEV_SUB, "nobody joined"


def test_accept_after_expiry_is_404(team: Team, monkeypatch: pytest.MonkeyPatch) -> None:
    import teams.handlers.router

    made = team.invite(OWNER, DEV_EMAIL, "viewer").body
    later = datetime.now(UTC) + timedelta(days=7, seconds=1)
    monkeypatch.setattr(teams.handlers.router, "utcnow", lambda: later)
    answer = team.accept(DEV, made["invitation_id"])
    assert (answer.status, answer.code) == (404, "NotFound")
    assert team.call(OWNER, "GET", "/v1/team").body["invitations"] == [], "expired ones are not listed"
    again = team.invite(OWNER, DEV_EMAIL, "viewer")
    assert again.status == 201, "an expired invitation does not block a new one"


def test_accept_by_someone_holding_keys_is_409(team: Team) -> None:
    made = team.invite(OWNER, DEV_EMAIL, "developer").body
    assert team.key(DEV).status == 201
    answer = team.accept(DEV, made["invitation_id"])
    assert (answer.status, answer.code) == (409, "Conflict")
    assert team.call(DEV, "GET", "/v1/team").body["team_id"] == DEV_SUB


def test_accept_by_someone_with_a_subscription_is_409(team: Team) -> None:
    made = team.invite(OWNER, DEV_EMAIL, "developer").body
    team.vault.ddb.put_item(
        TableName=DATA_TABLE,
        Item={"pk": {"S": f"SUB#{DEV_SUB}"}, "sk": {"S": "SUB"}, "customer_id": {"S": DEV_SUB}},
    )
    answer = team.accept(DEV, made["invitation_id"])
    assert (answer.status, answer.code) == (409, "Conflict")


def test_accept_by_a_member_of_another_team_is_409(full_team: Team) -> None:
    other = Person("c0000000-0000-4000-8000-00000000000c", "other-owner@example.com")
    made = full_team.call(other, "POST", "/v1/team/invitations", {"email": DEV_EMAIL, "role": "admin"}).body
    answer = full_team.accept(DEV, made["invitation_id"])
    assert (answer.status, answer.code) == (409, "Conflict")
    assert full_team.call(DEV, "GET", "/v1/team").body["team_id"] == SUB


def test_unsent_invitation_is_taken_back(team: Team) -> None:
    sesv2 = boto3.client("sesv2", region_name=REGION)
    sesv2.delete_email_identity(EmailIdentity=SENDER)
    try:
        answer = team.invite(OWNER, DEV_EMAIL, "viewer")
    finally:
        sesv2.create_email_identity(EmailIdentity=SENDER)
    assert answer.status == 503 and answer.code == "ServiceUnavailable"
    assert team.data("INVITE") == [] and team.data("NOTICE#") == [], "nothing half-made stays"
    assert team.invite(OWNER, DEV_EMAIL, "viewer").status == 201, "and a retry works"


# --- removal ------------------------------------------------------------------------------


def test_removal_stops_access_at_once_and_keys_stay(full_team: Team) -> None:
    key = full_team.key(DEV).body
    assert full_team.call(ADMIN, "DELETE", f"/v1/team/members/{DEV_SUB}").status == 204
    # the very next request of the removed person acts for their own (empty) team of one
    listed = full_team.call(DEV, "GET", "/v1/keys")
    assert listed.status == 200 and listed.body["keys"] == []
    revoke = full_team.call(DEV, "DELETE", f"/v1/keys/{key['access_key']}")
    assert (revoke.status, revoke.code) == (404, "NotFound")
    assert full_team.call(DEV, "GET", "/v1/team").body["team_id"] == DEV_SUB
    # the key they made stays the team's, still works, until an admin revokes it
    team_keys = full_team.call(OWNER, "GET", "/v1/keys").body["keys"]
    assert [(k["access_key"], k["created_by"], k["status"]) for k in team_keys] == [
        (key["access_key"], DEV_EMAIL, "active")
    ]
    assert full_team.vault.whoami(key["access_key"], key["secret_key"]).status == 200
    members = {m["sub"] for m in full_team.call(OWNER, "GET", "/v1/team").body["members"]}
    assert DEV_SUB not in members


def test_the_owner_cannot_be_removed(full_team: Team) -> None:
    answer = full_team.call(ADMIN, "DELETE", f"/v1/team/members/{SUB}")
    assert (answer.status, answer.code) == (403, "Forbidden")
    assert full_team.call(OWNER, "GET", "/v1/team").body["role"] == "owner"


def test_removing_a_stranger_or_nobody_is_404(full_team: Team) -> None:
    for sub in (STRANGER_SUB, "nobody"):
        answer = full_team.call(OWNER, "DELETE", f"/v1/team/members/{sub}")
        assert (answer.status, answer.code) == (404, "NotFound")
    other = Person("c0000000-0000-4000-8000-00000000000c", "other-owner@example.com")
    answer = full_team.call(other, "DELETE", f"/v1/team/members/{DEV_SUB}")
    assert (answer.status, answer.code) == (404, "NotFound"), "another team's member is not found"
    assert DEV_SUB in {m["sub"] for m in full_team.call(OWNER, "GET", "/v1/team").body["members"]}


# --- migration of old-layout data ---------------------------------------------------------


def test_old_layout_customer_becomes_a_team_of_one_losing_nothing(team: Team) -> None:
    """Data as written before teams: keys, key set, subscription, usage, notice records, audit,
    all keyed by the customer's sub, and no team or membership item."""
    import keys.handlers.router
    from keys.bodies import CreateKeyRequest
    from keys.dal.key_store import KeyStore
    from keys.logic.keys import create_key
    from shared.callers import Caller
    from shared.config import get_config

    now = datetime.now(UTC)
    request = CreateKeyRequest(expires_at=iso(now + timedelta(days=40)), label="old key")
    old_key = create_key(
        KeyStore("vs-keys"),
        keys.handlers.router.secret_deriver(),
        Caller(SUB, EMAIL),
        request,
        get_config(),
        now,
    )
    old_items = [
        {"pk": f"SUB#{SUB}", "sk": "SUB", "customer_id": SUB, "email": EMAIL, "status": "active",
         "aws_account_id": "123456789012", "product_code": "p", "linked_at": iso(now), "updated_at": iso(now),
         "version": 1, "entitlements": {}},
        {"pk": f"USAGE#{SUB}#2026-11-20", "sk": "requests", "customer_id": SUB, "quantity": 5},
        {"pk": f"NOTICE#{SUB}#KEY#X#30", "sk": "NOTICE", "customer_id": SUB, "status": "sent"},
    ]  # fmt: skip
    from boto3.dynamodb.types import TypeSerializer

    serializer = TypeSerializer()
    for item in old_items:
        team.vault.ddb.put_item(
            TableName=DATA_TABLE, Item={k: serializer.serialize(v) for k, v in item.items()}
        )
    before = team.data()

    # reads act for the implicit team of one and write nothing
    listed = team.call(OWNER, "GET", "/v1/keys").body["keys"]
    assert [(k["access_key"], k["created_by"]) for k in listed] == [(old_key.key.access_key, EMAIL)]
    assert team.call(OWNER, "GET", "/v1/subscription").body["status"] == "active"
    assert team.data() == before, "resolving the caller writes nothing"

    # first use as a team: the team of one is written, keyed by the old customer id
    view = team.call(OWNER, "GET", "/v1/team").body
    assert view["team_id"] == SUB and [m["role"] for m in view["members"]] == ["owner"]
    made = [i["pk"] for i in team.data() if i not in before]
    assert sorted(made) == [f"MEMBER#{SUB}", f"TEAM#{SUB}"]
    assert all(item in team.data() for item in before), "no old item was changed or removed"

    # idempotent: again, the same team and the same joined_at
    assert team.call(OWNER, "GET", "/v1/team").body == view
    from teams.handlers.router import team_store
    from teams.logic.teams import ensure_membership

    again = ensure_membership(team_store(), SUB, EMAIL, now + timedelta(days=1))
    assert again.team_id == SUB and again.joined_at.isoformat()[:19] == view["members"][0]["joined_at"][:19]

    # the old data is the team's: a new member sees the old key and the subscription
    team.join(DEV, "viewer")
    assert [k["access_key"] for k in team.call(DEV, "GET", "/v1/keys").body["keys"]] == [
        old_key.key.access_key
    ]
    assert team.call(DEV, "GET", "/v1/subscription").body["aws_account_id"] == "123456789012"
    assert team.vault.whoami(old_key.key.access_key, old_key.secret_key).body["customer_id"] == SUB


def test_concurrent_first_use_makes_one_team(team: Team, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two first requests racing: the loser's conditional write fails and it reads the winner's."""
    from teams.handlers.router import team_store
    from teams.logic.teams import ensure_membership
    from teams.models import OWNER as OWNER_ROLE
    from teams.models import Membership

    store = team_store()
    first = datetime(2026, 11, 1, tzinfo=UTC)
    store.create_team_of_one(Membership(SUB, SUB, OWNER_ROLE, EMAIL, first))
    reads = iter([None])  # the loser read before the winner wrote
    real = store.get_membership
    monkeypatch.setattr(store, "get_membership", lambda sub: next(reads, real(sub)))
    second = ensure_membership(store, SUB, EMAIL, first + timedelta(hours=1))
    assert second.joined_at == first
    assert len(team.data("MEMBER#")) == 1 and len(team.data("TEAM#")) == 1
