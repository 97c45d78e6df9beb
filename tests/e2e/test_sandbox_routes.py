"""The sandbox serves the synthesized API with the platform's own handlers (docs/protocol.md §6)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("sandbox")]


def test_endpoints_file_per_contract(sandbox):
    for key in (
        "api_url",
        "aws_endpoint_url",
        "region",
        "user_pool_id",
        "user_pool_client_id",
        "customer_template",
    ):
        assert sandbox[key], key
    assert sandbox["api_url"].startswith("http://127.0.0.1:")
    assert sandbox["aws_endpoint_url"].startswith("http://127.0.0.1:")


def test_health_and_product(api):
    status, body, _ = api.call("GET", "/v1/health")
    assert status == 200 and body["status"] == "ok"
    status, body, headers = api.call("GET", "/v1/product")
    assert status == 200
    assert body["product"] == "textlens" and body["grace_days"] == 10
    assert [d["name"] for d in body["dimensions"]] == ["requests", "characters"]
    assert set(body["dimensions"][0]) == {"name", "unit", "description", "price_per_unit"}
    assert headers["Content-Type"] == "application/json"


def test_unknown_route_is_refused_by_the_gateway(api):
    status, body, _ = api.call("GET", "/v1/nothing-here")
    assert status == 403 and body == {"message": "Missing Authentication Token"}
    status, _, _ = api.call("DELETE", "/v1/product")
    assert status == 403


def test_developer_route_needs_a_valid_id_token(api):
    status, body, _ = api.call("GET", "/v1/keys")
    assert status == 401 and body["error"]["code"] == "InvalidToken"
    status, body, _ = api.call("GET", "/v1/keys", headers={"Authorization": "Bearer not.a.jwt"})
    assert status == 401 and body["error"]["code"] == "InvalidToken"


def test_sign_up_and_sign_in(api):
    status, body, _ = api.call(
        "POST", "/_sandbox/users", {"email": "spine@example.com", "password": "Spine-Passw0rd!"}
    )
    assert status == 201 and body["email"] == "spine@example.com" and body["sub"]
    status, body, _ = api.call(
        "POST", "/_sandbox/tokens", {"email": "spine@example.com", "password": "wrong-Passw0rd!"}
    )
    assert status == 401
    status, body, _ = api.call(
        "POST", "/_sandbox/tokens", {"email": "spine@example.com", "password": "Spine-Passw0rd!"}
    )
    assert status == 200
    token = body["id_token"]
    status, listed, _ = api.call("GET", "/v1/keys", headers={"Authorization": f"Bearer {token}"})
    assert status == 200 and listed == {"keys": []}
    status, body, _ = api.call("POST", "/_sandbox/users", {"email": "no-password@example.com"})
    assert status == 400 and body["error"]["code"] == "ValidationError"


def test_rendered_customer_template_carries_sandbox_values(sandbox):
    template = json.loads(Path(sandbox["customer_template"]).read_text())
    params = template["Parameters"]
    assert params["VendorApiUrl"]["Default"] == sandbox["api_url"]
    assert base64.b64decode(params["VendorPublicKey"]["Default"]).startswith(b"\x30")
    assert params["SigningProfileVersionArn"]["Default"].startswith("arn:aws:signer:us-east-1:")


def test_marketplace_emulator_routes(api, sandbox):
    assert sandbox["marketplace"]["product_code"] == "exampleprod1234567890"
    assert sandbox["marketplace"]["endpoint_url"].startswith("http://127.0.0.1:")
    status, body, _ = api.call(
        "POST", "/_sandbox/marketplace/subscriptions", {"aws_account_id": "111122223333"}
    )
    assert status == 201
    assert body["license_arn"].startswith("arn:aws:license-manager::")
    assert body["registration_token"] and body["product_code"] == "exampleprod1234567890"
    status, body, _ = api.call("POST", "/_sandbox/marketplace/subscriptions", {"aws_account_id": "12"})
    assert status == 400 and body["error"]["code"] == "ValidationError"
    # The sandbox is shared by the run's end-to-end tests: what others metered is listed too.
    status, body, _ = api.call("GET", "/_sandbox/marketplace/metered")
    assert status == 200 and set(body) == {"records"} and isinstance(body["records"], list)
    fields = {
        "aws_account_id",
        "license_arn",
        "dimension",
        "quantity",
        "timestamp",
        "status",
        "metering_record_id",
    }
    assert all(fields <= set(record) for record in body["records"])
    assert not any(r["aws_account_id"] == "111122223333" for r in body["records"])  # nothing metered for it
