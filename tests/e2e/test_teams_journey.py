"""Teams end to end through the sandbox (docs/protocol.md §3.2): an owner invites, the invitee
accepts with their own signed-in account, roles are enforced, and a removal applies at once."""

from __future__ import annotations

import sys
import uuid
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from boto3.dynamodb.types import TypeDeserializer

from tests.plugins import ROOT

sys.path.insert(0, str(ROOT / "runtime"))
from shared.signing import sign_request  # noqa: E402 - the one signing module (runtime/ is a Lambda root)

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("sandbox")]
PASSWORD = "Teams-e2e-Passw0rd!"


def sign_up(api, name: str) -> dict:
    email = f"{name}-{uuid.uuid4().hex[:8]}@example.com"
    status, made, _ = api.call("POST", "/_sandbox/users", {"email": email, "password": PASSWORD})
    assert status == 201, made
    status, body, _ = api.call("POST", "/_sandbox/tokens", {"email": email, "password": PASSWORD})
    assert status == 200
    return {"email": email, "sub": made["sub"], "bearer": {"Authorization": f"Bearer {body['id_token']}"}}


def call(api, who: dict, method: str, path: str, body=None):
    status, answer, _ = api.call(method, path, body, headers=who["bearer"])
    return status, (answer or {}).get("error", {}).get("code"), answer


def whoami(api, key: dict) -> tuple[int, dict]:
    signed = sign_request(key["access_key"], key["secret_key"], "GET", "/v1/whoami", (), b"")
    status, answer, _ = api.call("GET", "/v1/whoami", headers=signed)
    return status, answer


def notice_records(sandbox, team_id: str) -> list[dict]:
    ddb = boto3.session.Session(
        aws_access_key_id="sandbox", aws_secret_access_key="sandbox", region_name="us-east-1"
    ).client("dynamodb", endpoint_url=sandbox["aws_endpoint_url"])
    answer = ddb.scan(
        TableName=sandbox["vendor_outputs"]["DataTable"],
        FilterExpression="begins_with(pk, :p)",
        ExpressionAttributeValues={":p": {"S": f"NOTICE#{team_id}#INVITE#"}},
    )
    return [{k: TypeDeserializer().deserialize(v) for k, v in i.items()} for i in answer["Items"]]


def test_team_roles_invitations_and_removal(api, sandbox) -> None:
    owner, dev, viewer, stranger = (sign_up(api, n) for n in ("owner", "dev", "viewer", "stranger"))

    status, _, team = call(api, owner, "GET", "/v1/team")
    assert status == 200 and team["team_id"] == owner["sub"] and team["role"] == "owner"

    # invitations: created, emailed once (recorded), accepted only by the invitee
    status, _, to_dev = call(
        api, owner, "POST", "/v1/team/invitations", {"email": dev["email"], "role": "developer"}
    )
    assert status == 201 and to_dev["role"] == "developer"
    expires = datetime.fromisoformat(to_dev["expires_at"].replace("Z", "+00:00"))
    assert timedelta(days=6, hours=23) < expires - datetime.now(UTC) <= timedelta(days=7)
    records = notice_records(sandbox, owner["sub"])
    assert [(r["subject"], r["status"]) for r in records] == [(f"INVITE#{to_dev['invitation_id']}", "sent")]
    again = call(api, owner, "POST", "/v1/team/invitations", {"email": dev["email"], "role": "viewer"})
    assert again[:2] == (409, "Conflict") and len(notice_records(sandbox, owner["sub"])) == 1

    accept = f"/v1/team/invitations/{to_dev['invitation_id']}/accept"
    assert call(api, stranger, "POST", accept)[:2] == (404, "NotFound")
    status, _, joined = call(api, dev, "POST", accept)
    assert (status, joined) == (200, {"team_id": owner["sub"], "role": "developer"})

    status, _, to_viewer = call(
        api, dev, "POST", "/v1/team/invitations", {"email": viewer["email"], "role": "viewer"}
    )
    assert (status, _) == (403, "Forbidden"), "a developer cannot invite"
    status, _, to_viewer = call(
        api, owner, "POST", "/v1/team/invitations", {"email": viewer["email"], "role": "viewer"}
    )
    assert call(api, viewer, "POST", f"/v1/team/invitations/{to_viewer['invitation_id']}/accept")[0] == 200

    # roles: the developer makes a key for the team, the viewer only reads
    status, _, key = call(
        api,
        dev,
        "POST",
        "/v1/keys",
        {
            "label": "dev",
            "expires_at": (datetime.now(UTC) + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        },
    )
    assert status == 201
    assert call(api, viewer, "POST", "/v1/keys", {"expires_at": key["expires_at"]})[:2] == (403, "Forbidden")
    assert call(api, viewer, "DELETE", f"/v1/keys/{key['access_key']}")[:2] == (403, "Forbidden")
    status, _, listed = call(api, viewer, "GET", "/v1/keys")
    assert status == 200
    assert [(k["access_key"], k["created_by"]) for k in listed["keys"]] == [(key["access_key"], dev["email"])]
    status, me = whoami(api, key)
    assert status == 200 and me["customer_id"] == owner["sub"], "the key's customer is the team"

    status, _, team = call(api, owner, "GET", "/v1/team")
    assert {m["email"]: m["role"] for m in team["members"]} == {
        owner["email"]: "owner",
        dev["email"]: "developer",
        viewer["email"]: "viewer",
    }

    # removal: at once; the key stays the team's and keeps working
    assert call(api, owner, "DELETE", f"/v1/team/members/{owner['sub']}")[:2] == (403, "Forbidden")
    assert call(api, owner, "DELETE", f"/v1/team/members/{dev['sub']}")[0] == 204
    status, _, mine = call(api, dev, "GET", "/v1/keys")
    assert status == 200 and mine["keys"] == []
    assert call(api, dev, "DELETE", f"/v1/keys/{key['access_key']}")[:2] == (404, "NotFound")
    assert call(api, dev, "GET", "/v1/team")[2]["team_id"] == dev["sub"]
    assert whoami(api, key)[0] == 200
    status, _, listed = call(api, owner, "GET", "/v1/keys")
    assert [k["created_by"] for k in listed["keys"]] == [dev["email"]]
