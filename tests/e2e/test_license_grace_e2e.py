"""Issue 13's end-to-end license check in the sandbox's customer stack: calls pass, then answer
402 once the subscription has ended and the grace has passed.

A buyer launches the published customer template, the solution serves a SigV4-signed call (its
license check fetched a token while the subscription was active: a full lifetime, 1 h). The
agreement then ends, dated so that the grace period ends `GRACE_LEFT_S` from now (as the demo's
`buyer_cancels` does). Lambda recycles execution environments on its own (every few hours, even
under load); the sandbox's `recycle` route does it now, so the next call is a cold start that
fetches a token during the grace: its `exp` is the grace's end. The call passes. Past the grace,
the token has expired and the vendor refuses a new one: the call answers 402 with the
protocol's error body (docs/protocol.md §4.3), and nothing the handler does runs."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.plugins.synth import load_context

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("sandbox")]
PASSWORD = "Buyer-grace-Passw0rd!"
GRACE_LEFT_S = 30  # long enough for a cold start and a token fetch on a loaded machine (the demo uses 30)
LAUNCH_TIMEOUT_S = 300


def _call(base: str, method: str, path: str, body=None, headers=None, timeout: float = LAUNCH_TIMEOUT_S):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + path, data=data, method=method, headers=headers or {})  # noqa: S310
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - 127.0.0.1 only
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def _signed(url: str, credentials: dict, body: dict) -> tuple[int, dict]:
    """A SigV4-signed call to the stack's solution API (its `AWS_IAM` methods), as the buyer's own
    code would make it."""
    data = json.dumps(body).encode()
    request = AWSRequest("POST", url, data=data, headers={"Content-Type": "application/json"})
    SigV4Auth(
        Credentials(credentials["aws_access_key_id"], credentials["aws_secret_access_key"]),
        "execute-api",
        "us-east-1",
    ).add_auth(request)
    sent = urllib.request.Request(url, data=data, method="POST", headers=dict(request.headers.items()))  # noqa: S310
    try:
        with urllib.request.urlopen(sent, timeout=120) as response:  # noqa: S310 - 127.0.0.1 only
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _buyer_with_a_stack(api_url: str) -> tuple[dict, dict]:
    account = f"{uuid.uuid4().int % 10**12:012d}"
    email = f"grace-{uuid.uuid4().hex[:8]}@example.com"
    assert _call(api_url, "POST", "/_sandbox/users", {"email": email, "password": PASSWORD})[0] == 201
    token = _call(api_url, "POST", "/_sandbox/tokens", {"email": email, "password": PASSWORD})[1]["id_token"]
    bearer = {"Authorization": f"Bearer {token}"}
    expires = _iso(datetime.now(UTC) + timedelta(days=30))
    status, key = _call(api_url, "POST", "/v1/keys", {"label": "stack", "expires_at": expires}, bearer)
    assert status == 201, key
    status, made = _call(api_url, "POST", "/_sandbox/marketplace/subscriptions", {"aws_account_id": account})
    assert status == 201, made
    registration = {"registration_token": made["registration_token"]}
    status, linked = _call(api_url, "POST", "/v1/marketplace/registrations", registration, bearer)
    assert status == 200, linked
    parameters = {"AccessKey": key["access_key"], "SecretKey": key["secret_key"]}
    status, stack = _call(
        api_url, "POST", "/_sandbox/customer/stacks", {"aws_account_id": account, "parameters": parameters}
    )
    assert status == 201, stack
    assert stack["status"] == "CREATE_COMPLETE", stack["reason"]
    return {"account": account, "bearer": bearer}, stack


def test_calls_pass_then_answer_402_once_the_grace_has_passed(sandbox):
    api_url = sandbox["api_url"]
    who, stack = _buyer_with_a_stack(api_url)
    url = stack["outputs"]["SolutionApiUrl"] + "analyze"
    creds = stack["credentials"]
    status, answer = _signed(url, creds, {"text": "Paid for, and served."})
    assert status == 200, answer  # a token issued while active: valid for the whole lifetime

    # The agreement ends, dated so that the grace period ends GRACE_LEFT_S from now.
    grace_days = int(load_context()["vendstack"]["grace_days"])
    ended_at = datetime.now(UTC) - timedelta(days=grace_days) + timedelta(seconds=GRACE_LEFT_S)
    try:
        assert _call(api_url, "POST", "/_sandbox/jobs/notices", {"now": _iso(ended_at)})[0] == 200
        status, answer = _call(
            api_url,
            "POST",
            "/_sandbox/marketplace/events",
            {"type": "purchase-agreement-ended", "aws_account_id": who["account"]},
        )
        assert status == 200, answer
    finally:
        _call(api_url, "POST", "/_sandbox/jobs/notices", {"now": _iso(datetime.now(UTC))})  # the clock back
    status, sub = _call(api_url, "GET", "/v1/subscription", headers=who["bearer"])
    assert status == 200 and sub["status"] == "grace", sub
    grace_until = datetime.fromisoformat(sub["grace_until"].replace("Z", "+00:00"))
    assert grace_until - datetime.now(UTC) <= timedelta(seconds=GRACE_LEFT_S)

    # Without a new token the old one serves on for up to its lifetime (README, "Not built, and
    # known limits"). A recycled environment starts cold and fetches one now, in grace.
    status, recycled = _call(api_url, "POST", f"/_sandbox/customer/stacks/{stack['stack_name']}/recycle")
    assert status == 200, recycled
    assert any(name.startswith("SolutionApi") for name in recycled["recycled"]), recycled
    status, answer = _signed(url, creds, {"text": "Still working in grace."})
    assert status == 200, answer
    assert datetime.now(UTC) < grace_until, "the machine was too slow to call within the grace"

    time.sleep(max(0.0, (grace_until - datetime.now(UTC)).total_seconds()) + 1.5)
    status, answer = _signed(url, creds, {"text": "After the grace."})
    assert status == 402, answer
    assert answer["error"]["code"] == "SubscriptionInactive", answer
    assert set(answer) == {"error"} and set(answer["error"]) == {"code", "message"}
    assert "words" not in answer  # the handler did not run
    # And it stays refused: the refusal is not an outage, so no offline grace.
    assert _signed(url, creds, {"text": "Again."})[0] == 402


def test_recycle_is_a_post_without_a_body_on_a_known_stack(sandbox):
    api_url = sandbox["api_url"]
    unknown = _call(api_url, "POST", "/_sandbox/customer/stacks/no-such-stack/recycle")
    assert unknown[0] == 400 and "does not exist" in unknown[1]["error"]["message"]
    assert _call(api_url, "GET", "/_sandbox/customer/stacks/no-such-stack/recycle")[0] == 405
    assert _call(api_url, "POST", "/_sandbox/customer/stacks/x/recycle", {"now": "x"})[0] == 400
