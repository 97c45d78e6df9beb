"""The usage recorder: pre-aggregation per invocation, batching, and never breaking the request."""

import json
import logging
import re
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from customer_stack.usage import recorder

ROOT = Path(__file__).resolve().parents[2]
QUEUE = "https://sqs.us-east-1.amazonaws.com/111122223333/usage"
TS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


class FakeSqs:
    """send_message_batch only; `failures` lists, per call, the entry ids that fail and how."""

    def __init__(self, error=None, failures=None):
        self.calls, self.error, self.failures = [], error, list(failures or [])

    def send_message_batch(self, QueueUrl, Entries):
        self.calls.append({"QueueUrl": QueueUrl, "Entries": Entries})
        if self.error:
            raise self.error
        failing = self.failures.pop(0) if self.failures else {}
        return {
            "Successful": [{"Id": e["Id"], "MessageId": "m"} for e in Entries if e["Id"] not in failing],
            "Failed": [
                {"Id": i, "SenderFault": sender, "Code": "InternalError"}
                for i, sender in failing.items()
                if i in {e["Id"] for e in Entries}
            ],
        }

    def bodies(self):
        return [json.loads(e["MessageBody"]) for call in self.calls for e in call["Entries"]]


def _python(code: str, cwd: Path) -> subprocess.CompletedProcess:
    """This interpreter, fixed code of this file: nothing untrusted is executed."""
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, check=True)  # noqa: S603


@pytest.fixture
def caplog_usage(caplog):
    caplog.set_level(logging.INFO, logger="vendstack")
    return caplog


def test_usage_is_pre_aggregated_per_dimension_and_sent_in_one_batch():
    sqs = FakeSqs()
    with recorder.record_usage(queue_url=QUEUE, client=sqs) as usage:
        for _ in range(5):
            usage.add("requests")
        usage.add("characters", 3)
        usage.add("characters", 2)
    assert len(sqs.calls) == 1 and sqs.calls[0]["QueueUrl"] == QUEUE
    events = {e["dimension"]: e for e in sqs.bodies()}
    assert {d: e["quantity"] for d, e in events.items()} == {"requests": 5, "characters": 5}
    for event in events.values():
        assert set(event) == {"dimension", "quantity", "timestamp", "event_id"}
        assert TS.match(event["timestamp"]) and re.fullmatch(r"[0-9a-f]{32}", event["event_id"])
    assert len({e["event_id"] for e in events.values()}) == 2


def test_each_hour_is_its_own_event_timestamped_with_its_first_use():
    sqs = FakeSqs()
    at = datetime(2026, 11, 22, 13, 59, 30, tzinfo=UTC)
    usage = recorder.Usage()
    usage.add("requests", 1, at=at)
    usage.add("requests", 1, at=at + timedelta(seconds=20))
    usage.add("requests", 4, at=at + timedelta(seconds=45))  # 14:00:15, the next hour
    assert recorder.flush(usage, queue_url=QUEUE, client=sqs) == 2
    assert sorted((e["timestamp"], e["quantity"]) for e in sqs.bodies()) == [
        ("2026-11-22T13:59:30Z", 2),
        ("2026-11-22T14:00:15Z", 4),
    ]
    assert recorder.flush(usage, queue_url=QUEUE, client=sqs) == 0  # nothing is sent twice
    assert len(sqs.calls) == 1


def test_more_than_ten_events_take_several_batches_and_zero_is_not_sent():
    sqs = FakeSqs()
    usage = recorder.Usage()
    for i in range(12):
        usage.add(f"d{i:02}", i + 1)
    usage.add("free", 0)
    assert recorder.flush(usage, queue_url=QUEUE, client=sqs) == 12
    assert [len(c["Entries"]) for c in sqs.calls] == [10, 2]
    assert "free" not in {e["dimension"] for e in sqs.bodies()}
    assert recorder.record({"nothing": 0}, queue_url=QUEUE, client=sqs) == 0
    assert len(sqs.calls) == 2


def test_usage_is_sent_even_when_the_block_raises():
    sqs = FakeSqs()
    with pytest.raises(RuntimeError), recorder.record_usage(queue_url=QUEUE, client=sqs) as usage:
        usage.add("requests")
        raise RuntimeError("the work was done, then something failed")
    assert [e["dimension"] for e in sqs.bodies()] == ["requests"]


def test_an_enqueue_failure_is_logged_loudly_and_never_raised(caplog_usage):
    error = ClientError(
        {"Error": {"Code": "AccessDenied", "Message": "arn:aws:iam::111122223333 SECRETISH detail"}},
        "SendMessageBatch",
    )
    sqs = FakeSqs(error=error)
    assert recorder.record({"requests": 1, "characters": 7}, queue_url=QUEUE, client=sqs) == 0
    [line] = [r for r in caplog_usage.records if "usage_not_enqueued" in r.getMessage()]
    assert line.levelno == logging.ERROR
    entry = json.loads(line.getMessage())
    assert entry["reason"] == "AccessDenied" and entry["count"] == 2
    assert {e["dimension"]: e["quantity"] for e in entry["events"]} == {"requests": 1, "characters": 7}
    assert "SECRETISH" not in caplog_usage.text  # the SDK's message is not logged


def test_any_exception_from_the_sdk_is_contained(caplog_usage):
    class Broken:
        def send_message_batch(self, **_):
            raise OSError("connection reset")

    assert recorder.record({"requests": 1}, queue_url=QUEUE, client=Broken()) == 0
    assert '"reason":"OSError"' in caplog_usage.text


def test_missing_queue_url_is_logged_not_raised(monkeypatch, caplog_usage):
    monkeypatch.delenv("USAGE_QUEUE_URL", raising=False)
    sqs = FakeSqs()
    assert recorder.record({"requests": 1}, client=sqs) == 0
    assert sqs.calls == []
    assert "USAGE_QUEUE_URL is not set" in caplog_usage.text


def test_queue_url_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("USAGE_QUEUE_URL", QUEUE)
    sqs = FakeSqs()
    assert recorder.record({"requests": 2}, client=sqs) == 1
    assert sqs.calls[0]["QueueUrl"] == QUEUE


def test_server_side_entry_failures_get_one_retry_sender_faults_are_logged(caplog_usage):
    sqs = FakeSqs(failures=[{"e0": False, "e1": True}])
    usage = recorder.Usage()
    usage.add_all({"a": 1, "b": 2, "c": 3})
    assert recorder.flush(usage, queue_url=QUEUE, client=sqs) == 2
    assert [len(c["Entries"]) for c in sqs.calls] == [3, 1]  # e0 again, e1 not
    lines = [r.getMessage() for r in caplog_usage.records]
    [lost] = [json.loads(line) for line in lines if "usage_not_enqueued" in line]
    assert [e["dimension"] for e in lost["events"]] == ["b"]


@pytest.mark.parametrize(
    "args",
    [("", 1), ("requests", -1), ("requests", 1.5), ("requests", True), (None, 1), ("x" * 129, 1)],
)
def test_invalid_usage_is_a_programming_error(args):
    with pytest.raises(ValueError):
        recorder.Usage().add(*args)


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError):
        recorder.Usage().add("requests", 1, at=datetime(2026, 11, 22, 13, 0))


def test_metered_records_what_usage_of_returns():
    sqs = FakeSqs()

    @recorder.metered(lambda event, result: result["usage"], queue_url=QUEUE, client=sqs)
    def handler(event, context=None):
        return {"usage": {"requests": 1, "characters": len(event["text"])}}

    assert handler({"text": "abc"}) == {"usage": {"requests": 1, "characters": 3}}
    assert {e["dimension"]: e["quantity"] for e in sqs.bodies()} == {"requests": 1, "characters": 3}


def test_metered_never_breaks_the_response_and_does_not_bill_a_failure(caplog_usage):
    sqs = FakeSqs()

    @recorder.metered(lambda event, result: {"requests": -1}, queue_url=QUEUE, client=sqs)
    def bad_usage(event, context=None):
        return "ok"

    assert bad_usage({}) == "ok"
    assert "usage_not_recorded" in caplog_usage.text

    @recorder.metered(lambda event, result: {"requests": 1}, queue_url=QUEUE, client=sqs)
    def failing(event, context=None):
        raise KeyError("boom")

    with pytest.raises(KeyError):
        failing({})
    assert sqs.calls == []


def test_importing_the_recorder_does_not_import_boto3():
    code = "import sys, customer_stack.usage.recorder; print('boto3' in sys.modules)"
    out = _python(code, ROOT)
    assert out.stdout.strip() == "False"


def test_the_client_is_created_once_and_lazily(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    recorder.reset_client()
    try:
        assert recorder._client is None
        first = recorder._sqs()
        assert recorder._sqs() is first
        assert first.meta.config.connect_timeout == 1 and first.meta.config.read_timeout == 3
    finally:
        recorder.reset_client()


def test_recorder_works_as_a_lone_file_next_to_a_handler(tmp_path):
    """The solution ships it as `recorder.py` in its own zip: no package, no project imports."""
    shutil.copy(ROOT / "customer_stack" / "usage" / "recorder.py", tmp_path / "recorder.py")
    code = (
        "import recorder, json\n"
        "class S:\n"
        "    def send_message_batch(self, QueueUrl, Entries):\n"
        "        print(json.dumps([json.loads(e['MessageBody'])['quantity'] for e in Entries]))\n"
        "        return {'Successful': [], 'Failed': []}\n"
        "recorder.record({'requests': 1, 'characters': 4}, queue_url='q', client=S())\n"
    )
    out = _python(code, tmp_path)
    assert sorted(json.loads(out.stdout)) == [1, 4]
