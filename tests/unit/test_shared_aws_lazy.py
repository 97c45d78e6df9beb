"""Handlers import without boto3, botocore's client machinery or pydantic; the first client patches
tracing."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.plugins import ROOT

HANDLERS = [
    "product.handlers.api",
    "apis.developer_api",
    "apis.signed_api",
    "subscriptions.handlers.events",
    "subscriptions.handlers.fulfillment",
    "metering.handlers.job",
    "notices.handlers.job",
    "quicklaunch.handlers.job",
    "admin.handlers.api",
    "events.handlers.stream",
    "activations.handlers.silence_job",
]

# What a cold start must not pay for: boto3 (and s3transfer through boto3.compat) and
# botocore's client machinery load with the first client, pydantic with the first request body.
DEFERRED = ("boto3", "botocore.client", "s3transfer", "pydantic")


def test_no_handler_imports_boto3_botocore_client_or_pydantic_at_import() -> None:
    """As in Lambda (LAMBDA_TASK_ROOT set): what a cold start pays for before the first request."""
    code = (
        "import importlib, json, sys\n"
        f"for name in {HANDLERS!r}: importlib.import_module(name)\n"
        f"print(json.dumps(sorted(m for m in {DEFERRED!r} if m in sys.modules)))"
    )
    env = {**os.environ, "LAMBDA_TASK_ROOT": str(ROOT / "runtime"), "AWS_LAMBDA_FUNCTION_NAME": "cold-start"}
    out = subprocess.run(  # noqa: S603 - our own interpreter
        [sys.executable, "-c", code],
        cwd=ROOT / "runtime",
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(out.stdout) == []


def test_the_first_client_patches_botocore_for_tracing_once(monkeypatch) -> None:
    from aws_lambda_powertools import Tracer

    from shared import aws, observability

    patched: list[list[str]] = []
    monkeypatch.setattr(Tracer, "patch", lambda self, modules=None: patched.append(list(modules or [])))
    observability.trace_sdk_calls.cache_clear()
    aws.new_client("dynamodb", region_name="us-east-1")
    aws.new_client("s3", region_name="us-east-1")
    assert patched == [["botocore"]]
