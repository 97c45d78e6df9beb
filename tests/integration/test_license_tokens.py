"""`POST /v1/license-token` (docs/protocol.md §4.3) through the license handler on moto: tokens
signed by the KMS key verify with its public half as the rendered template carries it, and with
nothing else; an inactive subscription gets none; every issue is audited."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from customer_stack.solution.license_token import TokenInvalid, Verifier
from shared.config import get_config
from subscriptions.dal.store import SUB_SK, sub_pk
from tests.plugins.delivery_world import DATA_TABLE, DeliveryWorld
from tests.plugins.keys_world import PRODUCT, SUB

LIFETIME = 1800


@pytest.fixture(autouse=True)
def _token_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    product = {**PRODUCT, "features": ["analysis"], "token_lifetime_seconds": LIFETIME}
    monkeypatch.setenv("VS_PRODUCT", json.dumps(product))
    get_config.cache_clear()
    yield
    get_config.cache_clear()


def _template_public_key(world: DeliveryWorld) -> str:
    """What the render step puts in `VendorPublicKey`: base64 of KMS GetPublicKey's DER."""
    der = world.kms.get_public_key(KeyId=world.outputs["ManifestKeyArn"])["PublicKey"]
    return base64.b64encode(der).decode()


def _request(world: DeliveryWorld, key: dict, body: bytes = b"{}", **kwargs):
    return world.call(key, "POST", "/v1/license-token", body, **kwargs)


def _segments(token: str) -> tuple[dict, dict, bytes]:
    def decode(part: str) -> bytes:
        return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))

    header, claims, signature = token.split(".")
    return json.loads(decode(header)), json.loads(decode(claims)), decode(signature)


def _stamp(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def _set_subscription(world: DeliveryWorld, status: str, grace_until: str | None = None) -> None:
    values = {":s": {"S": status}, ":g": {"S": grace_until} if grace_until else {"NULL": True}}
    world.ddb.update_item(
        TableName=DATA_TABLE,
        Key={"pk": {"S": sub_pk(SUB)}, "sk": {"S": SUB_SK}},
        UpdateExpression="SET #s = :s, grace_until = :g",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues=values,
    )


def test_a_token_verifies_with_the_rendered_templates_key(world: DeliveryWorld, customer_key: dict) -> None:
    before = int(datetime.now(UTC).timestamp())
    answer = _request(world, customer_key)
    assert answer.status == 200, answer.body
    assert set(answer.body) == {"token", "expires_at"}
    assert answer.headers.get("Cache-Control") == "no-store"
    token = answer.body["token"]
    header, claims, signature = _segments(token)
    assert header == {"alg": "RS256", "kid": world.outputs["ManifestKeyArn"].rsplit("/", 1)[1], "typ": "JWT"}
    assert set(claims) == {"iss", "sub", "aws_account_id", "entitlements", "iat", "exp", "jti"}
    assert claims["sub"] == SUB
    assert claims["aws_account_id"] == "111122223330"  # the subscription's buyer account
    assert claims["entitlements"] == ["requests", "analysis"]  # dimensions, then features
    assert claims["iss"].startswith("https://")
    assert before <= claims["iat"] <= before + 5
    assert claims["exp"] - claims["iat"] == LIFETIME
    assert answer.body["expires_at"] == datetime.fromtimestamp(claims["exp"], UTC).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )

    # The independent check: `cryptography` with the public key KMS hands out.
    signing_input = token.rsplit(".", 1)[0].encode()
    world.public_key().verify(signature, signing_input, padding.PKCS1v15(), hashes.SHA256())
    # And the solution's own pure-Python verifier, with the template's base64 DER.
    verified = Verifier(_template_public_key(world)).claims(token, now=claims["iat"] + 1)
    assert verified == claims

    second = _request(world, customer_key).body["token"]
    assert _segments(second)[1]["jti"] != claims["jti"]


def test_an_altered_claim_or_signature_does_not_verify(world: DeliveryWorld, customer_key: dict) -> None:
    token = _request(world, customer_key).body["token"]
    verifier = Verifier(_template_public_key(world))
    header_b64, claims_b64, signature_b64 = token.split(".")
    _, claims, _ = _segments(token)
    now = claims["iat"] + 1
    for change in (
        {"entitlements": [*claims["entitlements"], "premium"]},
        {"exp": claims["exp"] + 86400},
        {"sub": "someone-else"},
        {"aws_account_id": "999999999999"},
    ):
        altered = base64.urlsafe_b64encode(json.dumps({**claims, **change}).encode()).rstrip(b"=").decode()
        with pytest.raises(TokenInvalid, match="signature"):
            Verifier(_template_public_key(world)).claims(f"{header_b64}.{altered}.{signature_b64}", now)
    flipped = signature_b64[:-2] + ("A" if signature_b64[-2] != "A" else "B") + signature_b64[-1]
    with pytest.raises(TokenInvalid):
        verifier.claims(f"{header_b64}.{claims_b64}.{flipped}", now)
    none_header = base64.urlsafe_b64encode(b'{"alg":"none"}').rstrip(b"=").decode()
    with pytest.raises(TokenInvalid, match="algorithm"):
        verifier.claims(f"{none_header}.{claims_b64}.{signature_b64}", now)
    assert verifier.claims(token, now) == claims


def test_an_expired_token_is_refused(world: DeliveryWorld, customer_key: dict) -> None:
    token = _request(world, customer_key).body["token"]
    _, claims, _ = _segments(token)
    verifier = Verifier(_template_public_key(world))
    assert verifier.claims(token, claims["exp"] - 1)["jti"] == claims["jti"]
    with pytest.raises(TokenInvalid, match="expired"):
        verifier.claims(token, claims["exp"])


def test_an_ended_subscription_gets_no_token(world: DeliveryWorld, customer_key: dict) -> None:
    _set_subscription(world, "inactive")
    answer = _request(world, customer_key)
    assert (answer.status, answer.code) == (402, "SubscriptionInactive")
    assert "token" not in json.dumps(answer.body).lower().replace("license token", "")


def test_in_grace_a_token_never_outlives_the_grace(world: DeliveryWorld, customer_key: dict) -> None:
    grace_until = (datetime.now(UTC) + timedelta(minutes=10)).replace(microsecond=0)
    _set_subscription(world, "grace", _stamp(grace_until))
    answer = _request(world, customer_key)
    assert answer.status == 200, answer.body
    assert _segments(answer.body["token"])[1]["exp"] == int(grace_until.timestamp())
    _set_subscription(
        world, "grace", (datetime.now(UTC) - timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    )
    assert _request(world, customer_key).status == 402  # grace over: reads as inactive


@pytest.mark.parametrize("body", [b'{"lifetime": 99999}', b"[]", b"", b'{"a":1}'])
def test_the_body_must_be_an_empty_object(world: DeliveryWorld, customer_key: dict, body: bytes) -> None:
    answer = _request(world, customer_key, body)
    assert (answer.status, answer.code) == (400, "ValidationError")


def test_a_query_is_refused(world: DeliveryWorld, customer_key: dict) -> None:
    answer = _request(world, customer_key, query=[("ttl", "99999")])
    assert (answer.status, answer.code) == (400, "ValidationError")


def test_an_unsigned_request_gets_nothing(world: DeliveryWorld, customer_key: dict) -> None:
    bad = {**customer_key, "secret_key": "vsSK_" + "x" * 43}
    answer = _request(world, bad)
    assert (answer.status, answer.code) == (401, "SignatureDoesNotMatch")


def test_every_issue_and_refusal_is_audited_without_the_token(
    world: DeliveryWorld, customer_key: dict
) -> None:
    token = _request(world, customer_key).body["token"]
    _set_subscription(world, "inactive")
    assert _request(world, customer_key).status == 402
    records = [r for r in world.vault.audit_items() if r["operation"] == "POST /v1/license-token"]
    assert sorted((r["status"], r["customer_id"], r["access_key"]) for r in records) == [
        (200, SUB, customer_key["access_key"]),
        (402, SUB, customer_key["access_key"]),
    ]
    text = json.dumps(world.vault.audit_items(), default=str)
    assert token.split(".")[2] not in text and token.split(".")[1] not in text
