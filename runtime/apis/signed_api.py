"""The signed API's entry point (`apis.signed_api.handler`, docs/protocol.md §4): one Lambda
function behind every route whose requests are signed with an access key pair (VS1).

Each feature's routes are a Powertools `Router` in that feature's `handlers/`, included below;
the global `require_signature` middleware (`license.handlers.auth`) authenticates every one of
them before its route runs. To add a feature: write `<feature>/handlers/<name>.py` with
`router = Router()`, read the caller with `shared.callers.current_principal(router)` and the
body with `shared.callers.signed_body(router)`, and include it here.
"""

from __future__ import annotations

from functools import lru_cache

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from activations.handlers import router as activations
from audit.log import AuditLog
from audit.middleware import run_audited
from license.handlers import token, whoami
from license.handlers.auth import require_signature
from shared.config import get_config
from shared.http import make_resolver, refuse_body_on_reads
from shared.observability import logger, metrics, tracer
from usage.handlers import ingest as usage_ingest

app = make_resolver(logger)
app.use(middlewares=[require_signature, refuse_body_on_reads])
app.include_router(whoami.router)
app.include_router(activations.router)
app.include_router(usage_ingest.router)
app.include_router(token.router)


@lru_cache(maxsize=1)
def audit_log() -> AuditLog:
    config = get_config()
    return AuditLog(config.tables.audit, retention_days=config.audit_retention_days)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, log_event=False)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def handler(event: dict, context: LambdaContext) -> dict:
    return run_audited(
        app, event, context, api="license", audit_log=audit_log, logger=logger, metrics=metrics
    )
