"""A vendor operator and a customer in the sandbox, for the admin API's end-to-end tests: SigV4
for the operator (`admin_call`), a signed-up customer with a key and, if asked, a linked
subscription (`customer`), and a signed activation (`activate`). Plain helpers, no fixtures."""

from __future__ import annotations

import json
import sys
import uuid
from datetime import UTC, datetime, timedelta

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.plugins import ROOT

sys.path.insert(0, str(ROOT / "runtime"))
from shared.signing import sign_request  # noqa: E402 - the one signing module

PASSWORD = "Admin-e2e-Passw0rd!"


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def signed_headers(credentials: dict, method: str, url: str, body: bytes = b"", service: str = "execute-api"):
    creds = Credentials(credentials["aws_access_key_id"], credentials["aws_secret_access_key"])
    request = AWSRequest(method=method, url=url, data=body, headers={"Content-Type": "application/json"})
    SigV4Auth(creds, service, "us-east-1").add_auth(request)
    return dict(request.headers.items())


def admin_call(
    sandbox, api, method: str, path: str, body: dict | None = None, credentials: dict | None = None
):
    raw = json.dumps(body).encode() if body is not None else b""
    headers = signed_headers(
        credentials or sandbox["admin_credentials"], method, sandbox["api_url"] + path, raw
    )
    return api.call(method, path, headers=headers, raw=raw or None)


def customer(api, account: str | None = None, *, label: str = "admin") -> dict:
    """A signed-up customer with a key (`bearer`, `key`, `team_id`, `email`); with `account`, also
    subscribed in the Marketplace emulator and linked, active (`account`, `license_arn`)."""
    email = f"{label}-{uuid.uuid4().hex[:8]}@example.com"
    assert api.call("POST", "/_sandbox/users", {"email": email, "password": PASSWORD})[0] == 201
    token = api.call("POST", "/_sandbox/tokens", {"email": email, "password": PASSWORD})[1]["id_token"]
    bearer = {"Authorization": f"Bearer {token}"}
    expires = iso(datetime.now(UTC) + timedelta(days=60))
    status, key, _ = api.call("POST", "/v1/keys", {"label": label, "expires_at": expires}, headers=bearer)
    assert status == 201
    status, who, _ = api.call("GET", "/v1/whoami", headers=whoami_headers(key))
    assert status == 200
    found = {"bearer": bearer, "key": key, "team_id": who["customer_id"], "email": email}
    if account:
        status, made, _ = api.call("POST", "/_sandbox/marketplace/subscriptions", {"aws_account_id": account})
        assert status == 201
        status, linked, _ = api.call(
            "POST",
            "/v1/marketplace/registrations",
            {"registration_token": made["registration_token"]},
            headers=bearer,
        )
        assert (status, linked["status"]) == (200, "active"), linked
        found.update(account=account, license_arn=made["license_arn"])
    return found


def activate(api, who: dict) -> tuple[int, dict]:
    """A signed activation (`POST /v1/activations`, Create) of a new stack in `who`'s account."""
    body = json.dumps(
        {
            "stack_id": f"arn:aws:cloudformation:us-east-1:{who['account']}:stack/textlens/{uuid.uuid4()}",
            "account_id": who["account"],
            "region": "us-east-1",
            "request_type": "Create",
        }
    ).encode()
    headers = sign_request(
        who["key"]["access_key"], who["key"]["secret_key"], "POST", "/v1/activations", (), body
    )
    status, answer, _ = api.call("POST", "/v1/activations", headers=headers, raw=body)
    return status, answer


def whoami_headers(key: dict) -> dict:
    return sign_request(key["access_key"], key["secret_key"], "GET", "/v1/whoami", (), b"")
