"""The synthesized CDK app: once per test session (per xdist worker), read from the on-disk synth
cache when nothing the synth reads has changed (`tests.plugins.synth_cache`).

Fixtures: `assembly` (the cloud assembly), `vendor_template`, `customer_template`. Helpers for the
tests that synthesize a variant: `load_context`, `synth_app` (always afresh), `synth_cached`; both
take `stacks`, so a variant of one stack builds that stack alone.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

import pytest

from tests.plugins import ROOT, synth_cache

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

# The xdist groups of the tests that need jsii. Importing aws_cdk starts a node process that loads
# aws-cdk-lib (about 1.5 s of CPU), and each process then warms its own caches (node modules, the
# SDK layer's fingerprint), so these tests gather on as few workers as possible, and the rest of the
# suite never starts node. Two groups, not one: the sandbox's tests (which read the session's cloud
# assembly through jsii) run one after another on one worker for most of the run, and the tests that
# build or read the app (`tests/infra/`, the `cdk` marker, whatever asks for `assembly` without the
# sandbox) would otherwise queue behind them; as their own group they run on the other worker, at
# the cost of a second node process. That holds only while collecting imports no aws_cdk: test
# modules import the CDK (and `constructs/`, `stacks/customer.py`, `app.py`) inside the tests that
# use it, and tests/unit/test_session_costs.py checks that the collection started no jsii.
SANDBOX_GROUP = "sandbox"  # every end-to-end and browser test carries it (their modules' marks)
CDK_GROUP = "cdk"
JSII_GROUPS = {SANDBOX_GROUP, CDK_GROUP}
INFRA = ROOT / "tests" / "infra"
JSII_FIXTURES = {"assembly"}  # vendor_template, customer_template and sandbox all ask for it
jsii_at_collection: bool | None = None


def needs_jsii(item: pytest.Item) -> bool:
    return bool(
        item.path.is_relative_to(INFRA)
        or JSII_FIXTURES & set(getattr(item, "fixturenames", ()))
        or item.get_closest_marker("cdk")
    )


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if needs_jsii(item) and not item.get_closest_marker("xdist_group"):
            item.add_marker(pytest.mark.xdist_group(CDK_GROUP))


def pytest_collection_finish(session: pytest.Session) -> None:
    global jsii_at_collection
    jsii_at_collection = "jsii" in sys.modules


def load_context(*, sandbox: bool = True) -> dict:
    """cdk.json's context; `sandbox` adds the flag `make synth` passes (local developer-page URLs allowed)."""
    context = json.loads((ROOT / "cdk.json").read_text())["context"]
    if sandbox:
        context["vendstack:sandbox"] = True
    return context


BOTH = ("VendstackVendorPlatform", "VendstackCustomer")


def synth_app(
    outdir: Path,
    context: dict | None = None,
    *,
    stacks: tuple[str, ...] = BOTH,
    stage_assets: bool = False,
):
    """Synthesize the real app (with its cdk-nag gate) into `outdir`; returns the cloud assembly.

    `stacks` names the stacks to build (`app.build_app`'s own parameter): a test of one stack's
    variant builds that stack alone, through the same path as the whole app.

    Assets are copied into the assembly only with `stage_assets` (the session's `assembly`, which
    the sandbox runs from): a variant's tests read its templates, which are the same either way
    (asset hashes are fingerprints of the sources), and copying the 33 MB SDK layer and `runtime/`
    into every variant's folder costs about 1.5 s of CPU each. The switch is CDK's context key
    `aws:cdk:disable-asset-staging` (AWS CDK: cx-api `DISABLE_ASSET_STAGING_CONTEXT`, "copyable
    assets will not be copied to the output directory and will be referenced with absolute paths",
    https://unpkg.com/aws-cdk-lib@2.248.0/cx-api/lib/app.d.ts).

    aws-cdk-lib's built-in CloudFormation validation (a WebAssembly engine, on by default in recent
    aws-cdk-lib releases) is left out of the tests' synths: it costs about 2.5 s of CPU to load once
    per process and 1-2 s per synth, and it cannot fail a synth here (without the context key
    `@aws-cdk/core:validateAgainstDefaultRules`, which cdk.json does not set, its findings are
    downgraded to warnings; AWS CDK API reference: aws-cdk-lib README, "Validation",
    `builtinCloudFormationValidation`). The project's template gates are cdk-nag (a finding stops
    every synth here) and cfn-lint (tests/infra), both tested to bite; `make synth` and
    `cdk deploy` still run the built-in validation."""
    import aws_cdk as cdk

    from app import build_app

    context = dict(context or load_context())
    if not stage_assets:
        context["aws:cdk:disable-asset-staging"] = True
    app = cdk.App(context=context, outdir=str(outdir), builtin_cloud_formation_validation=False)
    build_app(app, stacks=stacks)
    return app.synth()


def synth_cached(context: dict | None = None, *, stacks: tuple[str, ...] = BOTH, stage_assets: bool = False):
    """The cloud assembly of the real app for `context` (`stacks`, `stage_assets`: see `synth_app`),
    from the on-disk synth cache when nothing it reads has changed. Read-only: copy before writing
    into it."""
    context = context or load_context()
    if not synth_cache.enabled():
        outdir = Path(tempfile.mkdtemp(prefix="cdk.out-"))
        return synth_app(outdir, context, stacks=stacks, stage_assets=stage_assets)
    return synth_cache.cached_assembly(
        {"context": context, "stacks": list(stacks), "stage_assets": stage_assets},
        lambda outdir: synth_app(outdir, context, stacks=stacks, stage_assets=stage_assets),
    )


@pytest.fixture(scope="session")
def assembly():
    """The whole app, its assets staged (the sandbox runs the handlers from them)."""
    return synth_cached(stage_assets=True)


@pytest.fixture(scope="session")
def vendor_template(assembly) -> dict:
    return assembly.get_stack_by_name("VendstackVendorPlatform").template


@pytest.fixture(scope="session")
def customer_template(assembly) -> dict:
    return assembly.get_stack_by_name("VendstackCustomer").template
