"""The customer-side usage path at volume (`make bench`; `python -m tests.bench reporter`).

100,000 usage events (50,000 solution invocations × 2 dimensions) in one hour go through the
recorder onto a queue and through one reporter run to the vendor's usage API (the minimal one in
`tests.plugins.fake_vendor`): how many records and vendor requests they become, and how long
recording and reporting take. The queue is an in-memory SQS stand-in (moto's SQS is quadratic in
queue size and would take hours); the key secret is read from moto's Secrets Manager.
"""

from __future__ import annotations

import json
import os
import sys
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
for entry in (str(ROOT / "runtime"), str(ROOT)):
    if entry not in sys.path:
        sys.path.insert(0, entry)

EVENTS = 100_000


class MemorySqs:
    """Just enough of SQS for the 100k measurement (moto is quadratic in queue size)."""

    def __init__(self):
        self.visible, self.in_flight, self.calls = deque(), {}, Counter()

    def send_message_batch(self, QueueUrl, Entries):
        self.calls["send"] += 1
        for e in Entries:
            self.visible.append((uuid.uuid4().hex, e["MessageBody"]))
        return {"Successful": [{"Id": e["Id"]} for e in Entries], "Failed": []}

    def receive_message(self, QueueUrl, MaxNumberOfMessages, **_):
        self.calls["receive"] += 1
        out = []
        while self.visible and len(out) < MaxNumberOfMessages:
            message_id, body = self.visible.popleft()
            receipt = uuid.uuid4().hex
            self.in_flight[receipt] = (message_id, body)
            out.append({"MessageId": message_id, "ReceiptHandle": receipt, "Body": body})
        return {"Messages": out} if out else {}

    def delete_message_batch(self, QueueUrl, Entries):
        self.calls["delete"] += 1
        for e in Entries:
            del self.in_flight[e["ReceiptHandle"]]
        return {"Successful": [{"Id": e["Id"]} for e in Entries], "Failed": []}


def run(row: Callable[[str, str, str], None]) -> None:
    import boto3
    from moto import mock_aws

    from customer_stack.solution.api.handler import usage_for
    from customer_stack.usage import recorder, reporter
    from tests.plugins.fake_vendor import ACCESS_KEY, SECRET_KEY, FakeVendor

    print(f"usage reporter: {EVENTS:,} events (2 dimensions) in one hour, recorder -> queue -> one run")
    saved = dict(os.environ)
    vendor = FakeVendor()
    try:
        with mock_aws():
            os.environ.update(
                AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="us-east-1"
            )  # noqa: S105
            secret = boto3.client("secretsmanager", region_name="us-east-1").create_secret(
                Name="vendstack-key-bench",
                SecretString=json.dumps({"access_key": ACCESS_KEY, "secret_key": SECRET_KEY}),
            )
            os.environ.update(
                USAGE_QUEUE_URL="memory",
                VENDOR_API_URL=vendor.base_url,
                SECRET_ARN=secret["ARN"],
                RECEIVE_WAIT_SECONDS="0",
                DEAD_LETTER_QUEUE_URL="memory-dlq",
                USAGE_WINDOW_HOURS="6",
            )
            queue = MemorySqs()
            hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
            texts = ["x" * n for n in (1, 999, 1000, 1001, 4500, 12_345)]
            truth: Counter[str] = Counter()
            started = time.perf_counter()
            for i in range(EVENTS // 2):
                amounts = usage_for(texts[i % len(texts)])
                recorder.record(
                    amounts, at=hour + timedelta(seconds=i % 3600), queue_url="memory", client=queue
                )
                truth.update(amounts)
            recorded = time.perf_counter() - started
            started = time.perf_counter()
            summary = reporter.run(reporter.load_config(), sqs=queue)
            reported = time.perf_counter() - started
    finally:
        vendor.stop()
        os.environ.clear()
        os.environ.update(saved)
    assert vendor.totals() == dict(truth) and not queue.visible and not queue.in_flight, "usage lost"
    row("queue messages read", f"{summary['messages_read']:,}", "(reported)")
    row("records sent to the vendor", f"{summary['records']}", "<= 10")
    row("vendor requests", f"{summary['vendor_requests']}", "(reported)")
    row(
        "SQS calls (send / receive / delete)",
        "/".join(str(queue.calls[k]) for k in ("send", "receive", "delete")),
        "",
    )
    row("recording 100,000 events (s)", f"{recorded:.2f}", "")
    row("one reporter run (s)", f"{reported:.2f}", "")
