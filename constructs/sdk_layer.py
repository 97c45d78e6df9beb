"""The AWS SDK the vendor functions run: boto3 and botocore as pinned in `requirements.txt`,
in a Lambda layer, instead of whatever SDK the Python runtime bundles.

Lambda's bundled boto3 may predate fields the platform relies on (`LicenseArn` in the AWS
Marketplace models): `BatchMeterUsage` would then fail client-side and `ResolveCustomer` drop
the licence. AWS docs: "Building Lambda functions with Python"
(https://docs.aws.amazon.com/lambda/latest/dg/lambda-python.html: the runtime includes an SDK
version that AWS updates on its own schedule; package the SDK to control its version) and
"Working with layers for Python Lambda functions"
(https://docs.aws.amazon.com/lambda/latest/dg/python-layers.html: a layer's `python/` folder is on
the function's `sys.path` ahead of the runtime's own packages).

The layer is built at synth time, without Docker: `pip install --platform manylinux2014_x86_64
--only-binary=:all: --python-version <runtime> --implementation cp --no-deps` of every pinned
package of the SDK (all pure-Python wheels) into a git-ignored build folder keyed by the pins, so
the same pins always give the same files (no scripts, no bytecode, no machine paths) and the
same asset hash; a second synth reuses the folder. Building needs PyPI once per set of pins.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from aws_cdk import Stack
from aws_cdk import aws_lambda as lambda_

from constructs import Construct

ROOT = Path(__file__).resolve().parent.parent
REQUIREMENTS = ROOT / "requirements.txt"
BUILD_ROOT = ROOT / ".build" / "sdk-layer"
# boto3, botocore and everything they import: all pinned, so nothing is resolved at build time.
SDK_PACKAGES = ("boto3", "botocore", "jmespath", "python-dateutil", "s3transfer", "six", "urllib3")
PLATFORM = "manylinux2014_x86_64"
BUILD_FORMAT = 1  # bump when the folder layout below changes
STACK_CHILD_ID = "SdkLayer"


class SdkLayerError(RuntimeError):
    """The SDK layer cannot be built (a pin is missing, or pip could not fetch a wheel)."""


def sdk_pins(requirements: Path = REQUIREMENTS) -> tuple[str, ...]:
    """`name==version` of each SDK package, as `requirements.txt` pins it."""
    pins = {}
    for line in requirements.read_text(encoding="utf-8").splitlines():
        match = re.match(r"^\s*([A-Za-z0-9_.-]+)\s*==\s*([A-Za-z0-9_.+-]+)\s*(#.*)?$", line)
        if match:
            pins[match.group(1).lower().replace("_", "-")] = match.group(2)
    missing = [name for name in SDK_PACKAGES if name not in pins]
    if missing:
        raise SdkLayerError(
            f"{requirements.name} must pin {', '.join(missing)} (name==version): the Lambda SDK layer "
            "ships exactly the pinned versions"
        )
    return tuple(f"{name}=={pins[name]}" for name in SDK_PACKAGES)


def python_version(runtime: lambda_.Runtime) -> str:
    return runtime.name.removeprefix("python")


def build_key(pins: tuple[str, ...], version: str) -> str:
    recipe = {"pins": sorted(pins), "python": version, "platform": PLATFORM, "format": BUILD_FORMAT}
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:20]


def build_sdk_layer(pins: tuple[str, ...], version: str, build_root: Path = BUILD_ROOT) -> Path:
    """The layer folder for `pins` (with `python/` inside), built once and then reused."""
    folder = build_root / build_key(pins, version)
    if (folder / "python").is_dir():
        return folder
    build_root.mkdir(parents=True, exist_ok=True)
    with open(build_root / ".lock", "w") as lock:  # concurrent synths (test workers) build once
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (folder / "python").is_dir():
            return folder
        staging = Path(tempfile.mkdtemp(prefix="building-", dir=build_root))
        try:
            _pip_install(pins, version, staging / "python")
            _make_reproducible(staging / "python")
            staging.rename(folder)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return folder


def _pip_install(pins: tuple[str, ...], version: str, target: Path) -> None:
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--no-input",
        "--no-deps",
        "--no-compile",
        "--only-binary=:all:",
        "--platform",
        PLATFORM,
        "--python-version",
        version,
        "--implementation",
        "cp",
        "--target",
        str(target),
        *pins,
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        raise SdkLayerError(
            f"building the Lambda SDK layer ({' '.join(pins)}) needs their wheels from PyPI, and pip "
            f"failed:\n{result.stderr.strip()[-2000:]}"
        )


def _make_reproducible(site: Path) -> None:
    """Drop what pip writes that depends on the machine: console scripts (whose first line names
    this interpreter), their RECORD lines and any bytecode."""
    shutil.rmtree(site / "bin", ignore_errors=True)
    for cache in list(site.rglob("__pycache__")):
        shutil.rmtree(cache, ignore_errors=True)
    for record in site.glob("*.dist-info/RECORD"):
        lines = record.read_text(encoding="utf-8").splitlines()
        kept = [line for line in lines if not line.startswith(("../", "bin/"))]
        record.write_text("\n".join(kept) + "\n", encoding="utf-8")
    for direct_url in site.glob("*.dist-info/direct_url.json"):
        direct_url.unlink()


def sdk_layer(scope: Construct, runtime: lambda_.Runtime) -> lambda_.ILayerVersion:
    """The stack's one SDK layer for `runtime` (made on first use), for every vendor function in it."""
    stack = Stack.of(scope)
    existing = stack.node.try_find_child(STACK_CHILD_ID)
    return (existing or SdkLayer(stack, STACK_CHILD_ID, runtime=runtime)).layer


class SdkLayer(Construct):
    """One layer version with the pinned SDK, for every vendor function."""

    def __init__(self, scope: Construct, construct_id: str, *, runtime: lambda_.Runtime) -> None:
        super().__init__(scope, construct_id)
        pins = sdk_pins()
        folder = build_sdk_layer(pins, python_version(runtime))
        self.pins = pins
        self.layer = lambda_.LayerVersion(
            self,
            "Layer",
            code=lambda_.Code.from_asset(str(folder)),
            compatible_runtimes=[runtime],
            compatible_architectures=[lambda_.Architecture.X86_64],
            description="AWS SDK pinned by vendstack's requirements.txt: " + ", ".join(pins[:2]),
        )
