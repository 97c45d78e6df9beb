"""moto's SQS checks a message's retention period without listing the queue's attributes.

moto 5.2's `receive_message` asks, for every message it hands out, whether the message is still
within the queue's retention period, through `get_queue_attributes(["MessageRetentionPeriod"])`,
three times; that listing counts the queue's visible, invisible and delayed messages, so receiving
n messages from a queue of n costs n² clock reads (1,000 messages took seconds). The replacement
reads the one attribute the listing returns, `queue.message_retention_period` (the listing is
`getattr(queue, camelcase_to_underscores(name))`), and compares it with the same clock in the
same way. `tests/integration/test_moto_speed.py` compares both on either side of the period.
Idempotent; the sandbox applies it before it starts moto (`sandbox.cheaper_moto`), and so does the
test plugin (`tests.plugins.moto_speed`).
"""

from __future__ import annotations

from typing import Any


def install() -> None:
    """Patch `SQSBackend.is_message_valid_based_on_retention_period` in this process (once)."""
    from moto.sqs import models

    backend = models.SQSBackend
    if getattr(backend.is_message_valid_based_on_retention_period, "_vendstack", False):
        return

    def is_message_valid_based_on_retention_period(self: Any, queue_name: str, message: Any) -> bool:
        retention_period = self.get_queue(queue_name).message_retention_period
        retain_until = retention_period + message.sent_timestamp / 1000
        return not retain_until <= models.unix_time()

    is_message_valid_based_on_retention_period._vendstack = True  # type: ignore[attr-defined]
    is_message_valid_based_on_retention_period.original = backend.is_message_valid_based_on_retention_period  # type: ignore[attr-defined]
    backend.is_message_valid_based_on_retention_period = is_message_valid_based_on_retention_period  # type: ignore[method-assign]
