"""A platform function's logger, tracer and metrics, declared once for every handler.

- `logger`: Powertools' JSON logger whose every line passes through `audit.redaction.redact`
  (secrets never reach a log, even by accident). Modules below a handler use
  `Logger(child=True)`, which writes through this one.
- `tracer`: X-Ray through Powertools, created with `auto_patch=False`. Patching botocore imports
  `botocore.client`, the largest part of a cold start, and only matters once a client exists, so
  `trace_sdk_calls` patches it just before the first client is built (`shared.aws.new_client`).
  Every SDK call is still traced: no client exists before the patch. Only botocore is patched:
  Powertools' default (`patch_all`) would also import requests, httpx and the like.
- `metrics`: Powertools' EMF metrics; instances share one metric set per process, which the
  handler's `@metrics.log_metrics` flushes.

AWS docs: "Tracer" and "Metrics" (Powertools for AWS Lambda (Python),
https://docs.powertools.aws.dev/lambda/python/latest/core/tracer/ and
https://docs.powertools.aws.dev/lambda/python/latest/core/metrics/).
"""

from __future__ import annotations

from functools import cache

from aws_lambda_powertools import Metrics, Tracer

from audit.redaction import make_logger

logger = make_logger()
tracer = Tracer(auto_patch=False)
metrics = Metrics()


@cache
def trace_sdk_calls() -> None:
    """X-Ray's botocore patch, applied once, before the first client (a no-op where tracing is
    disabled, as outside Lambda)."""
    tracer.patch(["botocore"])
