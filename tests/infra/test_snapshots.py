"""Whole-template snapshots. Asset hashes, asset keys and the inline activation code are
masked, so an edit to a handler does not churn them; any other change shows up here
(`make snapshot-update` after reviewing it)."""

from __future__ import annotations

import copy
import re

import pytest
from syrupy.extensions.json import JSONSnapshotExtension

ASSET_HASH = re.compile(r"[0-9a-f]{64}")


def mask(template: dict) -> dict:
    masked = copy.deepcopy(template)
    for resource in masked.get("Resources", {}).values():
        metadata = resource.get("Metadata", {})
        for key in ("aws:asset:path", "aws:asset:hash"):
            if key in metadata:
                metadata[key] = "<asset>"
        keys = resource.get("Properties", {}).get("SourceObjectKeys")  # BucketDeployment's assets
        if isinstance(keys, list):
            resource["Properties"]["SourceObjectKeys"] = [
                ASSET_HASH.sub("<asset-hash>", k) if isinstance(k, str) else k for k in keys
            ]
        properties = resource.get("Properties", {})
        for code in (properties.get("Code", {}), properties.get("Content", {})):  # functions, layers
            if isinstance(code.get("S3Key"), str):
                code["S3Key"] = ASSET_HASH.sub("<asset-hash>", code["S3Key"])
        code = properties.get("Code", {})
        if "ZipFile" in code:
            code["ZipFile"] = (
                "<inline activation code: see test_activation_code_is_inline_and_is_the_shipped_source>"
            )
    return masked


@pytest.fixture
def json_snapshot(snapshot):
    return snapshot.use_extension(JSONSnapshotExtension)


def test_vendor_platform_template(vendor_template, json_snapshot):
    assert mask(vendor_template) == json_snapshot


def test_customer_template(customer_template, json_snapshot):
    assert mask(customer_template) == json_snapshot


def test_mask_hides_asset_hashes_only(vendor_template):
    masked = mask(vendor_template)
    text = str(masked)
    assert not ASSET_HASH.search(
        " ".join(str(r.get("Properties", {}).get("Code", "")) for r in masked["Resources"].values())
    )
    assert "<asset-hash>.zip" in text
    for resource in masked["Resources"].values():  # the developer page's files are an asset too
        assert not ASSET_HASH.search(str(resource.get("Properties", {}).get("SourceObjectKeys", "")))
    assert masked["Resources"].keys() == vendor_template["Resources"].keys()
