"""`ApiAuthorization=NONE` in the buyer's account: the solution API has no IAM authorization, and
the template's Lambda REQUEST authorizer (the license check) runs in front of every call, as API
Gateway runs it (sandbox/lambda_authorizer.py). An entitled buyer's unsigned call passes; once
the subscription has ended and its grace has passed, calls answer 402 in the protocol's error
body, through the template's ACCESS_DENIED gateway response."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from tests.plugins.synth import load_context

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("synth")]
PASSWORD = "Authorizer-e2e-Passw0rd!"
GRACE_LEFT_S = 25  # the grace period is made to end this long after the cancellation (a launch fits in it)


def call(base: str, method: str, path: str, body=None, headers=None) -> tuple[int, dict | None]:
    status, answer, _ = exchange(base, method, path, body, headers)
    return status, answer


def exchange(base: str, method: str, path: str, body=None, headers=None) -> tuple[int, dict | None, dict]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + path, data=data, method=method, headers=headers or {})  # noqa: S310
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=300) as response:  # noqa: S310 - 127.0.0.1 only
            status, text, got = response.status, response.read().decode(), dict(response.headers.items())
    except urllib.error.HTTPError as error:
        status, text, got = error.code, error.read().decode(), dict(error.headers.items())
    return status, (json.loads(text) if text else None), got


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def subscribed_buyer(api_url: str) -> dict:
    account = f"{uuid.uuid4().int % 10**12:012d}"
    email = f"authorizer-{uuid.uuid4().hex[:8]}@example.com"
    assert call(api_url, "POST", "/_sandbox/users", {"email": email, "password": PASSWORD})[0] == 201
    token = call(api_url, "POST", "/_sandbox/tokens", {"email": email, "password": PASSWORD})[1]["id_token"]
    bearer = {"Authorization": f"Bearer {token}"}
    expires = iso(datetime.now(UTC) + timedelta(days=30))
    status, key = call(api_url, "POST", "/v1/keys", {"label": "stack", "expires_at": expires}, bearer)
    assert status == 201
    status, made = call(api_url, "POST", "/_sandbox/marketplace/subscriptions", {"aws_account_id": account})
    assert status == 201
    body = {"registration_token": made["registration_token"]}
    assert call(api_url, "POST", "/v1/marketplace/registrations", body, bearer)[0] == 200
    return {"account": account, "key": key, "bearer": bearer}


def launch_open(api_url: str, who: dict) -> dict:
    parameters = {
        "AccessKey": who["key"]["access_key"],
        "SecretKey": who["key"]["secret_key"],
        "ApiAuthorization": "NONE",
    }
    status, stack = call(
        api_url,
        "POST",
        "/_sandbox/customer/stacks",
        {"aws_account_id": who["account"], "parameters": parameters},
    )
    assert status == 201, stack
    assert stack["status"] == "CREATE_COMPLETE", stack["reason"]
    return stack


def unsigned(stack: dict, path: str) -> tuple[int, dict | None, dict]:
    base = stack["outputs"]["SolutionApiUrl"].rstrip("/")
    return exchange(base, "POST", path, {"text": "Good service, great results."})


def test_an_entitled_buyer_is_admitted_by_the_license_authorizer(sandbox):
    stack = launch_open(sandbox["api_url"], subscribed_buyer(sandbox["api_url"]))
    status, answer, _ = unsigned(stack, "/analyze")
    assert (status, answer["words"]) == (200, 4), answer
    assert unsigned(stack, "/analyze")[0] == 200  # the authorizer's cached Allow
    assert call(sandbox["api_url"], "DELETE", f"/_sandbox/customer/stacks/{stack['stack_name']}")[0] == 200


def test_after_the_grace_period_the_authorizer_answers_402(sandbox):
    api_url = sandbox["api_url"]
    who = subscribed_buyer(api_url)
    grace_days = int(load_context()["vendstack"]["grace_days"])
    ended_at = datetime.now(UTC) - timedelta(days=grace_days) + timedelta(seconds=GRACE_LEFT_S)
    assert (
        call(api_url, "POST", "/_sandbox/jobs/notices", {"now": iso(ended_at)})[0] == 200
    )  # moves the clock
    try:
        event = {"type": "purchase-agreement-ended", "aws_account_id": who["account"]}
        assert call(api_url, "POST", "/_sandbox/marketplace/events", event)[0] == 200
    finally:
        call(api_url, "POST", "/_sandbox/jobs/notices", {"now": iso(datetime.now(UTC))})  # the clock back
    status, sub = call(api_url, "GET", "/v1/subscription", headers=who["bearer"])
    assert sub["status"] == "grace", sub
    stack = launch_open(api_url, who)  # still allowed in grace
    until = datetime.fromisoformat(sub["grace_until"].replace("Z", "+00:00"))
    time.sleep(max(0.0, (until - datetime.now(UTC)).total_seconds() + 1))

    status, answer, headers = unsigned(stack, "/analyze")
    assert status == 402, answer
    assert answer["error"]["code"] == "SubscriptionInactive" and answer["error"]["message"]
    # Refused by the authorizer through the gateway response, before the solution's own check
    # (whose 402 carries `Cache-Control: no-store`) could run.
    assert "no-store" not in {k.lower(): v for k, v in headers.items()}.get("cache-control", "")
    assert unsigned(stack, "/analyze")[0] == 402  # the cached Deny
    assert call(api_url, "DELETE", f"/_sandbox/customer/stacks/{stack['stack_name']}")[0] == 200
