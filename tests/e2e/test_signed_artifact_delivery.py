"""Signed artifact delivery end to end, through the sandbox: a customer signs up and creates a key,
the real activation custom resource runs a CloudFormation Create against the sandbox's license API
(signed POST, manifest verified with the published public key, artifacts streamed from presigned
URLs into a staging bucket in the sandbox's emulated AWS), then a Delete deactivates it.
"""

from __future__ import annotations

import hashlib
import json
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest
from boto3.dynamodb.types import TypeDeserializer

from tests.plugins import ROOT
from tests.plugins import activation_standins as fx
from tests.plugins.synth import load_context

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("sandbox")]

_RUNTIME = str(ROOT / "runtime")
if _RUNTIME not in sys.path:
    sys.path.insert(0, _RUNTIME)


_deserializer = TypeDeserializer()


def _session() -> boto3.session.Session:
    return boto3.session.Session(
        aws_access_key_id="sandbox",
        aws_secret_access_key="sandbox",  # the emulator accepts any credentials
        region_name="us-east-1",
    )


def _item(ddb, table: str, pk: str, sk: str) -> dict | None:
    found = ddb.get_item(TableName=table, Key={"pk": {"S": pk}, "sk": {"S": sk}}, ConsistentRead=True).get(
        "Item"
    )
    return {k: _deserializer.deserialize(v) for k, v in found.items()} if found else None


@pytest.fixture(scope="module")
def release(sandbox, assembly, tmp_path_factory) -> dict:
    """The current release in the sandbox. The sandbox publishes at start; a sandbox that does not
    (yet) is published into here, with the same `publish` function, so the test runs either way."""
    outputs = sandbox["vendor_outputs"]
    endpoint = sandbox["aws_endpoint_url"]
    ddb = _session().client("dynamodb", endpoint_url=endpoint)
    product = load_context()["vendstack"]["product"]
    current = _item(ddb, outputs["DataTable"], f"RELEASE#{product['name']}", "CURRENT")
    if current is None:
        from customer_stack.publish import publish

        # moto's CloudFormation drops a bucket's VersioningConfiguration; the template asks for it.
        s3 = _session().client("s3", endpoint_url=endpoint)
        for bucket in (outputs["ArtifactBucket"], outputs["TemplatesBucket"]):
            if s3.get_bucket_versioning(Bucket=bucket).get("Status") != "Enabled":
                s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})

        publish(
            outputs,
            session=_session(),
            endpoint_url=endpoint,
            product=product["name"],
            version=product["version"],
            template_path=Path(assembly.directory) / "VendstackCustomer.template.json",
            work_dir=tmp_path_factory.mktemp("release"),
            progress=lambda _m: None,
            region=sandbox["region"],
        )
        current = _item(ddb, outputs["DataTable"], f"RELEASE#{product['name']}", "CURRENT")
    assert current is not None
    return current


@pytest.fixture
def customer(api) -> dict:
    """Sign up, sign in, create a key through the developer API: the access key pair a customer
    pastes into the template."""
    email, password = f"delivery-{uuid.uuid4().hex[:8]}@example.com", "Delivery-Passw0rd!"
    status, body, _ = api.call("POST", "/_sandbox/users", {"email": email, "password": password})
    assert status == 201, body
    status, body, _ = api.call("POST", "/_sandbox/tokens", {"email": email, "password": password})
    assert status == 200, body
    expires = (datetime.now(UTC) + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    status, key, _ = api.call(
        "POST",
        "/v1/keys",
        {"label": "e2e stack", "expires_at": expires},
        headers={"Authorization": f"Bearer {body['id_token']}"},
    )
    assert status == 201, key
    bearer = {"Authorization": f"Bearer {body['id_token']}"}
    # Subscribed through AWS Marketplace: the fulfillment page's registration call.
    account = f"{uuid.uuid4().int % 10**12:012d}"
    status, made, _ = api.call("POST", "/_sandbox/marketplace/subscriptions", {"aws_account_id": account})
    assert status == 201, made
    status, linked, _ = api.call(
        "POST",
        "/v1/marketplace/registrations",
        {"registration_token": made["registration_token"]},
        headers=bearer,
    )
    assert (status, linked["status"]) == (200, "active"), linked
    return {"sub": _sub(body["id_token"]), "bearer": bearer, **key}


def _sub(id_token: str) -> str:
    import base64

    payload = id_token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["sub"]


@pytest.fixture
def customer_account(sandbox, customer, monkeypatch) -> dict:
    """The customer's side in the sandbox's emulated AWS: the stack's staging bucket and the secret
    holding the key pair, and the activation function's environment pointing at them."""
    endpoint = sandbox["aws_endpoint_url"]
    for name, value in {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "sandbox",
        "AWS_SECRET_ACCESS_KEY": "sandbox",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    s3 = _session().client("s3", endpoint_url=endpoint)
    bucket = f"customer-staging-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    secret = (
        _session()
        .client("secretsmanager", endpoint_url=endpoint)
        .create_secret(
            Name=f"vendstack-key-{bucket}",
            SecretString=json.dumps(
                {"access_key": customer["access_key"], "secret_key": customer["secret_key"]}
            ),
        )
    )
    monkeypatch.setenv("STAGING_BUCKET", bucket)
    monkeypatch.setenv("SECRET_ARN", secret["ARN"])
    return {"s3": s3, "bucket": bucket}


def test_create_stages_the_signed_release_and_delete_deactivates(
    sandbox, release, customer, customer_account, capsys, monkeypatch
) -> None:
    template = json.loads(Path(sandbox["customer_template"]).read_text())
    defaults = {name: p.get("Default") for name, p in template["Parameters"].items()}
    assert defaults["VendorApiUrl"] == sandbox["api_url"]
    assert defaults["ReleaseVersion"] == release["version"]  # the sandbox's template names its release
    # What the template gives the function: the vendor values in its environment (the sandbox's
    # plain-http URL needs the sandbox flag), the release as the resource's property.
    monkeypatch.setenv("VENDOR_API_URL", defaults["VendorApiUrl"])
    monkeypatch.setenv("VENDOR_PUBLIC_KEY", defaults["VendorPublicKey"])
    monkeypatch.setenv(fx.SANDBOX_FLAG, "1")
    properties = {"ReleaseVersion": defaults["ReleaseVersion"]}
    act = fx.load_activation_module("vendstack_activation_e2e")
    recorder = fx.ResponseRecorder()
    try:
        create = fx.cfn_event("Create", recorder.url, properties)
        act.handler(create, fx.FakeContext(120.0))
        created = recorder.only_response()
        assert created["Status"] == "SUCCESS", created.get("Reason")
        activation_id = created["PhysicalResourceId"]
        assert activation_id.startswith("act-") and created["Data"]["ActivationId"] == activation_id
        assert (created["Data"]["Product"], created["Data"]["Version"]) == (
            release["product"],
            release["version"],
        )

        # every artifact staged with the size and sha256 of the signed manifest (= the release record)
        s3, bucket = customer_account["s3"], customer_account["bucket"]
        for artifact in release["artifacts"]:
            key = f"{release['product']}/{release['version']}/{artifact['name']}.zip"
            staged = s3.get_object(Bucket=bucket, Key=key)
            data = staged["Body"].read()
            assert hashlib.sha256(data).hexdigest() == artifact["sha256"]
            assert len(data) == int(artifact["size"])
            assert staged["Metadata"]["sha256"] == artifact["sha256"]
            assert staged["Metadata"]["activation-id"] == activation_id

        outputs = sandbox["vendor_outputs"]
        ddb = _session().client("dynamodb", endpoint_url=sandbox["aws_endpoint_url"])
        item = _item(ddb, outputs["DataTable"], f"ACT#{activation_id}", "ACTIVATION")
        assert item["status"] == "active" and item["customer_id"] == customer["sub"]
        assert item["account_id"] == fx.ACCOUNT_ID and item["stack_id"] == create["StackId"]
        assert item["access_key"] == customer["access_key"]

        # An Update of the stack: the vendor keeps the activation id, so the physical id stays and
        # CloudFormation sends no cleanup Delete that would deactivate the renewed activation.
        recorder.responses.clear()
        update = fx.cfn_event("Update", recorder.url, properties, physical_id=activation_id)
        act.handler(update, fx.FakeContext(120.0))
        updated = recorder.only_response()
        assert (updated["Status"], updated["PhysicalResourceId"]) == ("SUCCESS", activation_id), updated
        assert updated["Data"]["Version"] == release["version"]
        item = _item(ddb, outputs["DataTable"], f"ACT#{activation_id}", "ACTIVATION")
        assert item["last_request_type"] == "Update" and item["status"] == "active"

        # A template naming a release the vendor never published fails the Update with the
        # vendor's 404 and keeps the physical id (CloudFormation then rolls back).
        recorder.responses.clear()
        unknown = fx.cfn_event(
            "Update", recorder.url, {"ReleaseVersion": "99.0.0"}, activation_id, properties
        )
        act.handler(unknown, fx.FakeContext(120.0))
        refused = recorder.only_response()
        assert (refused["Status"], refused["PhysicalResourceId"]) == ("FAILED", activation_id)
        assert "HTTP 404 NotFound" in refused["Reason"] and "99.0.0" in refused["Reason"]

        recorder.responses.clear()
        delete = fx.cfn_event("Delete", recorder.url, properties, physical_id=activation_id)
        act.handler(delete, fx.FakeContext(60.0))
        deleted = recorder.only_response()
        assert deleted["Status"] == "SUCCESS" and deleted["PhysicalResourceId"] == activation_id
        assert not deleted.get("Reason"), deleted["Reason"]  # the vendor answered (no "skipped")
        item = _item(ddb, outputs["DataTable"], f"ACT#{activation_id}", "ACTIVATION")
        assert item["status"] == "deactivated" and item["deactivated_at"]
    finally:
        recorder.close()
    logged = capsys.readouterr().out
    assert customer["secret_key"] not in logged and "X-Amz-Signature" not in logged
