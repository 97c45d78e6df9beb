"""A buyer in the sandbox, for the end-to-end tests of the buyer's account: plain helpers over
the sandbox's HTTP routes (subscribe through the Marketplace emulator, sign up, register, make a
key, launch the published customer template, call the solution, end the agreement)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

PASSWORD = "Buyer-e2e-Passw0rd!"
LAUNCH_TIMEOUT_S = 300  # a launch runs the activation (vendor call, staging) and starts workers


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def exchange(
    base: str,
    method: str,
    path: str,
    body: Any = None,
    headers: dict | None = None,
    timeout: float = LAUNCH_TIMEOUT_S,
) -> tuple[int, Any, str, dict[str, str]]:
    """(status, JSON answer or None, raw text, response headers) of one request."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + path, data=data, method=method, headers=headers or {})  # noqa: S310
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - 127.0.0.1 only
            status, text, got = response.status, response.read().decode(), dict(response.headers.items())
    except urllib.error.HTTPError as error:
        status, text, got = error.code, error.read().decode(), dict(error.headers.items())
    return status, (json.loads(text) if text else None), text, got


def call(*args: Any, **kwargs: Any) -> tuple[int, Any, str]:
    """`exchange` without the response headers."""
    status, answer, text, _ = exchange(*args, **kwargs)
    return status, answer, text


def subscribed_buyer(api_url: str) -> dict:
    """A buyer: subscribed through the Marketplace emulator, signed up, registered, with a key."""
    account = f"{uuid.uuid4().int % 10**12:012d}"
    email = f"buyer-{uuid.uuid4().hex[:8]}@example.com"
    assert call(api_url, "POST", "/_sandbox/users", {"email": email, "password": PASSWORD})[0] == 201
    token = call(api_url, "POST", "/_sandbox/tokens", {"email": email, "password": PASSWORD})[1]["id_token"]
    bearer = {"Authorization": f"Bearer {token}"}
    expires = iso(datetime.now(UTC) + timedelta(days=30))
    status, key, _ = call(api_url, "POST", "/v1/keys", {"label": "stack", "expires_at": expires}, bearer)
    assert status == 201, key
    status, made, _ = call(
        api_url, "POST", "/_sandbox/marketplace/subscriptions", {"aws_account_id": account}
    )
    assert status == 201, made
    registration = {"registration_token": made["registration_token"]}
    status, linked, _ = call(api_url, "POST", "/v1/marketplace/registrations", registration, bearer)
    assert status == 200, linked
    return {"account": account, "key": key, "bearer": bearer}


def launch(api_url: str, who: dict, **parameters: str) -> tuple[int, dict, str]:
    """Launches the published customer template in the buyer's emulated account."""
    body = {
        "aws_account_id": who["account"],
        "parameters": {
            "AccessKey": who["key"]["access_key"],
            "SecretKey": who["key"]["secret_key"],
            **parameters,
        },
    }
    return call(api_url, "POST", "/_sandbox/customer/stacks", body)


def launched(api_url: str, who: dict, **parameters: str) -> dict:
    status, stack, _ = launch(api_url, who, **parameters)
    assert status == 201, stack
    assert stack["status"] == "CREATE_COMPLETE", stack["reason"]
    return stack


def signed(url: str, credentials: dict, body: dict, *, secret: str | None = None) -> tuple[int, Any]:
    """A SigV4-signed call to a stack's solution API (its `AWS_IAM` methods), as the buyer's own
    code makes it."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    data = json.dumps(body).encode()
    request = AWSRequest("POST", url, data=data, headers={"Content-Type": "application/json"})
    SigV4Auth(
        Credentials(credentials["aws_access_key_id"], secret or credentials["aws_secret_access_key"]),
        "execute-api",
        "us-east-1",
    ).add_auth(request)
    sent = urllib.request.Request(url, data=data, method="POST", headers=dict(request.headers.items()))  # noqa: S310
    try:
        with urllib.request.urlopen(sent, timeout=120) as response:  # noqa: S310 - 127.0.0.1 only
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def end_agreement(api_url: str, account: str, *, grace_left_s: float, grace_days: int) -> dict:
    """Ends the buyer's agreement, dated so that its grace period ends `grace_left_s` from now
    (the sandbox's clock is moved for the event, then back); the subscription as then read."""
    ended_at = datetime.now(UTC) - timedelta(days=grace_days) + timedelta(seconds=grace_left_s)
    try:
        assert call(api_url, "POST", "/_sandbox/jobs/notices", {"now": iso(ended_at)})[0] == 200
        event = {"type": "purchase-agreement-ended", "aws_account_id": account}
        status, answer, _ = call(api_url, "POST", "/_sandbox/marketplace/events", event)
        assert status == 200, answer
    finally:
        call(api_url, "POST", "/_sandbox/jobs/notices", {"now": iso(datetime.now(UTC))})  # the clock back
    return {"ended_at": ended_at}
