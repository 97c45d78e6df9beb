"""The synthesized CDK app: once per test session (per xdist worker), read from the on-disk synth
cache when nothing the synth reads has changed (`tests.plugins.synth_cache`).

Fixtures: `assembly` (the cloud assembly), `vendor_template`, `customer_template`. Helpers for the
tests that synthesize a variant: `load_context`, `synth_app` (always afresh), `synth_cached`; both
take `stacks`, so a variant of one stack builds that stack alone.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pytest

from tests.plugins import ROOT, synth_cache

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")


def load_context(*, sandbox: bool = True) -> dict:
    """cdk.json's context; `sandbox` adds the flag `make synth` passes (local developer-page URLs allowed)."""
    context = json.loads((ROOT / "cdk.json").read_text())["context"]
    if sandbox:
        context["vendstack:sandbox"] = True
    return context


BOTH = ("VendstackVendorPlatform", "VendstackCustomer")


def synth_app(outdir: Path, context: dict | None = None, *, stacks: tuple[str, ...] = BOTH):
    """Synthesize the real app (with its cdk-nag gate) into `outdir`; returns the cloud assembly.

    `stacks` names the stacks to build (`app.build_app`'s own parameter): a test of one stack's
    variant builds that stack alone, through the same path as the whole app.

    aws-cdk-lib's built-in CloudFormation validation (a WebAssembly engine, on by default since
    2.2xx) is left out of the tests' synths: it costs about 2.5 s of CPU to load once per process
    and 1-2 s per synth, and it cannot fail a synth here (without the context key
    `@aws-cdk/core:validateAgainstDefaultRules`, which cdk.json does not set, its findings are
    downgraded to warnings; AWS docs: aws-cdk-lib README, "Validation"). The project's template
    gates are cdk-nag (a failure stops every synth here) and cfn-lint (tests/infra), both tested
    to bite; `make synth` and `cdk deploy` still run the built-in validation."""
    import aws_cdk as cdk

    from app import build_app

    app = cdk.App(
        context=context or load_context(), outdir=str(outdir), builtin_cloud_formation_validation=False
    )
    build_app(app, stacks=stacks)
    return app.synth()


def synth_cached(context: dict | None = None, *, stacks: tuple[str, ...] = BOTH):
    """The cloud assembly of the real app for `context` (and `stacks`), from the on-disk synth cache
    when nothing it reads has changed. Read-only: copy before writing into it."""
    context = context or load_context()
    if not synth_cache.enabled():
        return synth_app(Path(tempfile.mkdtemp(prefix="cdk.out-")), context, stacks=stacks)
    return synth_cache.cached_assembly(
        {"context": context, "stacks": list(stacks)},
        lambda outdir: synth_app(outdir, context, stacks=stacks),
    )


@pytest.fixture(scope="session")
def assembly():
    return synth_cached()


@pytest.fixture(scope="session")
def vendor_template(assembly) -> dict:
    return assembly.get_stack_by_name("VendstackVendorPlatform").template


@pytest.fixture(scope="session")
def customer_template(assembly) -> dict:
    return assembly.get_stack_by_name("VendstackCustomer").template
