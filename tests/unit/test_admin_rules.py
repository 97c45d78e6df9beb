"""The admin feature's pure parts: approval as a state of the subscription, suspension
transitions, the page token, usage with metered quantity, the dispute CSV, and the sandbox's
SigV4 verifier and resource-policy evaluation (checked against botocore's own signer)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from hypothesis import given
from hypothesis import strategies as st

from admin.logic.standing import resumed, suspended, suspension_message
from admin.logic.usage import usage_rows
from admin.models import PageToken, Standing, decode_token, encode_token
from customer_stack.admin import dispute_csv, table
from sandbox.iam_auth import AuthFailure, IamCredentials, ResourcePolicy, verify
from shared.errors import ValidationError
from subscriptions.logic.approval import NothingToApprove, approve
from subscriptions.logic.registration import with_approval
from subscriptions.models import (
    ACTIVE,
    GRACE,
    INACTIVE,
    PENDING,
    PENDING_APPROVAL,
    UNSUBSCRIBE_PENDING,
    Subscription,
)

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
OPERATOR = "arn:aws:iam::111122223333:role/VendorOperator"


def sub(status: str = ACTIVE, **changes) -> Subscription:
    base = Subscription(
        customer_id="team-1",
        email="a@example.com",
        aws_account_id="111111111111",
        product_code="p",
        status=status,
    )
    return replace(base, **changes)


# ---------------------------------------------------------------------------------- approval


@pytest.mark.parametrize(
    ("stored", "grace_until", "reads"),
    [
        (ACTIVE, None, PENDING_APPROVAL),
        (PENDING, None, PENDING_APPROVAL),
        (UNSUBSCRIBE_PENDING, None, PENDING_APPROVAL),
        (GRACE, NOW + timedelta(days=3), INACTIVE),  # ended before it was ever served
        (INACTIVE, None, INACTIVE),
    ],
)
def test_a_subscription_awaiting_approval_reads_pending_approval_and_cannot_activate(
    stored, grace_until, reads
):
    waiting = sub(stored, approval_required=True, grace_until=grace_until)
    assert waiting.status_at(NOW) == reads
    assert not waiting.allows_activation(NOW)


def test_approval_lets_the_marketplace_state_show_through():
    waiting = sub(ACTIVE, approval_required=True)
    approved = approve(waiting, OPERATOR, NOW)
    assert approved is not None
    assert (approved.approved_at, approved.approved_by) == (NOW, OPERATOR)
    assert approved.status_at(NOW) == ACTIVE and approved.allows_activation(NOW)
    assert approve(approved, OPERATOR, NOW + timedelta(hours=1)) is None  # twice changes nothing
    graced = replace(approved, status=GRACE, grace_until=NOW + timedelta(days=1))
    assert graced.status_at(NOW) == GRACE


def test_a_subscription_that_never_needed_approval_cannot_be_approved():
    with pytest.raises(NothingToApprove):
        approve(sub(ACTIVE), OPERATOR, NOW)


def test_approval_is_kept_across_relinks_and_required_only_for_new_links():
    fresh = sub(ACTIVE)
    assert with_approval(fresh, None, True).awaiting_approval
    assert not with_approval(fresh, None, False).awaiting_approval
    approved = sub(ACTIVE, approval_required=True, approved_at=NOW, approved_by=OPERATOR)
    relinked = with_approval(replace(fresh, aws_account_id="222222222222"), approved, True)
    assert (relinked.approved_at, relinked.approved_by) == (NOW, OPERATOR)
    still_waiting = with_approval(fresh, sub(ACTIVE, approval_required=True), False)
    assert still_waiting.awaiting_approval  # turning the setting off does not approve anyone


# ---------------------------------------------------------------------------------- suspension


def test_suspend_and_resume_transitions():
    before = Standing(team_id="team-1")
    after = suspended(before, "unpaid", OPERATOR, NOW)
    assert after is not None and after.suspended and after.reason == "unpaid" and after.changed_by == OPERATOR
    assert suspended(after, "other reason", OPERATOR, NOW) is None  # the first reason stays
    lifted = resumed(after, OPERATOR, NOW)
    assert lifted is not None and not lifted.suspended and lifted.reason is None
    assert resumed(lifted, OPERATOR, NOW) is None


def test_the_suspension_message_names_the_contact_not_the_reason():
    assert suspension_message("support@example.com") == (
        "The vendor has suspended this account. Contact support@example.com."
    )


# ---------------------------------------------------------------------------------- paging


def test_page_tokens_round_trip():
    for token in (
        PageToken("sub", None),
        PageToken("keys", {"pk": {"S": "CUSTOMER#x"}, "sk": {"S": "KEYSET"}}),
    ):
        assert decode_token(encode_token(token)) == token


@pytest.mark.parametrize(
    "text",
    [
        "",
        "!!!",
        "bm90LWpzb24",  # "not-json"
        encode_token(PageToken("sub", None)).replace("c3Vi", "eHh4"),
        "eyJwIjoic3ViIiwiayI6eyJwayI6eyJOIjoiMSJ9fX0",  # {"p":"sub","k":{"pk":{"N":"1"}}}
        "eyJwIjoic3ViIiwiayI6eyJ4Ijp7IlMiOiIxIn19fQ",  # {"p":"sub","k":{"x":{"S":"1"}}}
        "A" * 3000,
    ],
)
def test_a_token_this_api_did_not_issue_is_400(text):
    with pytest.raises(ValidationError):
        decode_token(text)


@given(st.text(max_size=200))
def test_any_text_as_a_token_is_a_token_or_400(text):
    try:
        decoded = decode_token(text)
    except ValidationError:
        return
    assert decoded.phase in ("sub", "keys")


# ---------------------------------------------------------------------------------- reports


def test_usage_rows_count_only_metered_hours_as_metered():
    items = [
        {
            "type": "usage-hour",
            "customer_id": "t",
            "dimension": "requests",
            "quantity": 5,
            "meter_status": "metered",
        },
        {
            "type": "usage-hour",
            "customer_id": "t",
            "dimension": "requests",
            "quantity": 3,
            "meter_status": "pending",
        },
        {
            "type": "usage-hour",
            "customer_id": "t",
            "dimension": "requests",
            "quantity": 2,
            "meter_status": "duplicate",
        },
        {"type": "usage-day", "customer_id": "t", "dimension": "requests", "quantity": 99},
    ]
    assert usage_rows(items) == [
        {"team_id": "t", "dimension": "requests", "quantity": 10, "metered_quantity": 5}
    ]


def test_dispute_csv_carries_days_and_metering_records():
    report = {
        "team_id": "t",
        "from": "2026-11-01",
        "to": "2026-11-02",
        "days": [
            {
                "date": "2026-11-01",
                "usage": {"requests": 4},
                "calls": 3,
                "success": 2,
                "client_error": 1,
                "server_error": 0,
                "errors": {"RequestExpired": 1},
                "operations": {"POST /v1/usage": 3},
            }
        ],
        "metering_records": [
            {
                "hour": "2026-11-01T10:00:00Z",
                "dimension": "requests",
                "quantity": 4,
                "status": "metered",
                "metering_record_id": "mr-1",
                "metered_at": "2026-11-01T14:05:00Z",
                "error": None,
            }
        ],
    }
    lines = dispute_csv(report).splitlines()
    assert lines[0] == "section,date,usage:requests,calls,success,client_error,server_error,errors"
    assert lines[1] == "day,2026-11-01,4,3,2,1,0,RequestExpired 1"
    assert lines[3] == "section,hour,dimension,quantity,status,metering_record_id,metered_at,error"
    assert lines[4] == "metering,2026-11-01T10:00:00Z,requests,4,metered,mr-1,2026-11-01T14:05:00Z,"
    assert table([], ["a"]) == "(none)"


# ---------------------------------------------------------------------------------- sandbox SigV4

URL = "http://127.0.0.1:9999/v1/admin/customers?status=active&limit=5"


def _signed(creds: dict, method: str = "GET", url: str = URL, body: bytes = b"", region: str = "us-east-1"):
    request = AWSRequest(method=method, url=url, data=body, headers={"Content-Type": "application/json"})
    SigV4Auth(
        Credentials(creds["aws_access_key_id"], creds["aws_secret_access_key"]), "execute-api", region
    ).add_auth(request)
    return dict(request.headers.items())


def _verify(
    credentials: IamCredentials,
    headers: dict,
    *,
    method="GET",
    path="/v1/admin/customers",
    body=b"",
    query=None,
):
    return verify(
        credentials,
        method=method,
        path=path,
        query=query if query is not None else [("status", "active"), ("limit", "5")],
        headers={**headers, "Host": "127.0.0.1:9999"},
        body=body,
        region="us-east-1",
        now=datetime.now(UTC),
    )


def test_the_sandbox_verifies_what_botocore_signs():
    iam = IamCredentials()
    creds = iam.create("arn:aws:iam::123456789012:user/operator")
    principal = _verify(iam, _signed(creds))
    assert principal.principal_arn == principal.caller_arn == "arn:aws:iam::123456789012:user/operator"
    body = b'{"reason":"x"}'
    post = _signed(creds, "POST", "http://127.0.0.1:9999/v1/admin/customers/t/suspend", body)
    assert _verify(iam, post, method="POST", path="/v1/admin/customers/t/suspend", body=body, query=[])


def test_a_role_operator_is_seen_as_its_session():
    iam = IamCredentials()
    creds = iam.create("arn:aws:iam::123456789012:role/ops/Operator")
    principal = _verify(iam, _signed(creds))
    assert principal.principal_arn == "arn:aws:iam::123456789012:role/ops/Operator"
    assert principal.caller_arn == "arn:aws:sts::123456789012:assumed-role/Operator/vendstack-sandbox"


@pytest.mark.parametrize(
    "tamper",
    ["method", "path", "query", "body", "secret", "region", "date", "unsigned", "host"],
)
def test_any_altered_part_fails_the_signature(tamper):
    iam = IamCredentials()
    creds = iam.create("arn:aws:iam::123456789012:user/operator")
    headers = _signed(creds if tamper != "secret" else {**creds, "aws_secret_access_key": "w" * 40})
    headers = _signed(creds, region="eu-west-1") if tamper == "region" else headers
    kwargs: dict = {}
    if tamper == "method":
        kwargs["method"] = "POST"
    if tamper == "path":
        kwargs["path"] = "/v1/admin/usage"
    if tamper == "query":
        kwargs["query"] = [("status", "suspended"), ("limit", "5")]
    if tamper == "body":
        kwargs["body"] = b"{}"
    if tamper == "date":
        headers["X-Amz-Date"] = (datetime.now(UTC) - timedelta(minutes=16)).strftime("%Y%m%dT%H%M%SZ")
    if tamper == "unsigned":
        headers.pop("Authorization")
    if tamper == "host":
        headers = {k: v for k, v in headers.items()}
        with pytest.raises(AuthFailure):
            verify(
                iam,
                method="GET",
                path="/v1/admin/customers",
                query=[("status", "active"), ("limit", "5")],
                headers={**headers, "Host": "evil.example.com"},
                body=b"",
                region="us-east-1",
                now=datetime.now(UTC),
            )
        return
    with pytest.raises(AuthFailure):
        _verify(iam, headers, **kwargs)


def test_resource_policy_denies_principals_not_named_and_allows_the_rest():
    template = {
        "Resources": {
            "Api": {
                "Type": "AWS::ApiGateway::RestApi",
                "Properties": {
                    "Policy": {
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Principal": {"AWS": "*"},
                                "Action": "execute-api:Invoke",
                                "Resource": "execute-api:/*",
                            },
                            {
                                "Effect": "Deny",
                                "Principal": {"AWS": "*"},
                                "Action": "execute-api:Invoke",
                                "Resource": "execute-api:/*/*/v1/admin/*",
                                "Condition": {"StringNotEquals": {"aws:PrincipalArn": [OPERATOR]}},
                            },
                        ]
                    }
                },
            }
        }
    }
    policy = ResourcePolicy.from_template(template)
    assert policy.operator_principals() == [OPERATOR]
    assert policy.allows("prod", "GET", "/v1/admin/customers", OPERATOR)
    assert not policy.allows("prod", "GET", "/v1/admin/customers", "arn:aws:iam::111122223333:user/intern")
    assert not policy.allows("prod", "GET", "/v1/admin/customers", None)
    assert policy.allows("prod", "GET", "/v1/product", None)
    unsupported = {
        "Resources": {
            "Api": {
                "Type": "AWS::ApiGateway::RestApi",
                "Properties": {
                    "Policy": {
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Principal": "*",
                                "Action": "execute-api:Invoke",
                                "Resource": "execute-api:/*",
                                "Condition": {"IpAddress": {"aws:SourceIp": ["10.0.0.0/8"]}},
                            }
                        ]
                    }
                },
            }
        }
    }
    with pytest.raises(ValueError, match="unsupported"):
        ResourcePolicy.from_template(unsupported)
