"""A platform function's logger, tracer and metrics, declared once for every handler.

- `logger`: Powertools' JSON logger whose every line passes through `audit.redaction.redact`
  (secrets never reach a log, even by accident). Modules below a handler use
  `Logger(child=True)`, which writes through this one.
- `tracer`: X-Ray through Powertools, created with `auto_patch=False`. Patching botocore imports
  `botocore.client`, the largest part of a cold start, and only matters once a client exists, so
  `trace_sdk_calls` patches it just before the first client is built (`shared.aws.new_client`).
  Every SDK call is still traced: no client exists before the patch. Only botocore is patched:
  Powertools' default (`patch_all`) would also import requests, httpx and the like.
- `metrics`: Powertools' EMF metrics, one metric set per process, which the handler's
  `@metrics.log_metrics` flushes. The namespace and service (`POWERTOOLS_METRICS_NAMESPACE`,
  `POWERTOOLS_SERVICE_NAME`) are read when this module is imported, as Powertools does, and read
  again at each invocation while unset: in Lambda the environment is there before the import,
  but a process that sets it later (a test run, a tool) must not lose its metrics.

AWS docs: "Tracer" and "Metrics" (Powertools for AWS Lambda (Python),
https://docs.powertools.aws.dev/lambda/python/latest/core/tracer/ and
https://docs.powertools.aws.dev/lambda/python/latest/core/metrics/).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from functools import cache
from typing import Any

from aws_lambda_powertools import Metrics, Tracer

from audit.redaction import make_logger


class _Metrics(Metrics):
    def _from_environment(self) -> None:
        provider = self.provider
        # None while unset, as Powertools itself leaves it (its stubs say str).
        provider.namespace = provider.namespace or os.getenv("POWERTOOLS_METRICS_NAMESPACE")  # type: ignore[assignment]
        provider.service = provider.service or os.getenv("POWERTOOLS_SERVICE_NAME")  # type: ignore[assignment]

    def log_metrics(  # type: ignore[override]  # the same call, wrapped
        self, lambda_handler: Callable[..., Any] | None = None, **options: Any
    ) -> Any:
        if lambda_handler is None:
            return functools.partial(self.log_metrics, **options)

        @functools.wraps(lambda_handler)
        def handler(*args: Any, **kwargs: Any) -> Any:
            self._from_environment()
            return lambda_handler(*args, **kwargs)

        return super().log_metrics(handler, **options)


logger = make_logger()
tracer = Tracer(auto_patch=False)
metrics = _Metrics()


@cache
def trace_sdk_calls() -> None:
    """X-Ray's botocore patch, applied once, before the first client (a no-op where tracing is
    disabled, as outside Lambda)."""
    tracer.patch(["botocore"])
