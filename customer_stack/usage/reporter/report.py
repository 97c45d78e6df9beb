"""One run of the reporter, and its Lambda entry point."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import boto3
from botocore.config import Config as BotoConfig

from .common import ReporterError, log
from .config import Budget, Config, load_config, read_credentials
from .records import build_records, expire
from .sending import send_all
from .usage_queue import drain, settle, sqs_client

_now = lambda: datetime.now(UTC)  # noqa: E731 - tests replace it (the window's clock)


def new_summary() -> dict:
    keys = (
        "messages_read checkpoints_read events malformed records records_sent accepted duplicates rejected "
        "left_for_retry checkpointed messages_deleted messages_released vendor_requests receive_rounds "
        "expired dead_lettered"
    )
    summary: dict[str, Any] = dict.fromkeys(keys.split(), 0)
    summary.update(receive_stop="not_started", vendor="not_called")
    return summary


def run(config: Config, *, context: Any = None, sqs: Any = None, secretsmanager: Any = None) -> dict:
    budget = Budget(context)
    summary = new_summary()
    secretsmanager = secretsmanager or boto3.client(
        "secretsmanager",
        config=BotoConfig(
            connect_timeout=3, read_timeout=10, retries={"max_attempts": 3, "mode": "standard"}
        ),
    )
    creds = read_credentials(secretsmanager, config.secret_arn)
    sqs = sqs or sqs_client(config)
    messages = drain(sqs, config, budget, summary)
    unusable: list[dict] = []
    records = build_records(messages, summary, unusable)
    summary["records"] = sum(1 for entry in records if entry.outcome != "empty")
    expire(records, config.window_hours, _now(), summary)
    send_all(config, creds, records, budget, summary)
    settle(sqs, config, records, summary, unusable)
    level = (
        logging.ERROR
        if summary["left_for_retry"] or summary["expired"] or summary["rejected"]
        else logging.INFO
    )
    log(level, "usage_report", **summary)
    return summary


def handler(event: Any, context: Any = None) -> dict:
    try:
        config = load_config()
        return run(config, context=context)
    except ReporterError as exc:
        log(logging.ERROR, "usage_report_failed", reason=str(exc))
        raise
