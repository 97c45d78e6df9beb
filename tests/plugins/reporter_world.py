"""The customer-side usage world for the reporter tests: SQS and Secrets Manager on moto in server
mode (one server per test module), a fresh queue, dead-letter queue and key secret per test, and the
vendor's usage API (`fake_vendor`) on 127.0.0.1.

Fixtures: `moto_url` (per module), `account`, `vendor`, `sleeps` (backoff sleeps recorded, not
slept), `no_secret_in_logs` (the test's logs never carry the secret key or a signature; a module
asks for it with `pytestmark = pytest.mark.usefixtures("no_secret_in_logs")`). Helpers: `Context`,
`run_reporter`, `invocations`, `log_events`, `dead_url`.

moto's SQS reads its clock through `unix_time_millis` (whole-second timestamps); the `moto_url`
fixture swaps that clock for time.time(), same semantics, so 1,000-message tests stay fast, and
makes each receive, delete and send atomic, as SQS's are.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
import uuid
from collections import Counter

import pytest

from tests.plugins.fake_vendor import ACCESS_KEY, SECRET_KEY, STAGE, FakeVendor

ACCOUNT = "123456789012"  # moto's default account
REGION = "us-east-1"


def dead_url():
    """A loopback URL where nothing listens: connection refused."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}{STAGE}"


@pytest.fixture(name="moto_url", scope="module")
def moto_url_fixture():
    import moto.sqs.models as sqs_models

    from tests.plugins.moto_server import MotoServer
    from tests.plugins.moto_speed import install

    install()  # moto imported here, after collection: the same cheaper moto
    patch = pytest.MonkeyPatch()
    patch.setattr(sqs_models, "unix_time_millis", lambda dt=None: time.time() * 1000.0)
    # SQS changes a queue atomically; moto's threaded server runs two runs' requests side by side
    # without a lock. Two receives could pick the same visible message before either marks it
    # received (seen under load: 121 reads of 120), and `Queue.delete_message` rebuilds the queue's
    # message list and assigns it back, so two concurrent deletes (or a delete and a send) lose one
    # side's change (seen under load: a run's batch of 10 deleted messages back on the queue). One
    # re-entrant lock (a receive may delete expired messages) serialises what reads and rebuilds
    # the list: receives, deletes and sends.
    lock = threading.RLock()

    def locked(original):
        def call(*args, **kwargs):
            with lock:
                return original(*args, **kwargs)

        return call

    patch.setattr(sqs_models.SQSBackend, "receive_message", locked(sqs_models.SQSBackend.receive_message))
    patch.setattr(sqs_models.Queue, "delete_message", locked(sqs_models.Queue.delete_message))
    patch.setattr(sqs_models.Queue, "add_message", locked(sqs_models.Queue.add_message))
    server = MotoServer()
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()
    patch.undo()


class Account:
    """The customer's account: the usage queue (with its DLQ) and the key secret."""

    def __init__(self, sqs, queue_url, queue_name, secret_arn, dlq_url=None):
        self.sqs, self.queue_url, self.queue_name, self.secret_arn = sqs, queue_url, queue_name, secret_arn
        self.dlq_url = dlq_url

    def messages(self, queue_name=None):
        """Every message on the queue, visible or not, read from moto's backend (no receive)."""
        from moto.sqs.models import sqs_backends

        return [m.body for m in sqs_backends[ACCOUNT][REGION].queues[queue_name or self.queue_name]._messages]

    def dead_letters(self):
        """(body, reason attribute) of every message on the dead-letter queue."""
        from moto.sqs.models import sqs_backends

        queue = sqs_backends[ACCOUNT][REGION].queues[self.queue_name + "-dlq"]
        return [
            (m.body, (m.message_attributes.get("vendstack-reason") or {}).get("StringValue"))
            for m in queue._messages
        ]

    def pending_usage(self):
        """What the queue still holds, per dimension: events and checkpointed records alike."""
        out = Counter()
        for body in self.messages():
            data = json.loads(body)
            item = data.get("record", data)
            out[item["dimension"]] += item["quantity"]
        return dict(out)


@pytest.fixture(name="account")
def account_fixture(monkeypatch, moto_url):
    import boto3

    from customer_stack.usage import recorder

    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    sqs = boto3.client("sqs", region_name=REGION)
    name = f"usage-{uuid.uuid4().hex[:12]}"
    dlq = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    queue_url = sqs.create_queue(
        QueueName=name,
        Attributes={
            "VisibilityTimeout": "360",
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "10"}),
        },
    )["QueueUrl"]
    secret = boto3.client("secretsmanager", region_name=REGION).create_secret(
        Name=f"vendstack-key-{name}",
        SecretString=json.dumps({"access_key": ACCESS_KEY, "secret_key": SECRET_KEY}),
    )
    monkeypatch.setenv("USAGE_QUEUE_URL", queue_url)
    monkeypatch.setenv("SECRET_ARN", secret["ARN"])
    monkeypatch.setenv("RECEIVE_WAIT_SECONDS", "0")  # moto would wait the full second when empty
    monkeypatch.setenv("DEAD_LETTER_QUEUE_URL", dlq)
    monkeypatch.setenv("USAGE_WINDOW_HOURS", "6")
    recorder.reset_client()
    yield Account(sqs, queue_url, name, secret["ARN"], dlq)
    recorder.reset_client()


@pytest.fixture(name="vendor")
def vendor_fixture(monkeypatch):
    v = FakeVendor()
    monkeypatch.setenv("VENDOR_API_URL", v.base_url)
    yield v
    v.stop()


@pytest.fixture(name="sleeps")
def sleeps_fixture(monkeypatch):
    """Backoff sleeps are recorded, not slept."""
    from customer_stack.usage import reporter

    slept = []
    monkeypatch.setattr(reporter.sending, "_sleep", slept.append)
    return slept


@pytest.fixture(name="no_secret_in_logs")
def no_secret_in_logs_fixture(caplog):
    caplog.set_level(logging.INFO, logger="vendstack")
    yield
    assert SECRET_KEY not in caplog.text
    assert "Signature=" not in caplog.text and "Authorization" not in caplog.text


class Context:
    """A Lambda context whose remaining time the test controls."""

    def __init__(self, seconds):
        self.ms = int(seconds * 1000)

    def get_remaining_time_in_millis(self):
        return self.ms


def run_reporter(context=None, **kw):
    from customer_stack.usage import reporter

    return reporter.run(reporter.load_config(), context=context, **kw)


def log_events(caplog, message):
    return [json.loads(r.getMessage()) for r in caplog.records if f'"message":"{message}"' in r.getMessage()]


def invocations(n, *, at=None, start=0):
    """n solution invocations, each billed usage_for(its text); returns the true totals."""
    from customer_stack.solution.api.handler import usage_for
    from customer_stack.usage import recorder

    truth = Counter()
    for i in range(start, start + n):
        amounts = usage_for("x" * (1 + (i * 397) % 4000))
        assert recorder.record(amounts, at=at) == 2
        truth.update(amounts)
    return truth
