"""The synthesized CDK app: once per test session (per xdist worker), read from the on-disk synth
cache when nothing the synth reads has changed (`tests.plugins.synth_cache`).

Fixtures: `assembly` (the cloud assembly), `vendor_template`, `customer_template`. Helpers for the
tests that synthesize a variant: `load_context`, `synth_app` (always afresh), `synth_cached`.
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


def synth_app(outdir: Path, context: dict | None = None, mutate=None):
    """Synthesize the real app (with its cdk-nag gate) into `outdir`; returns the cloud assembly."""
    import aws_cdk as cdk

    from app import build_app

    app = cdk.App(context=context or load_context(), outdir=str(outdir))
    build_app(app)
    if mutate:
        mutate(app)
    return app.synth()


def synth_cached(context: dict | None = None):
    """The cloud assembly of the real app for `context`, from the on-disk synth cache when nothing
    it reads has changed. Read-only: copy before writing into it."""
    context = context or load_context()
    if not synth_cache.enabled():
        return synth_app(Path(tempfile.mkdtemp(prefix="cdk.out-")), context)
    return synth_cache.cached_assembly(context, lambda outdir: synth_app(outdir, context))


@pytest.fixture(scope="session")
def assembly():
    return synth_cached()


@pytest.fixture(scope="session")
def vendor_template(assembly) -> dict:
    return assembly.get_stack_by_name("VendstackVendorPlatform").template


@pytest.fixture(scope="session")
def customer_template(assembly) -> dict:
    return assembly.get_stack_by_name("VendstackCustomer").template
