"""The response schemas of `docs/openapi.json` describe what the runtime really answers: each is
checked against documents built by the same functions the handlers return (no network, no synth)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError as SchemaError

from activations.models import Release, ReleaseArtifact
from customer_stack import openapi
from keys.models import ACTIVE, CreatedKey, KeyItem
from license.logic.verifier import Principal
from product.logic.catalog import health_document, product_document
from shared.config import Dimension, RuntimeConfig
from subscriptions.logic.status import status_document
from subscriptions.models import GRACE, Subscription
from teams.logic.invitations import new_invitation_id
from teams.models import PENDING, Invitation, Membership
from usage.models import IngestResult, Rejection

NOW = datetime(2026, 11, 22, 13, 54, tzinfo=UTC)
KEY = KeyItem(
    access_key="VSAKABCDEFGHIJKLMNOP",
    owner="sub-1",
    owner_email="a@example.com",
    label=None,
    created_at=NOW,
    expires_at=NOW + timedelta(days=30),
    status=ACTIVE,
    salt="salt",
)
CONFIG = RuntimeConfig(
    product_name="textlens",
    product_version="1.0.0",
    dimensions=(Dimension("requests", "requests", "API requests", Decimal("0.0001")),),
    grace_days=10,
    key_max_lifetime_days=730,
    max_active_keys=20,
    audit_retention_days=400,
)


def _validator(name: str) -> Draft202012Validator:
    schemas = openapi.RESPONSE_SCHEMAS
    Draft202012Validator.check_schema(schemas[name])
    return Draft202012Validator(schemas[name])


def _activation() -> dict:
    release = Release(
        product="textlens",
        version="1.0.0",
        published_at="2026-11-22T13:00:00Z",
        signing="aws-signer",
        bucket="b",
        artifacts=(ReleaseArtifact("api", "k", "v", "0" * 64, 12, "u", "uv"),),
    )
    return {
        "activation_id": "act-abc",
        "manifest": release.manifest(
            activation_id="act-abc",
            account_id="111122223333",
            stack_id="arn:aws:cloudformation:us-east-1:111122223333:stack/s/00000000-0000-4000-8000-000000000001",
            request_nonce="n0nce-EXAMPLE-0001",
            issued_at=NOW,
        ),
        "manifest_signature": "c2ln",
        "signature_algorithm": "RSASSA_PKCS1_V1_5_SHA_256",
        "downloads": {"api": {"url": "https://example.com/x?sig=1", "expires_at": "2026-11-22T14:09:00Z"}},
    }


def _invitation() -> Invitation:
    return Invitation(
        invitation_id=new_invitation_id(),
        team_id="sub-1",
        email="dev@example.com",
        role="developer",
        invited_by="a@example.com",
        created_at=NOW,
        expires_at=NOW + timedelta(days=7),
        status=PENDING,
    )


def _team() -> dict:
    """As `teams.logic.teams.team_document` builds it."""
    owner = Membership("sub-1", "sub-1", "owner", "a@example.com", NOW)
    return {
        "team_id": "sub-1",
        "role": "owner",
        "members": [owner.public(), Membership("sub-2", "sub-1", "viewer", "v@example.com", NOW).public()],
        "invitations": [_invitation().public()],
    }


# One entry of a key's `stacks` as keys.dal.stacks.stacks_by_key builds it.
STACK_USE = {
    "stack_id": "arn:aws:cloudformation:us-east-1:111122223333:stack/textlens/1b2c3d4e",
    "stack_name": "textlens",
    "aws_account_id": "111122223333",
    "region": "us-east-1",
    "version": "1.0.0",
    "activated_at": "2026-11-22T13:00:00Z",
}

RUNTIME_DOCUMENTS = [
    ("Health", lambda: health_document(CONFIG)),
    ("Product", lambda: product_document(CONFIG)),
    ("CreatedKey", lambda: CreatedKey(KEY, "vsSK_" + "x" * 43).document()),
    (
        "KeyList",
        lambda: {
            "keys": [
                {**KEY.public(NOW), "stacks": [STACK_USE]},
                {**KEY.revoked(NOW).public(NOW), "stacks": []},
            ]
        },
    ),
    ("Team", _team),
    ("Invitation", lambda: _invitation().public()),
    ("Membership", lambda: {"team_id": "sub-1", "role": "developer"}),
    ("Subscription", lambda: status_document(None, NOW)),
    (
        "Subscription",
        lambda: status_document(
            Subscription(
                "sub-1", "a@example.com", "111122223333", "p", GRACE, grace_until=NOW + timedelta(days=1)
            ),
            NOW,
        ),
    ),
    ("WhoAmI", lambda: Principal("sub-1", KEY.access_key, KEY.expires_at, KEY).whoami()),
    (
        "UsageResult",
        lambda: IngestResult(
            2, 1, [Rejection(None, "InvalidId", "bad"), Rejection("r", "X", "y")]
        ).document(),
    ),
    ("UsageHistory", lambda: {"usage": [{"date": "2026-11-22", "dimension": "requests", "quantity": 3}]}),
    ("Activation", _activation),
    ("Error", lambda: {"error": {"code": "NotFound", "message": "No such route."}}),
]


@pytest.mark.parametrize(("name", "build"), RUNTIME_DOCUMENTS, ids=[n for n, _ in RUNTIME_DOCUMENTS])
def test_runtime_documents_match_their_response_schema(name, build) -> None:
    _validator(name).validate(build())


def test_a_schema_refuses_a_document_of_another_shape() -> None:
    """The schemas bite: a key list entry without its status, or a secret-less created key, fails."""
    entry = KEY.public(NOW)
    del entry["status"]
    with pytest.raises(SchemaError):
        _validator("KeyList").validate({"keys": [entry]})
    created = CreatedKey(KEY, "vsSK_" + "x" * 43).document()
    del created["secret_key"]
    with pytest.raises(SchemaError):
        _validator("CreatedKey").validate(created)


def test_every_documented_response_schema_is_used_and_valid() -> None:
    used = {doc.ok[1] for doc in openapi.ROUTE_DOCS.values() if doc.ok[1]} | {"Error"}
    assert used == set(openapi.RESPONSE_SCHEMAS)
    for schema in openapi.RESPONSE_SCHEMAS.values():
        Draft202012Validator.check_schema(schema)
