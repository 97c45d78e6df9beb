"""The vendor functions run the SDK that requirements.txt pins (issue 8, item 3): a layer built at
synth time without Docker, attached to every vendor function, and the same bytes on every build."""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.plugins import ROOT


def test_every_vendor_function_runs_the_pinned_sdk_layer(vendor_template):
    from constructs.sdk_layer import sdk_pins

    layers = {
        k: r
        for k, r in vendor_template["Resources"].items()
        if r["Type"] == "AWS::Lambda::LayerVersion"
        and "AWS SDK pinned" in r["Properties"].get("Description", "")
    }
    (layer_name,) = layers
    props = layers[layer_name]["Properties"]
    assert props["CompatibleRuntimes"] == ["python3.14"] and props["CompatibleArchitectures"] == ["x86_64"]
    assert props["Content"]["S3Key"].endswith(".zip")  # a CDK file asset, built at synth time
    pins = dict(p.split("==") for p in sdk_pins())
    assert f"boto3=={pins['boto3']}" in props["Description"]
    # the platform's own functions (runtime/ with Powertools), not aws-cdk-lib's BucketDeployment handler
    functions = {
        k: r
        for k, r in vendor_template["Resources"].items()
        if r["Type"] == "AWS::Lambda::Function"
        and "Powertools" in json.dumps(r["Properties"].get("Layers", []))
    }
    assert len(functions) >= 6
    for name, fn in functions.items():
        # last, so that on any path two layers share, the pinned SDK wins
        assert fn["Properties"]["Layers"][-1] == {"Ref": layer_name}, name


def test_the_customer_template_has_no_layer(customer_template):
    assert not any(r["Type"] == "AWS::Lambda::LayerVersion" for r in customer_template["Resources"].values())


def test_pins_come_from_requirements_txt():
    from constructs.sdk_layer import SDK_PACKAGES, sdk_pins

    pins = sdk_pins()
    assert [p.split("==")[0] for p in pins] == list(SDK_PACKAGES)
    text = (ROOT / "requirements.txt").read_text()
    for pin in pins:
        assert pin in text


def test_a_missing_pin_is_a_clear_error(tmp_path):
    from constructs.sdk_layer import SdkLayerError, sdk_pins

    requirements = tmp_path / "requirements.txt"
    requirements.write_text("boto3==1.0.0\nbotocore>=1.0\n")
    with pytest.raises(SdkLayerError, match="must pin botocore, jmespath"):
        sdk_pins(requirements)


def test_the_layer_holds_exactly_the_pins_and_nothing_machine_specific(vendor_template):
    from constructs.sdk_layer import BUILD_ROOT, build_key, sdk_pins

    pins = sdk_pins()
    folder = BUILD_ROOT / build_key(pins, "3.14")
    site = folder / "python"
    versions = {p.name.removesuffix(".dist-info") for p in site.glob("*.dist-info")}
    assert versions == {pin.replace("==", "-").replace("python-dateutil", "python_dateutil") for pin in pins}
    assert not (site / "bin").exists()
    assert not list(site.rglob("__pycache__")) and not list(site.rglob("*.pyc"))
    for record in site.glob("*.dist-info/RECORD"):
        assert not any(line.startswith(("../", "bin/")) for line in record.read_text().splitlines())
    metadata = [p for p in site.glob("*.dist-info/**/*") if p.is_file()]
    assert metadata and not any(str(ROOT) in p.read_text(errors="ignore") for p in metadata)


@pytest.mark.slow(reason="pip builds the SDK layer once more, to compare it with the synth's build")
def test_building_twice_gives_the_same_asset_hash(tmp_path, vendor_template):
    """A second build, here, against the one the synth made (another pip run, at another time)."""
    import aws_cdk as cdk

    from constructs.sdk_layer import BUILD_ROOT, build_key, build_sdk_layer, sdk_pins

    pins = sdk_pins()
    first = build_sdk_layer(pins, "3.14", tmp_path / "first")
    synthesized = BUILD_ROOT / build_key(pins, "3.14")
    assert first != synthesized and synthesized.is_dir()
    fingerprint = cdk.FileSystem.fingerprint
    assert fingerprint(str(first)) == fingerprint(str(synthesized))
    # and a built folder is reused, not rebuilt
    marker = first / "python" / "reused"
    marker.write_text("")
    assert build_sdk_layer(pins, "3.14", tmp_path / "first") == first and marker.exists()


def test_pip_failure_is_reported_and_leaves_no_half_built_layer(tmp_path, monkeypatch):
    from constructs.sdk_layer import SdkLayerError, build_sdk_layer

    def failing_pip(*args, **kwargs):
        return subprocess.CompletedProcess(
            args, 1, "", "ERROR: Could not find a version that satisfies boto3"
        )

    monkeypatch.setattr(subprocess, "run", failing_pip)
    with pytest.raises(SdkLayerError, match="needs their wheels from PyPI, and pip failed"):
        build_sdk_layer(("boto3==9.9.9",), "3.14", tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == [".lock"]
