"""Public routes: `GET /v1/health` and `GET /v1/product` (no authentication)."""

from __future__ import annotations

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from product.logic.catalog import health_document, product_document
from shared.config import get_config
from shared.http import json_response, make_resolver, refuse_body_on_reads
from shared.observability import logger, metrics, tracer

app = make_resolver(logger)
app.use(middlewares=[refuse_body_on_reads])


@app.get("/v1/health")
@tracer.capture_method
def health():
    return json_response(200, health_document(get_config()))


@app.get("/v1/product")
@tracer.capture_method
def product():
    return json_response(200, product_document(get_config()), {"Cache-Control": "max-age=300"})


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
