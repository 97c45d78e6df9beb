"""Release/activation models, request validation and the activation logic's order, without AWS."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from botocore.exceptions import ClientError

from activations.bodies import ActivationRequest
from activations.logic import activations as logic
from activations.models import (
    Activation,
    Release,
    ReleaseArtifact,
    activation_id_for,
    canonical_manifest,
)
from customer_stack import publish as publishing
from shared.errors import NotFound, SubscriptionInactive, ValidationError
from shared.http import parse_body

STACK = (
    "arn:aws:cloudformation:us-east-1:444455556666:stack/example-stack/aaaaaaaa-1111-2222-3333-bbbbbbbbbbbb"
)
CR_ACTIVATION_ID = re.compile(r"act-[A-Za-z0-9_-]{1,128}")  # what the custom resource accepts
NOW = datetime(2026, 11, 22, 13, 54, 0, 123456, tzinfo=UTC)


@pytest.fixture(autouse=True)
def subscribed(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests are about the activation logic; the subscription check has its own tests."""
    import subscriptions.logic.status

    monkeypatch.setattr(subscriptions.logic.status, "subscription_allows_activation", lambda *_: True)


def _release(**changes) -> Release:
    artifact = ReleaseArtifact(
        name="api",
        key="releases/textlens/1.0.0/signed/api.zip",
        version_id="v2",
        sha256="ab" * 32,
        size=1234,
        unsigned_key="releases/textlens/1.0.0/unsigned/api.zip",
        unsigned_version_id="v1",
    )
    values = dict(
        product="textlens",
        version="1.0.0",
        published_at="2026-11-22T13:00:00Z",
        signing="aws-signer",
        bucket="artifacts",
        artifacts=(artifact,),
        template={"bucket": "t", "key": "textlens/1.0.0/customer.template.json", "version_id": "tv"},
    )
    values.update(changes)
    return Release(**values)


def test_activation_id_is_stable_per_customer_and_stack() -> None:
    first = activation_id_for("customer-a", STACK)
    assert first == activation_id_for("customer-a", STACK)
    assert CR_ACTIVATION_ID.fullmatch(first) and len(first) == 28
    assert first != activation_id_for("customer-b", STACK)
    assert first != activation_id_for("customer-a", STACK.replace("example-stack", "other"))


def test_canonical_manifest_is_sorted_compact_utf8() -> None:
    manifest = {"version": "1.0.0", "artifacts": [{"size": 1, "name": "api"}], "product": "é"}
    assert (
        canonical_manifest(manifest)
        == b'{"artifacts":[{"name":"api","size":1}],"product":"\\u00e9","version":"1.0.0"}'
    )


def test_release_items_round_trip_through_dynamodb_numbers() -> None:
    release = _release()
    version_item, current_item = release.version_item(), release.current_item()
    assert (version_item["pk"], version_item["sk"]) == ("RELEASE#textlens", "VERSION#1.0.0")
    assert (current_item["pk"], current_item["sk"]) == ("RELEASE#textlens", "CURRENT")
    assert "signing_job_id" not in version_item["artifacts"][0]  # None is not stored
    as_read = {
        **version_item,
        "artifacts": [{**a, "size": Decimal(a["size"])} for a in version_item["artifacts"]],
    }
    assert Release.from_item(as_read) == release
    manifest = Release.from_item(as_read).manifest(
        activation_id="act-x",
        account_id="444455556666",
        stack_id=STACK,
        request_nonce="n" * 16,
        issued_at=NOW,
    )
    assert manifest == {
        "product": "textlens",
        "version": "1.0.0",
        "issued_at": "2026-11-22T13:54:00Z",
        "activation_id": "act-x",
        "account_id": "444455556666",
        "stack_id": STACK,
        "request_nonce": "n" * 16,
        "artifacts": [{"name": "api", "sha256": "ab" * 32, "size": 1234}],
    }
    assert type(manifest["artifacts"][0]["size"]) is int


def _body(**changes) -> bytes:
    import json

    document = {
        "stack_id": STACK,
        "account_id": "444455556666",
        "region": "us-east-1",
        "request_type": "Create",
    }
    document.update(changes)
    return json.dumps({k: v for k, v in document.items() if v is not None}).encode()


def test_a_good_request_parses() -> None:
    request = parse_body(_body(request_type="Update"), ActivationRequest)
    assert request.request_type == "Update" and request.stack_id == STACK


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"stack_id": STACK.replace("444455556666", "111122223333")},
            "Field 'stack_id': names another account",
        ),
        ({"stack_id": STACK.replace("us-east-1", "eu-west-1")}, "Field 'stack_id': names another region"),
        (
            {"stack_id": "arn:aws:cloudformation:us-east-1:444455556666:stack/"},
            "Field 'stack_id': must be a CloudFormation",
        ),
        ({"account_id": "4444-5555-6666"}, "Field 'account_id': must be 12 digits"),
        ({"region": "useast1"}, "Field 'region': must be an AWS region"),
        ({"request_type": "Delete"}, "Field 'request_type'"),
        ({"stack_id": None}, "Field 'stack_id': is required"),
        ({"surplus": 1}, "Field 'surplus': unknown field"),
        ({"version": "1.4"}, "Field 'version': must be a released version"),
        ({"version": "v1.4.0"}, "Field 'version': must be a released version"),
        ({"version": 1}, "Field 'version'"),
    ],
)
def test_bad_requests_name_the_field(changes: dict, message: str) -> None:
    with pytest.raises(ValidationError) as refused:
        parse_body(_body(**changes), ActivationRequest)
    assert refused.value.message.startswith(message), refused.value.message


def test_version_is_optional() -> None:
    assert parse_body(_body(), ActivationRequest).version is None
    assert parse_body(_body(version="1.4.0"), ActivationRequest).version == "1.4.0"


def test_other_partitions_are_stack_arns_too() -> None:
    gov = (
        "arn:aws-us-gov:cloudformation:us-gov-west-1:444455556666:stack/s/"
        + "aaaaaaaa-1111-2222-3333-bbbbbbbbbbbb"
    )
    assert (
        parse_body(_body(stack_id=gov, region="us-gov-west-1"), ActivationRequest).region == "us-gov-west-1"
    )


# --- the logic's order, with fakes ------------------------------------------------------------------------


class Fake:
    def __init__(
        self,
        release: Release | None = None,
        existing: Activation | None = None,
        versions: dict[str, Release] | None = None,
    ) -> None:
        self.calls: list[str] = []
        self._release = release
        self._existing = existing
        self._versions = versions or {}

    # releases
    def current(self, product: str) -> Release | None:
        self.calls.append(f"current {product}")
        return self._release

    def version(self, product: str, version: str) -> Release | None:
        self.calls.append(f"version {product} {version}")
        return self._versions.get(version)

    # signer
    def sign(self, message: bytes) -> str:
        self.calls.append("sign")
        return "c2ln"

    # downloads
    def presign(self, artifact: ReleaseArtifact, now: datetime) -> dict:
        self.calls.append(f"presign {artifact.version_id}")
        return {"url": "https://example/x", "expires_at": "2026-11-22T14:09:00Z"}

    # activations
    def record(self, activation: Activation, created_sortable: str) -> Activation:
        self.calls.append(f"record {activation.activation_id}")
        return activation

    def get(self, activation_id: str) -> Activation | None:
        self.calls.append("get")
        return self._existing

    def deactivate(self, activation_id: str, customer_id: str, now: str) -> None:
        self.calls.append("deactivate")


def _delivery(fake: Fake, bucket: str = "artifacts") -> logic.Delivery:
    return logic.Delivery(
        subscriptions=fake, releases=fake, activations=fake, signer=fake, downloads=fake, bucket=bucket
    )


def _activate(fake: Fake, version: str | None = None, **kwargs):
    request = parse_body(_body(version=version), ActivationRequest)
    return logic.activate(
        _delivery(fake, **kwargs),
        product="textlens",
        customer_id="c",
        access_key="VSAK",
        request_nonce="nonce-of-this-request-0001",
        request=request,
        now=NOW,
    )


def test_inactive_subscription_stops_before_anything(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(logic.subscription_status, "subscription_allows_activation", lambda s, c, n: False)
    fake = Fake(_release())
    with pytest.raises(SubscriptionInactive):
        _activate(fake)
    assert fake.calls == []


def test_activation_signs_presigns_then_records() -> None:
    fake = Fake(_release())
    answer = _activate(fake)
    activation_id = activation_id_for("c", STACK)
    assert fake.calls == ["current textlens", "sign", "presign v2", f"record {activation_id}"]
    assert answer["activation_id"] == activation_id and answer["manifest_signature"] == "c2ln"


def test_activation_binds_the_manifest_to_the_request() -> None:
    manifest = _activate(Fake(_release()))["manifest"]
    assert manifest["stack_id"] == STACK
    assert manifest["request_nonce"] == "nonce-of-this-request-0001"
    assert manifest["issued_at"] == "2026-11-22T13:54:00Z"


def test_a_named_version_is_delivered_not_the_current_one() -> None:
    older = _release(version="0.9.0")
    fake = Fake(_release(), versions={"0.9.0": older})
    answer = _activate(fake, version="0.9.0")
    assert answer["manifest"]["version"] == "0.9.0"
    assert "current textlens" not in fake.calls and fake.calls[0] == "version textlens 0.9.0"


def test_a_version_never_released_is_404_and_hands_out_nothing() -> None:
    fake = Fake(_release())
    with pytest.raises(NotFound) as refused:
        _activate(fake, version="7.0.0")
    assert refused.value.status == 404 and "7.0.0" in refused.value.message
    assert fake.calls == ["version textlens 7.0.0"]


@pytest.mark.parametrize("release", [None, _release(artifacts=()), _release(bucket="elsewhere")])
def test_no_usable_release_is_503(release: Release | None) -> None:
    fake = Fake(release)
    with pytest.raises(logic.ReleaseUnavailable) as refused:
        _activate(fake)
    assert refused.value.status == 503 and refused.value.code == "ReleaseUnavailable"
    assert not any(c.startswith(("sign", "record")) for c in fake.calls)


def test_deactivate_refuses_malformed_ids_without_a_lookup() -> None:
    fake = Fake()
    with pytest.raises(NotFound):
        logic.deactivate(fake, customer_id="c", activation_id="act-bad id", now=NOW)
    assert fake.calls == []


# --- publishing helpers --------------------------------------------------------------------------------


@pytest.mark.parametrize("version", ["1.0.0", "0.0.1", "10.20.30"])
def test_versions_accepted(version: str) -> None:
    assert publishing.check_version(version) == version


@pytest.mark.parametrize("version", ["1.0", "v1.0.0", "1.0.0-rc1", "01.0.0", "", "1..0"])
def test_versions_refused(version: str) -> None:
    with pytest.raises(publishing.BadInput):
        publishing.check_version(version)


def test_outputs_must_name_everything() -> None:
    outputs = {name: "x" for name in publishing.REQUIRED_OUTPUTS}
    assert publishing.check_outputs(outputs) == outputs
    with pytest.raises(publishing.BadInput, match="lack ApiUrl, DataTable"):
        publishing.check_outputs({k: v for k, v in outputs.items() if k not in {"ApiUrl", "DataTable"}})


def test_quick_create_url_encodes_the_template_url() -> None:
    url = publishing.quick_create_url(
        "eu-west-1", "https://b.s3.amazonaws.com/t.json?X-Amz-Signature=a&b=c", "textlens"
    )
    assert url == (
        "https://console.aws.amazon.com/cloudformation/home?region=eu-west-1#/stacks/quickcreate"
        "?templateURL=https%3A%2F%2Fb.s3.amazonaws.com%2Ft.json%3FX-Amz-Signature%3Da%26b%3Dc&stackName=textlens"
    )


def _client_error(code: str, status: int, message: str = "") -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}},
        "StartSigningJob",
    )


@pytest.mark.parametrize(
    ("error", "missing"),
    [
        (_client_error("404", 404, "Not yet implemented"), True),  # moto, in-process
        (_client_error("404", 404, "<!doctype html>"), True),  # moto, server mode
        (NotImplementedError(), True),
        (_client_error("ResourceNotFoundException", 404, "profile not found"), False),
        (_client_error("AccessDeniedException", 403), False),
        (_client_error("ValidationException", 400), False),
    ],
)
def test_signer_missing_is_told_from_real_errors(error: Exception, missing: bool) -> None:
    assert publishing._signer_missing(error) is missing
