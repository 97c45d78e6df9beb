"""The release records' one home (`activations.dal.releases`): publish writes them there, and
activations read them there, on moto."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import boto3
import pytest
from moto import mock_aws

from activations.dal.releases import ReleasePublishedMeanwhile, ReleaseStore
from activations.models import Release, ReleaseArtifact
from shared.errors import ServiceError
from tests.plugins.platform_tables import DATA_TABLE, create_data_table


def _release(version: str = "1.0.0", sha: str = "ab") -> Release:
    artifact = ReleaseArtifact(
        name="api",
        key=f"releases/textlens/{version}/signed/api.zip",
        version_id="v2",
        sha256=sha * 32,
        size=1234,
        unsigned_key=f"releases/textlens/{version}/unsigned/api.zip",
        unsigned_version_id="v1",
        signing_job_id="job-1",
    )
    return Release(
        product="textlens",
        version=version,
        published_at="2026-11-22T13:00:00Z",
        signing="aws-signer",
        bucket="artifacts",
        artifacts=(artifact,),
        template={"bucket": "t", "key": f"textlens/{version}/customer.template.json", "version_id": "tv"},
    )


@pytest.fixture(name="store")
def store_fixture(monkeypatch: pytest.MonkeyPatch) -> Iterator[ReleaseStore]:
    for name, value in (
        ("AWS_ACCESS_KEY_ID", "x"),
        ("AWS_SECRET_ACCESS_KEY", "x"),
        ("AWS_DEFAULT_REGION", "us-east-1"),
    ):
        monkeypatch.setenv(name, value)
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        create_data_table(ddb)
        yield ReleaseStore(DATA_TABLE, dynamodb=ddb)


def test_a_recorded_release_is_the_version_and_the_current_one(store: ReleaseStore) -> None:
    store.record(_release("1.0.0"), force=False)
    store.record(_release("1.1.0"), force=False)
    assert store.version("textlens", "1.0.0") == _release("1.0.0")
    assert store.current("textlens") == _release("1.1.0")


def test_a_version_is_recorded_once_unless_forced(store: ReleaseStore) -> None:
    store.record(_release("1.0.0"), force=False)
    with pytest.raises(ReleasePublishedMeanwhile):
        store.record(_release("1.0.0", sha="cd"), force=False)
    assert store.version("textlens", "1.0.0") == _release("1.0.0")  # nothing changed
    store.record(_release("1.0.0", sha="cd"), force=True)
    assert store.version("textlens", "1.0.0") == _release("1.0.0", sha="cd")
    assert store.current("textlens") == _release("1.0.0", sha="cd")


def test_a_refused_write_changes_neither_item(store: ReleaseStore) -> None:
    """The version's item and CURRENT are one transaction: a refusal leaves CURRENT as it was."""
    store.record(_release("1.0.0"), force=False)
    store.record(_release("2.0.0"), force=False)
    with pytest.raises(ReleasePublishedMeanwhile):
        store.record(replace(_release("1.0.0"), published_at="2026-11-23T00:00:00Z"), force=False)
    assert store.current("textlens") == _release("2.0.0")


def test_a_missing_table_is_a_service_error_with_the_sdk_cause(store: ReleaseStore) -> None:
    other = ReleaseStore("no-such-table", dynamodb=boto3.client("dynamodb", region_name="us-east-1"))
    with pytest.raises(ServiceError) as failed:
        other.record(_release(), force=False)
    assert failed.value.__cause__ is not None
