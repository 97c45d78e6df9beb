"""The vendor admin API end to end through the sandbox (issue 14, items 2 and 3): SigV4 for the
named operator only, suspension and approval as customers see them, the audit trail with the
operator's identity, and the `vendstack admin` command against the running sandbox."""

from __future__ import annotations

import json
import sys
import urllib.parse
import uuid
from datetime import UTC, datetime, timedelta

import boto3
import pytest

from customer_stack import admin as admin_cli
from tests.plugins import ROOT
from tests.plugins.admin_calls import admin_call, customer, iso, signed_headers, whoami_headers

sys.path.insert(0, str(ROOT / "runtime"))
from shared.signing import sign_request  # noqa: E402 - the one signing module

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("sandbox")]
OPERATOR = "arn:aws:iam::123456789012:user/vendstack-operator"


def whoami(api, who: dict) -> tuple[int, str | None]:
    status, answer, _ = api.call("GET", "/v1/whoami", headers=whoami_headers(who["key"]))
    return status, (answer or {}).get("error", {}).get("code")


def _session():
    return boto3.session.Session(
        aws_access_key_id="sandbox", aws_secret_access_key="sandbox", region_name="us-east-1"
    )


def _table(sandbox, fragment: str) -> str:
    ddb = _session().client("dynamodb", endpoint_url=sandbox["aws_endpoint_url"])
    return next(name for name in ddb.list_tables()["TableNames"] if fragment in name)


# ---------------------------------------------------------------------------------- who gets in


def test_the_sandbox_publishes_one_operator(sandbox):
    credentials = sandbox["admin_credentials"]
    assert credentials["aws_access_key_id"].startswith("AKIA")
    assert len(credentials["aws_secret_access_key"]) >= 40


def test_unsigned_and_wrongly_signed_admin_calls_are_refused(sandbox, api):
    url = sandbox["api_url"] + "/v1/admin/customers"
    status, body, _ = api.call("GET", "/v1/admin/customers")
    assert (status, body) == (403, {"message": "Missing Authentication Token"})

    wrong_secret = dict(sandbox["admin_credentials"], aws_secret_access_key="x" * 40)
    status, body, _ = api.call("GET", "/v1/admin/customers", headers=signed_headers(wrong_secret, "GET", url))
    assert status == 403 and "signature" in body["message"]

    unknown = {"aws_access_key_id": "AKIAUNKNOWNUNKNOWN12", "aws_secret_access_key": "y" * 40}
    status, body, _ = api.call("GET", "/v1/admin/customers", headers=signed_headers(unknown, "GET", url))
    assert status == 403 and "security token" in body["message"]

    other_service = signed_headers(sandbox["admin_credentials"], "GET", url, service="s3")
    assert api.call("GET", "/v1/admin/customers", headers=other_service)[0] == 403

    # Signed for one query, sent with another: the signature covers the query string.
    signed = signed_headers(sandbox["admin_credentials"], "GET", url + "?status=active")
    assert api.call("GET", "/v1/admin/customers?status=suspended", headers=signed)[0] == 403

    stale = signed_headers(sandbox["admin_credentials"], "GET", url)
    stale["X-Amz-Date"] = (datetime.now(UTC) - timedelta(minutes=20)).strftime("%Y%m%dT%H%M%SZ")
    assert api.call("GET", "/v1/admin/customers", headers=stale)[0] == 403


def test_customer_keys_and_tokens_never_reach_the_admin_api(sandbox, api):
    who = customer(api)
    headers = sign_request(
        who["key"]["access_key"], who["key"]["secret_key"], "GET", "/v1/admin/customers", (), b""
    )
    assert api.call("GET", "/v1/admin/customers", headers=headers)[0] == 403
    assert api.call("GET", "/v1/admin/customers", headers=who["bearer"])[0] == 403


def test_a_signed_call_by_a_principal_not_named_is_denied_by_the_resource_policy(sandbox, api):
    status, intruder, _ = api.call(
        "POST", "/_sandbox/iam/credentials", {"principal_arn": "arn:aws:iam::123456789012:user/intern"}
    )
    assert status == 201
    status, body, _ = admin_call(sandbox, api, "GET", "/v1/admin/customers", credentials=intruder)
    assert status == 403 and "explicit deny" in body["message"]
    # The same principal still reaches the public routes: the policy's Allow covers them.
    assert api.call("GET", "/v1/product")[0] == 200


# ---------------------------------------------------------------------------------- suspension


def test_suspension_refuses_signed_calls_and_writes_but_not_reads(sandbox, api):
    who = customer(api, account="210000000001")
    assert whoami(api, who) == (200, None)

    status, row, _ = admin_call(
        sandbox, api, "POST", f"/v1/admin/customers/{who['team_id']}/suspend", {"reason": "unpaid invoice"}
    )
    assert status == 200, row
    assert (row["status"], row["suspension_reason"], row["owner_email"]) == (
        "suspended",
        "unpaid invoice",
        who["email"],
    )

    status, code = whoami(api, who)
    assert (status, code) == (403, "AccountSuspended")
    status, body, _ = api.call("GET", "/v1/whoami", headers=whoami_headers(who["key"]))
    assert "support@example.com" in body["error"]["message"]
    assert "unpaid" not in body["error"]["message"]  # the vendor's reason stays the vendor's
    expires = iso(datetime.now(UTC) + timedelta(days=30))
    status, body, _ = api.call("POST", "/v1/keys", {"expires_at": expires}, headers=who["bearer"])
    assert (status, body["error"]["code"]) == (403, "AccountSuspended")
    status, body, _ = api.call("DELETE", f"/v1/keys/{who['key']['access_key']}", headers=who["bearer"])
    assert (status, body["error"]["code"]) == (403, "AccountSuspended")
    assert api.call("GET", "/v1/keys", headers=who["bearer"])[0] == 200
    assert api.call("GET", "/v1/subscription", headers=who["bearer"])[0] == 200

    status, listed, _ = admin_call(sandbox, api, "GET", "/v1/admin/customers?status=suspended&limit=100")
    assert status == 200
    teams = {row["team_id"] for row in listed["customers"]}
    while listed.get("next_token"):
        token = urllib.parse.quote(listed["next_token"])
        listed = admin_call(
            sandbox, api, "GET", f"/v1/admin/customers?status=suspended&limit=100&next_token={token}"
        )[1]
        teams |= {row["team_id"] for row in listed["customers"]}
    assert who["team_id"] in teams

    status, row, _ = admin_call(sandbox, api, "POST", f"/v1/admin/customers/{who['team_id']}/resume")
    assert (status, row["status"]) == (200, "active")
    assert whoami(api, who) == (200, None)

    # Every admin action is in the audit trail, under the team, with the operator's identity.
    audit = _session().client("dynamodb", endpoint_url=sandbox["aws_endpoint_url"])
    day = datetime.now(UTC).strftime("%Y-%m-%d")
    items = audit.query(
        TableName=_table(sandbox, "AuditLog"),
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"{who['team_id']}#{day}"}},
    )["Items"]
    admin_records = [i for i in items if i.get("api", {}).get("S") == "admin"]
    operations = sorted(i["operation"]["S"] for i in admin_records)
    assert operations == [
        "POST /v1/admin/customers/{team_id}/resume",
        "POST /v1/admin/customers/{team_id}/suspend",
    ]
    assert {i["operator"]["S"] for i in admin_records} == {OPERATOR}


def test_suspending_an_unknown_team_is_404_and_bad_input_400(sandbox, api):
    status, body, _ = admin_call(
        sandbox, api, "POST", "/v1/admin/customers/no-such-team/suspend", {"reason": "x"}
    )
    assert (status, body["error"]["code"]) == (404, "NotFound")
    who = customer(api)
    path = f"/v1/admin/customers/{who['team_id']}/suspend"
    for bad in ({}, {"reason": ""}, {"reason": "x", "extra": 1}, {"reason": 7}):
        status, body, _ = admin_call(sandbox, api, "POST", path, bad)
        assert (status, body["error"]["code"]) == (400, "ValidationError"), bad
    status, body, _ = admin_call(sandbox, api, "GET", "/v1/admin/customers?next_token=bm90LWEtdG9rZW4")
    assert (status, body["error"]["code"]) == (400, "ValidationError")
    assert whoami(api, who) == (200, None)  # nothing changed


# ---------------------------------------------------------------------------------- approval


def test_approval_end_to_end(sandbox, api):
    """A subscription linked while approval is required (the flag as `require_approval` writes it at
    registration: `subscriptions.logic.registration.with_approval`) waits for the operator."""
    who = customer(api, account="210000000002")
    ddb = _session().client("dynamodb", endpoint_url=sandbox["aws_endpoint_url"])
    ddb.update_item(
        TableName=sandbox["vendor_outputs"]["DataTable"],
        Key={"pk": {"S": f"SUB#{who['team_id']}"}, "sk": {"S": "SUB"}},
        UpdateExpression="SET approval_required = :yes",
        ExpressionAttributeValues={":yes": {"BOOL": True}},
    )
    assert whoami(api, who) == (402, "SubscriptionPendingApproval")
    status, sub, _ = api.call("GET", "/v1/subscription", headers=who["bearer"])
    assert (status, sub["status"]) == (200, "pending-approval")
    status, listed, _ = admin_call(
        sandbox, api, "GET", "/v1/admin/customers?status=pending-approval&limit=100"
    )
    assert status == 200

    status, row, _ = admin_call(sandbox, api, "POST", f"/v1/admin/customers/{who['team_id']}/approve")
    assert (status, row["status"]) == (200, "active")
    assert whoami(api, who) == (200, None)
    again = admin_call(sandbox, api, "POST", f"/v1/admin/customers/{who['team_id']}/approve")
    assert (again[0], again[1]["status"]) == (200, "active")

    plain = customer(api, account="210000000003")  # linked without the requirement
    status, body, _ = admin_call(sandbox, api, "POST", f"/v1/admin/customers/{plain['team_id']}/approve")
    assert (status, body["error"]["code"]) == (409, "Conflict")


# ---------------------------------------------------------------------------------- reports and CLI


def test_usage_and_dispute_reports(sandbox, api):
    who = customer(api, account="210000000004")
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    body = json.dumps(
        {
            "records": [
                {
                    "id": f"r-{uuid.uuid4().hex[:8]}",
                    "dimension": "requests",
                    "quantity": 7,
                    "timestamp": iso(hour),
                }
            ]
        }
    ).encode()
    headers = sign_request(who["key"]["access_key"], who["key"]["secret_key"], "POST", "/v1/usage", (), body)
    status, answer, _ = api.call("POST", "/v1/usage", headers=headers, raw=body)
    assert (status, answer["accepted"]) == (200, 1)
    today = hour.strftime("%Y-%m-%d")

    status, usage, _ = admin_call(sandbox, api, "GET", f"/v1/admin/usage?from={today}&to={today}")
    assert status == 200
    mine = [row for row in usage["usage"] if row["team_id"] == who["team_id"]]
    assert mine == [
        {"team_id": who["team_id"], "dimension": "requests", "quantity": 7, "metered_quantity": 0}
    ]

    status, report, _ = admin_call(
        sandbox, api, "GET", f"/v1/admin/customers/{who['team_id']}/dispute?from={today}&to={today}"
    )
    assert status == 200, report
    (day,) = report["days"]
    assert day["usage"] == {"requests": 7}
    assert day["calls"] >= 4 and day["success"] >= 4  # key, whoami, registration, usage
    assert day["operations"]["POST /v1/usage"] == 1
    (record,) = report["metering_records"]
    assert (record["dimension"], record["quantity"], record["status"]) == ("requests", 7, "unmetered")


def test_the_cli_lists_suspends_and_reports(sandbox, api, monkeypatch, capsys):
    who = customer(api, account="210000000005")
    credentials = sandbox["admin_credentials"]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", credentials["aws_access_key_id"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", credentials["aws_secret_access_key"])
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    base = ["--api-url", sandbox["api_url"], "--region", "us-east-1"]

    assert admin_cli.main([*base, "suspend", who["team_id"], "--reason", "chargeback"]) == 0
    assert f"{who['team_id']}: suspended (chargeback)" in capsys.readouterr().out
    assert admin_cli.main([*base, "--json", "customers", "--status", "suspended", "--all"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert who["team_id"] in {row["team_id"] for row in listed["customers"]}
    assert admin_cli.main([*base, "customers", "--all"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split() == admin_cli.CUSTOMER_COLUMNS
    assert who["team_id"] in out
    assert admin_cli.main([*base, "resume", who["team_id"]]) == 0
    assert f"{who['team_id']}: active" in capsys.readouterr().out

    today = datetime.now(UTC).strftime("%Y-%m-%d")
    assert admin_cli.main([*base, "dispute", who["team_id"], "--from", today, "--to", today, "--csv"]) == 0
    csv_text = capsys.readouterr().out
    assert csv_text.splitlines()[0].startswith("section,date,")
    assert "\nday," + today in csv_text

    # An operator's wrong credentials: a clear refusal, exit 1, and no secret printed.
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "z" * 40)
    assert admin_cli.main([*base, "customers"]) == 1
    err = capsys.readouterr().err
    assert "403 refused by API Gateway" in err and "z" * 40 not in err
