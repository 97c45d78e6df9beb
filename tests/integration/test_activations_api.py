"""Activation API (docs/protocol.md §4.1) through the license handler, after a publish into moto."""

from __future__ import annotations

import copy
import hashlib
import json
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pytest

import subscriptions.logic.status
from activations.dal.activation_store import ActivationStore
from tests.plugins.delivery_world import (
    ACCOUNT_ID,
    ARTIFACT_BUCKET,
    DATA_TABLE,
    PRODUCT,
    REGION,
    STACK_ID,
    DeliveryWorld,
    parse_rfc3339,
)
from tests.plugins.keys_world import OTHER_EMAIL, OTHER_SUB, SUB, TableSnapshot
from tests.plugins.keys_world import PRODUCT as RUNTIME_PRODUCT


@pytest.fixture(name="first_publish", scope="module")
def first_publish_fixture(delivery_outputs: dict[str, str]) -> dict:
    """Release 1.0.0 as the module's first publish made it: its answer and the data table after it."""
    return {}


@pytest.fixture(name="published")
def published_fixture(world: DeliveryWorld, first_publish: dict) -> dict:
    """Release 1.0.0, published into the emptied world. The first test publishes it (publish.py
    and its own tests in test_publish.py); the others get the data table as that publish left
    it (its objects stay in the buckets) instead of building and uploading the same release again."""
    if not first_publish:
        first_publish["answer"] = world.publish("1.0.0")
        first_publish["tables"] = TableSnapshot(DATA_TABLE)
    else:
        first_publish["tables"].restore()
    return copy.deepcopy(first_publish["answer"])


def test_activation_hands_out_a_signed_manifest_and_exact_downloads(
    world: DeliveryWorld, published: dict, customer_key: dict
) -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    answer = world.activate(customer_key)
    assert answer.status == 200, answer.body
    body = answer.body
    assert set(body) == {
        "activation_id",
        "manifest",
        "manifest_signature",
        "signature_algorithm",
        "downloads",
    }
    assert body["signature_algorithm"] == "RSASSA_PKCS1_V1_5_SHA_256"
    assert answer.headers.get("Cache-Control") == "no-store"
    world.verify_manifest(body)  # raises InvalidSignature otherwise

    manifest = body["manifest"]
    release = published["release"]
    assert set(manifest) == {
        "product",
        "version",
        "issued_at",
        "activation_id",
        "account_id",
        "stack_id",
        "request_nonce",
        "artifacts",
    }
    assert manifest["stack_id"] == STACK_ID
    assert manifest["product"] == PRODUCT and manifest["version"] == "1.0.0"
    assert manifest["account_id"] == ACCOUNT_ID
    assert manifest["activation_id"] == body["activation_id"]
    assert body["activation_id"].startswith("act-")
    assert before <= parse_rfc3339(manifest["issued_at"]) <= datetime.now(UTC)
    assert manifest["artifacts"] == [
        {"name": a["name"], "sha256": a["sha256"], "size": a["size"]} for a in release["artifacts"]
    ]
    assert all(type(a["size"]) is int for a in manifest["artifacts"])

    assert set(body["downloads"]) == {a["name"] for a in manifest["artifacts"]}
    for artifact in release["artifacts"]:
        download = body["downloads"][artifact["name"]]
        query = parse_qs(urlsplit(download["url"]).query)
        assert query["versionId"] == [artifact["version_id"]]  # exactly one object version
        assert urlsplit(download["url"]).path.endswith(artifact["key"])
        assert "/signed/" in artifact["key"]
        assert int(query["X-Amz-Expires"][0]) <= 900
        assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
        expires = parse_rfc3339(download["expires_at"])
        assert 0 < (expires - parse_rfc3339(manifest["issued_at"])).total_seconds() <= 900
        data = world.download(download["url"])
        assert hashlib.sha256(data).hexdigest() == artifact["sha256"]
        assert len(data) == artifact["size"]


def test_activation_is_recorded_and_queryable_by_customer(
    world: DeliveryWorld, published: dict, customer_key: dict
) -> None:
    answer = world.activate(customer_key)
    [item] = world.activation_items()
    activation_id = answer.body["activation_id"]
    assert item["pk"] == f"ACT#{activation_id}" and item["sk"] == "ACTIVATION"
    assert item["customer_id"] == SUB and item["access_key"] == customer_key["access_key"]
    assert (item["account_id"], item["region"], item["stack_id"]) == (ACCOUNT_ID, REGION, STACK_ID)
    assert item["version"] == "1.0.0" and item["status"] == "active"
    assert item["created_at"] == item["updated_at"]
    assert item["gsi1pk"] == f"CUSTACT#{SUB}" and item["gsi1sk"].endswith(f"#{activation_id}")
    assert "secret" not in json.dumps(item, default=str).lower()

    [listed] = ActivationStore(DATA_TABLE).for_customer(SUB)
    assert listed.activation_id == activation_id
    assert ActivationStore(DATA_TABLE).for_customer(OTHER_SUB) == []


def test_key_list_shows_the_stacks_that_use_each_key_until_deactivated(
    world: DeliveryWorld, published: dict, customer_key: dict
) -> None:
    spare = world.vault.create_key(label="spare")
    other = world.vault.create_key(sub=OTHER_SUB, email=OTHER_EMAIL)
    activation_id = world.activate(customer_key).body["activation_id"]
    world.activate(other)

    def stacks() -> dict[str, list[dict]]:
        return {k["access_key"]: k["stacks"] for k in world.vault.keys_api("GET").body["keys"]}

    listed = stacks()
    assert set(listed) == {customer_key["access_key"], spare["access_key"]}, "only the caller's keys"
    [stack] = listed[customer_key["access_key"]]
    assert stack["stack_id"] == STACK_ID and stack["stack_name"] == STACK_ID.split("/")[1]
    assert (stack["aws_account_id"], stack["region"], stack["version"]) == (ACCOUNT_ID, REGION, "1.0.0")
    assert listed[spare["access_key"]] == []
    assert world.deactivate(customer_key, activation_id).status == 204
    assert stacks()[customer_key["access_key"]] == [], "a deleted stack no longer uses the key"


def test_launch_link_names_the_published_template_version(world: DeliveryWorld, customer_key: dict) -> None:
    before = world.vault.keys_api("GET", "/v1/launch")
    assert before.status == 503 and before.body["error"]["code"] == "ReleaseUnavailable"
    published = world.publish("1.0.0")
    answer = world.vault.keys_api("GET", "/v1/launch")
    assert answer.status == 200 and answer.body["version"] == "1.0.0"
    link = urlsplit(answer.body["launch_url"])
    assert link.netloc == "console.aws.amazon.com" and "/stacks/quickcreate" in link.fragment
    query = parse_qs(link.fragment.split("?", 1)[1])
    template = urlsplit(query["templateURL"][0])
    template_query = parse_qs(template.query)
    assert template.path.endswith(published["template"]["key"])
    assert template_query["versionId"] == [published["template"]["version_id"]]
    assert template_query["X-Amz-Expires"] == ["3600"]
    assert query["stackName"] == [RUNTIME_PRODUCT["name"]]
    assert world.vault.keys_api("GET", "/v1/launch", claims=None).status in {401, 403}


def test_update_reactivates_the_same_id(world: DeliveryWorld, published: dict, customer_key: dict) -> None:
    created = world.activate(customer_key, "Create").body
    [first] = world.activation_items()
    world.publish("1.1.0")
    updated = world.activate(customer_key, "Update").body
    assert updated["activation_id"] == created["activation_id"]
    assert updated["manifest"]["version"] == "1.1.0"
    [item] = world.activation_items()
    assert item["created_at"] == first["created_at"] and item["gsi1sk"] == first["gsi1sk"]
    assert item["version"] == "1.1.0" and item["last_request_type"] == "Update"
    # another stack of the same customer is another activation
    other_stack = STACK_ID.replace("example-stack", "second-stack")
    second = world.activate(customer_key, stack_id=other_stack).body
    assert second["activation_id"] != created["activation_id"]
    assert len(world.activation_items()) == 2


def test_the_manifest_names_the_request_it_answers(
    world: DeliveryWorld, published: dict, customer_key: dict
) -> None:
    """A signed answer names the stack and the request's nonce: replayed to another stack, or as
    the answer to a later request (another nonce), the custom resource refuses it."""
    first = world.activate(customer_key, nonce="first-request-nonce-0001").body["manifest"]
    other_stack = STACK_ID.replace("example-stack", "second-stack")
    second = world.activate(customer_key, nonce="second-request-nonce-002", stack_id=other_stack).body
    world.verify_manifest(second)
    assert (first["stack_id"], first["request_nonce"]) == (STACK_ID, "first-request-nonce-0001")
    assert (second["manifest"]["stack_id"], second["manifest"]["request_nonce"]) == (
        other_stack,
        "second-request-nonce-002",
    )
    # the nonce is used up by the first request: the same signed request again is a replay
    again = world.activate(customer_key, nonce="first-request-nonce-0001")
    assert (again.status, again.code) == (401, "ReplayDetected")


def test_version_absent_is_the_current_release(
    world: DeliveryWorld, published: dict, customer_key: dict
) -> None:
    world.publish("1.1.0")
    answer = world.activate(customer_key)
    assert answer.status == 200 and answer.body["manifest"]["version"] == "1.1.0"


def test_a_named_version_is_delivered_even_when_not_current(
    world: DeliveryWorld, published: dict, customer_key: dict
) -> None:
    newer = world.publish("1.1.0")
    older = world.activate(customer_key, "Update", version="1.0.0")
    assert older.status == 200, older.body
    world.verify_manifest(older.body)
    assert older.body["manifest"]["version"] == "1.0.0"
    assert older.body["manifest"]["artifacts"] == _listed(published)
    [item] = world.activation_items()
    assert item["version"] == "1.0.0"
    current = world.activate(customer_key, "Update", version="1.1.0").body["manifest"]
    assert current["artifacts"] == _listed(newer)


def _listed(published: dict) -> list[dict]:
    return [
        {"name": a["name"], "sha256": a["sha256"], "size": a["size"]}
        for a in published["release"]["artifacts"]
    ]


def test_a_version_never_released_is_404_and_records_nothing(
    world: DeliveryWorld, published: dict, customer_key: dict
) -> None:
    answer = world.activate(customer_key, version="9.9.9")
    assert (answer.status, answer.code) == (404, "NotFound")
    assert "9.9.9" in answer.body["error"]["message"]
    assert world.activation_items() == []


def test_another_customer_gets_another_id_for_the_same_stack(
    world: DeliveryWorld, published: dict, customer_key: dict
) -> None:
    other = world.vault.create_key(sub=OTHER_SUB, email=OTHER_EMAIL)
    mine = world.activate(customer_key).body["activation_id"]
    theirs = world.activate(other).body["activation_id"]
    assert mine != theirs


def test_inactive_subscription_is_402_and_writes_nothing(
    world: DeliveryWorld, published: dict, customer_key: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = []

    def inactive(store: object, customer_id: str, now: datetime) -> bool:
        seen.append(customer_id)
        return False

    monkeypatch.setattr(subscriptions.logic.status, "subscription_allows_activation", inactive)
    before = world.data_items()
    answer = world.activate(customer_key)
    assert (answer.status, answer.code) == (402, "SubscriptionInactive")
    assert set(answer.body) == {"error"}
    assert seen == [SUB]
    assert world.data_items() == before and world.activation_items() == []


def test_no_release_is_503_release_unavailable(world: DeliveryWorld, customer_key: dict) -> None:
    answer = world.activate(customer_key)
    assert (answer.status, answer.code) == (503, "ReleaseUnavailable")
    assert "No release of textlens" in answer.body["error"]["message"]
    assert world.activation_items() == []


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"stack_id": None}, "stack_id"),
        ({"account_id": None}, "account_id"),
        ({"region": None}, "region"),
        ({"request_type": None}, "request_type"),
        ({"extra": "x"}, "extra"),
        ({"account_id": "44445555666"}, "account_id"),
        ({"account_id": 444455556666}, "account_id"),
        ({"region": "US-EAST-1"}, "region"),
        ({"request_type": "Delete"}, "request_type"),
        ({"stack_id": "example-stack"}, "stack_id"),
        ({"stack_id": STACK_ID.replace("444455556666", "111122223333")}, "stack_id"),
        ({"stack_id": STACK_ID.replace("us-east-1", "eu-west-1")}, "stack_id"),
        ({"stack_id": STACK_ID.replace(":cloudformation:", ":s3:")}, "stack_id"),
        ({"version": "1.0"}, "version"),
        ({"version": 100}, "version"),
    ],
)
def test_bad_bodies_are_400_naming_the_field(
    world: DeliveryWorld, customer_key: dict, change: dict, field: str
) -> None:
    document = {"stack_id": STACK_ID, "account_id": ACCOUNT_ID, "region": REGION, "request_type": "Create"}
    document.update(change)
    document = {k: v for k, v in document.items() if v is not None}
    answer = world.activate_raw(customer_key, json.dumps(document).encode())
    assert (answer.status, answer.code) == (400, "ValidationError"), answer.body
    assert f"'{field}'" in answer.body["error"]["message"]
    assert world.activation_items() == []


@pytest.mark.parametrize("body", [b"", b"not json", b"[]", b'"x"'])
def test_non_object_bodies_are_400(world: DeliveryWorld, customer_key: dict, body: bytes) -> None:
    answer = world.activate_raw(customer_key, body)
    assert (answer.status, answer.code) == (400, "ValidationError")


def test_query_parameters_are_refused(world: DeliveryWorld, published: dict, customer_key: dict) -> None:
    body = json.dumps(
        {"stack_id": STACK_ID, "account_id": ACCOUNT_ID, "region": REGION, "request_type": "Create"}
    ).encode()
    answer = world.activate_raw(customer_key, body, query=[("dry_run", "1")])
    assert (answer.status, answer.code) == (400, "ValidationError")
    assert "dry_run" in answer.body["error"]["message"]


def test_unsigned_calls_are_refused(world: DeliveryWorld, published: dict, customer_key: dict) -> None:
    from tests.plugins.keys_world import rest_event

    answer = world.vault.license_api(rest_event("POST", "/v1/activations", body="{}"))
    assert (answer.status, answer.code) == (401, "MissingAuthentication")
    wrong = {**customer_key, "secret_key": customer_key["secret_key"][:-1] + "x"}
    assert world.activate(wrong).code == "SignatureDoesNotMatch"
    assert world.activation_items() == []


def test_delete_is_idempotent(world: DeliveryWorld, published: dict, customer_key: dict) -> None:
    activation_id = world.activate(customer_key).body["activation_id"]
    first = world.deactivate(customer_key, activation_id)
    assert (first.status, first.body) == (204, None)
    [item] = world.activation_items()
    assert item["status"] == "deactivated" and item["deactivated_at"] == item["updated_at"]
    again = world.deactivate(customer_key, activation_id)
    assert again.status == 204
    [still] = world.activation_items()
    assert still["deactivated_at"] == item["deactivated_at"]
    # a later Create/Update of the same stack makes it active again
    assert world.activate(customer_key, "Update").body["activation_id"] == activation_id
    [back] = world.activation_items()
    assert back["status"] == "active" and "deactivated_at" not in back


def test_delete_of_unknown_or_another_customers_activation_is_404(
    world: DeliveryWorld, published: dict, customer_key: dict
) -> None:
    other = world.vault.create_key(sub=OTHER_SUB, email=OTHER_EMAIL)
    theirs = world.activate(other).body["activation_id"]
    for activation_id in (theirs, "act-doesnotexist0000000000", "not-an-activation"):
        answer = world.deactivate(customer_key, activation_id)
        assert (answer.status, answer.code) == (404, "NotFound"), activation_id
        assert theirs not in answer.body["error"]["message"]
    [item] = world.activation_items()
    assert item["status"] == "active"


def test_audit_names_the_route_templates(world: DeliveryWorld, published: dict, customer_key: dict) -> None:
    activation_id = world.activate(customer_key).body["activation_id"]
    world.deactivate(customer_key, activation_id)
    records = [r for r in world.vault.audit_items() if r["api"] == "license"]
    operations = sorted((r["operation"], r["status"], r["customer_id"]) for r in records)
    assert operations == [
        ("DELETE /v1/activations/{activation_id}", 204, SUB),
        ("POST /v1/activations", 200, SUB),
    ]
    assert all(r["access_key"] == customer_key["access_key"] for r in records)


def test_release_in_another_bucket_is_refused(
    world: DeliveryWorld, published: dict, customer_key: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VS_BUCKET_ARTIFACTS", ARTIFACT_BUCKET + "-elsewhere")
    import activations.handlers.router
    from shared.config import get_config

    get_config.cache_clear()
    activations.handlers.router.delivery.cache_clear()
    answer = world.activate(customer_key)
    assert (answer.status, answer.code) == (503, "ReleaseUnavailable")
    monkeypatch.undo()
    get_config.cache_clear()
    activations.handlers.router.delivery.cache_clear()


def test_customer_without_a_subscription_is_402(
    world: DeliveryWorld, published: dict, vault_key_of_stranger: dict
) -> None:
    before = world.activation_items()
    answer = world.activate(vault_key_of_stranger)
    assert (answer.status, answer.code) == (402, "SubscriptionInactive")
    assert world.activation_items() == before == []


@pytest.fixture(name="vault_key_of_stranger")
def vault_key_of_stranger_fixture(world: DeliveryWorld) -> dict:
    return world.vault.create_key(sub="99999999-9999-4999-8999-999999999999", email="stranger@example.com")
