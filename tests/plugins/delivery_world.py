"""The release and activation world: the key vault's moto world (`keys_world`) plus
what the vendor platform adds for delivery, created as its CDK does: the platform-data table (`pk`/`sk`,
TTL `ttl`, GSI `gsi1` = `gsi1pk`/`gsi1sk` ALL), the versioned artifact and templates buckets, the
RSA_2048 SIGN_VERIFY manifest key, and an AWS Signer profile.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from shared import signing
from tests.plugins.keys_world import OTHER_SUB, SUB, Answer, Vault, rest_event
from tests.plugins.platform_tables import create_data_table

REPO = Path(__file__).resolve().parents[2]
DATA_TABLE = "vs-data"
ARTIFACT_BUCKET = "vs-artifacts"
TEMPLATES_BUCKET = "vs-templates"
PROFILE = "vendstack_test_profile"
PRODUCT = "textlens"
API_URL = "https://api.example.com/prod"
STACK_ID = (
    "arn:aws:cloudformation:us-east-1:444455556666:stack/example-stack/aaaaaaaa-1111-2222-3333-bbbbbbbbbbbb"
)
ACCOUNT_ID = "444455556666"
REGION = "us-east-1"


def customer_template() -> dict:
    """The shape of the synthesized customer template that rendering needs (its vendor parameters
    and ReleaseVersion, with their AllowedPatterns), without synthesizing the CDK app in every test."""
    return {
        "Parameters": {
            "VendorApiUrl": {"Type": "String", "AllowedPattern": "^https?://.+"},
            "VendorPublicKey": {"Type": "String", "AllowedPattern": "^[A-Za-z0-9+/=]+$"},
            "SigningProfileVersionArn": {"Type": "String", "AllowedPattern": "^arn:aws[a-z-]*:signer:.+"},
            "ReleaseVersion": {"Type": "String", "AllowedPattern": "^\\d+\\.\\d+\\.\\d+$"},
            "AccessKey": {"Type": "String"},
        },
        "Resources": {},
    }


def create_delivery_resources(session: Any, endpoint_url: str | None = None) -> dict[str, str]:
    """The vendor platform's delivery resources in an emulator; returns the stack outputs."""

    def make(service: str) -> Any:
        return session.client(service, region_name=REGION, endpoint_url=endpoint_url)

    create_data_table(make("dynamodb"))
    s3 = make("s3")
    for bucket in (ARTIFACT_BUCKET, TEMPLATES_BUCKET):
        s3.create_bucket(Bucket=bucket)
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    key = make("kms").create_key(KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY")["KeyMetadata"]
    profile = make("signer").put_signing_profile(profileName=PROFILE, platformId="AWSLambda-SHA384-ECDSA")
    return {
        "ApiUrl": API_URL,
        "ArtifactBucket": ARTIFACT_BUCKET,
        "TemplatesBucket": TEMPLATES_BUCKET,
        "DataTable": DATA_TABLE,
        "ManifestKeyArn": key["Arn"],
        "SigningProfileName": PROFILE,
        "SigningProfileVersionArn": profile["profileVersionArn"],
    }


def reset_delivery_caches() -> None:
    import activations.dal.delivery
    import activations.handlers.router

    activations.handlers.router.delivery.cache_clear()
    activations.dal.delivery.presigning_client.cache_clear()


class DeliveryWorld:
    """Publishing and the activation routes, called like the CLI and API Gateway would."""

    def __init__(self, vault: Vault, outputs: dict[str, str], tmp: Path, session: Any, s3: Any) -> None:
        self.vault = vault
        self.outputs = outputs
        self.tmp = tmp
        self.session = session
        self.s3 = s3
        self.ddb = vault.ddb
        self.kms = vault.kms
        self.template_path = tmp / "customer.template.json"
        self.template_path.write_text(json.dumps(customer_template()))
        self.messages: list[str] = []

    # --- publishing ------------------------------------------------------------------------
    def publish(self, version: str = "1.0.0", **kwargs: Any) -> dict:
        from customer_stack.publish import publish

        options: dict[str, Any] = {
            "session": self.session,
            "endpoint_url": None,
            "product": PRODUCT,
            "version": version,
            "template_path": self.template_path,
            "work_dir": self.tmp / "work",
            "progress": self.messages.append,
            "region": REGION,
            "sandbox": True,  # in-process moto: no signing jobs, and no endpoint to detect it by
            **kwargs,
        }
        outputs = options.pop("outputs", self.outputs)
        return publish(outputs, **options)

    # --- storage views -----------------------------------------------------------------------
    def data_items(self) -> list[dict]:
        return self.vault.scan(DATA_TABLE)

    def activation_items(self) -> list[dict]:
        return [i for i in self.data_items() if i["pk"].startswith("ACT#")]

    def object_versions(self) -> list[tuple[str, str, str]]:
        found = []
        for bucket in (ARTIFACT_BUCKET, TEMPLATES_BUCKET):
            answer = self.s3.list_object_versions(Bucket=bucket)
            found += [(bucket, v["Key"], v["VersionId"]) for v in answer.get("Versions", [])]
        return sorted(found)

    def public_key(self) -> Any:
        from cryptography.hazmat.primitives import serialization

        der = self.kms.get_public_key(KeyId=self.outputs["ManifestKeyArn"])["PublicKey"]
        return serialization.load_der_public_key(der)

    def verify_manifest(self, body: dict) -> None:
        """Raises unless the manifest signature verifies with the KMS key's public half."""
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        canonical = json.dumps(body["manifest"], sort_keys=True, separators=(",", ":")).encode()
        self.public_key().verify(
            base64.b64decode(body["manifest_signature"]), canonical, padding.PKCS1v15(), hashes.SHA256()
        )

    def download(self, url: str) -> bytes:
        """Fetches a presigned URL's object from moto by the bucket, key and version it names."""
        parts = urlsplit(url)
        query = parse_qs(parts.query)
        path = unquote(parts.path).lstrip("/")
        if parts.hostname.endswith(".amazonaws.com") and not parts.hostname.startswith("s3."):
            bucket, key = parts.hostname.split(".")[0], path  # virtual-hosted style
        else:
            bucket, key = path.split("/", 1)  # path style
        return self.s3.get_object(Bucket=bucket, Key=key, VersionId=query["versionId"][0])["Body"].read()

    # --- the license API ---------------------------------------------------------------------
    def call(
        self,
        key: dict,
        method: str,
        path: str,
        body: bytes = b"",
        *,
        resource: str | None = None,
        path_parameters: dict[str, str] | None = None,
        query: list[tuple[str, str]] | None = None,
        nonce: str | None = None,
    ) -> Answer:
        pairs = list(query or [])
        headers = signing.sign_request(
            key["access_key"], key["secret_key"], method, path, pairs, body, nonce=nonce
        )
        event = rest_event(
            method,
            path,
            resource=resource,
            body=body.decode() if body else None,
            headers=headers,
            query=pairs,
            path_parameters=path_parameters,
        )
        return self.vault.license_api(event)

    def activate(
        self, key: dict, request_type: str = "Create", *, nonce: str | None = None, **overrides: Any
    ) -> Answer:
        document = {
            "stack_id": STACK_ID,
            "account_id": ACCOUNT_ID,
            "region": REGION,
            "request_type": request_type,
            **overrides,
        }
        return self.activate_raw(key, json.dumps(document).encode(), nonce=nonce)

    def activate_raw(self, key: dict, body: bytes, **kwargs: Any) -> Answer:
        return self.call(key, "POST", "/v1/activations", body, **kwargs)

    def deactivate(self, key: dict, activation_id: str) -> Answer:
        return self.call(
            key,
            "DELETE",
            f"/v1/activations/{activation_id}",
            resource="/v1/activations/{activation_id}",
            path_parameters={"activation_id": activation_id},
        )


def load_item(item: dict) -> dict:
    from boto3.dynamodb.types import TypeDeserializer

    deserializer = TypeDeserializer()
    return {k: deserializer.deserialize(v) for k, v in item.items()}


def parse_rfc3339(value: str) -> datetime:
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


@pytest.fixture(name="delivery_session", scope="module")
def delivery_session_fixture(aws_world: str) -> tuple[Any, Any]:
    """One boto3 session and S3 client per module's moto world: a new session loads botocore's
    service models again (about 0.3 s); the tests and publish only make clients from it."""
    import boto3

    session = boto3.session.Session(region_name=REGION)
    return session, session.client("s3")


@pytest.fixture(name="delivery_outputs", scope="module")
def delivery_outputs_fixture(delivery_session: tuple[Any, Any]) -> Iterator[dict[str, str]]:
    """Adds the delivery resources to the module's moto world and points the license function at them."""
    outputs = create_delivery_resources(delivery_session[0])
    patch = pytest.MonkeyPatch()
    patch.setenv("VS_TABLE_DATA", DATA_TABLE)
    patch.setenv("VS_BUCKET_ARTIFACTS", ARTIFACT_BUCKET)
    patch.setenv("VS_KEY_MANIFEST", outputs["ManifestKeyArn"])
    reset_delivery_caches()
    try:
        yield outputs
    finally:
        reset_delivery_caches()
        patch.undo()


def link_active_subscription(customer_id: str, aws_account_id: str) -> None:
    """An active AWS Marketplace subscription, as registration would link it."""
    from subscriptions.dal.store import SubscriptionStore
    from subscriptions.models import Subscription

    subscription = Subscription(
        customer_id,
        f"{customer_id}@example.com",
        aws_account_id,
        "exampleprod1234567890",
        "active",
        license_arn=f"arn:aws:license-manager::444455556666:license:l-{aws_account_id:0>32}",
    )
    SubscriptionStore(DATA_TABLE).link(subscription, None, now=datetime.now(UTC))


@pytest.fixture(name="world")
def world_fixture(
    vault: Vault, delivery_outputs: dict[str, str], delivery_session: tuple[Any, Any], tmp_path: Path
) -> Iterator[DeliveryWorld]:
    """An empty data table for every test (objects stay: each publish makes new object versions)."""
    from shared.config import get_config

    world = DeliveryWorld(vault, delivery_outputs, tmp_path, *delivery_session)
    world.vault.empty(DATA_TABLE)
    get_config.cache_clear()
    reset_delivery_caches()
    link_active_subscription(SUB, "111122223330")
    link_active_subscription(OTHER_SUB, "111122223331")
    yield world
    reset_delivery_caches()


@pytest.fixture(name="customer_key")
def customer_key_fixture(vault: Vault) -> dict:
    return vault.create_key(sub=SUB, label="stack")
