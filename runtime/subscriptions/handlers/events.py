"""AWS Marketplace notifications → subscription state (`subscriptions.handlers.events.handler`).

One function, two triggers, told apart by shape:

- an EventBridge event (rule on `source: aws.agreement-marketplace`), delivered as the event
  itself: processed, and a failure raises so Lambda's asynchronous retries deliver it again;
- an SQS event (`{"Records": [...]}`) from the queue subscribed to the Marketplace SNS topics:
  each body is an SNS envelope whose signature, certificate URL and topic are verified first
  (`subscriptions.logic.sns_signature`); one that fails is refused (counted as
  `MarketplaceEvents_unverified`, never applied, not redelivered); the rest are processed with
  Powertools' `BatchProcessor`, answering `batchItemFailures` so only the failed messages come back.
"""

from __future__ import annotations

from functools import lru_cache

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from quicklaunch.dal.records import DeploymentKeyRecords
from quicklaunch.logic.requests import request_for_event
from shared.config import get_config
from shared.observability import logger, metrics, tracer
from shared.timestamps import utcnow
from subscriptions.context import event_context
from subscriptions.dal.sdk_models import require_license_arn
from subscriptions.dal.sns_certificates import CertificateCache
from subscriptions.logic.events import (
    IGNORED,
    handle_event,
    is_eventbridge,
    parse_eventbridge,
    parse_sqs_body,
    sqs_document,
)
from subscriptions.logic.sns_signature import UnverifiedMessage, check_topic, verify

processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


def _count(outcome: str) -> None:
    metrics.add_metric(name=f"MarketplaceEvents_{outcome}", unit=MetricUnit.Count, value=1)


UNVERIFIED = "unverified"


@lru_cache(maxsize=1)
def certificates() -> CertificateCache:
    return CertificateCache()


def verify_sns(body: str) -> None:
    """Raise `UnverifiedMessage` unless the body is an SNS message signed by SNS for this
    product's Marketplace topics; `ServiceError` if the certificate cannot be fetched now."""
    document = sqs_document(body)
    check_topic(document, get_config().product_code)
    verify(document, certificates().get(document.get("SigningCertURL")), utcnow())


@tracer.capture_method
def record_handler(record: SQSRecord) -> str:
    """One SQS message; an exception marks just this message failed (it is redelivered)."""
    try:
        verify_sns(record.body)
    except UnverifiedMessage as exc:
        logger.warning(
            "SNS message refused: not verified", extra={"message_id": record.message_id, "reason": str(exc)}
        )
        _count(UNVERIFIED)
        return UNVERIFIED
    event = parse_sqs_body(record.body)
    if event is None:  # an SNS subscription confirmation or similar: nothing to do
        logger.info("non-notification SNS message ignored", extra={"message_id": record.message_id})
        _count(IGNORED)
        return IGNORED
    outcome = handle_event(event_context(), event, utcnow())
    _count(outcome)
    return outcome


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def handler(event: dict, context: LambdaContext) -> dict:
    require_license_arn()  # refuse to run with an SDK that would drop LicenseArn (checked once)
    if isinstance(event, dict) and isinstance(event.get("Records"), list):
        return dict(
            process_partial_response(
                event=event, record_handler=record_handler, processor=processor, context=context
            )
        )
    if is_eventbridge(event):
        ctx, parsed = event_context(), parse_eventbridge(event)
        outcome = handle_event(ctx, parsed, utcnow())
        _count(outcome)
        # Quick Launch: the agreement's deployment key is issued, rotated or retired by its job.
        # A failure here raises, so the event comes again (then a DUPLICATE, asking again).
        request_for_event(ctx.store, DeploymentKeyRecords(get_config().tables.data), parsed, utcnow())
        return {"outcome": outcome}
    shape = sorted(str(k)[:64] for k in event)[:10] if isinstance(event, dict) else type(event).__name__
    logger.warning("unrecognized event shape ignored", extra={"shape": shape})
    _count(IGNORED)
    return {"outcome": IGNORED}
