"""The tables' streams delivered to the functions their event source mappings name, and the
lifecycle bus's events collected for reading, as AWS would deliver them.

Lambda polls a DynamoDB stream and invokes the function with batches of records (AWS docs: "Using
AWS Lambda with Amazon DynamoDB": the event is `{"Records": [...]}`, each record with
`eventName`, `dynamodb.NewImage`/`OldImage` and `eventSourceARN`). The sandbox reads moto's
streams (`dynamodbstreams`) on demand instead of polling: `pump()` delivers every record written
since the last call, in order per shard, and is called before the sandbox answers
`GET /_sandbox/events`, so a test or the demo sees every event of what it just did. A function
error stops the pump at that batch (as Lambda retries it), leaving the records for the next call.

The lifecycle events themselves go, as for any consumer, through an EventBridge rule on the bus
(`source: vendstack.platform`) to an SQS queue the sandbox creates and drains.
"""

from __future__ import annotations

import base64
import json
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sandbox.workers import FunctionError, FunctionWorker

LIFECYCLE_SOURCE = "vendstack.platform"
MAX_BATCH = 100


@dataclass(frozen=True)
class StreamMapping:
    table: str  # logical id of the table whose stream it reads
    function: str  # logical id of the function it invokes


def stream_mappings(template: dict) -> list[StreamMapping]:
    found = []
    for resource in template["Resources"].values():
        if resource["Type"] != "AWS::Lambda::EventSourceMapping":
            continue
        props = resource["Properties"]
        source = props.get("EventSourceArn")
        if isinstance(source, dict) and source.get("Fn::GetAtt", [None, None])[1] == "StreamArn":
            found.append(StreamMapping(source["Fn::GetAtt"][0], props["FunctionName"]["Ref"]))
    return found


def event_buses(template: dict) -> list[str]:
    return [k for k, v in template["Resources"].items() if v["Type"] == "AWS::Events::EventBus"]


def _wire(value: Any) -> Any:
    """boto3's parsed types back to the JSON Lambda receives: times as epoch seconds (the
    record's `ApproximateCreationDateTime`), binary attribute values as base64."""
    if isinstance(value, dict):
        return {k: _wire(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_wire(v) for v in value]
    if isinstance(value, datetime):
        return int(value.timestamp())
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(bytes(value)).decode("ascii")
    return value


def lambda_record(record: dict, stream_arn: str) -> dict:
    """One record of the DynamoDB event Lambda's poller sends."""
    return {**_wire(record), "eventSourceARN": stream_arn}


class StreamPump:
    def __init__(
        self,
        mappings: list[StreamMapping],
        tables: dict[str, str],
        workers: dict[str, FunctionWorker],
        clients: Any,
    ) -> None:
        self._mappings = mappings
        self._tables = tables  # logical id -> table name
        self._workers = workers
        self._ddb = clients("dynamodb")
        self._streams = clients("dynamodbstreams")
        self._iterators: dict[tuple[str, str, str], str | None] = {}
        self._lock = threading.Lock()

    def pump(self) -> int:
        """Deliver every pending record; returns how many were delivered."""
        delivered = 0
        with self._lock:
            for mapping in self._mappings:
                delivered += self._pump_one(mapping)
        return delivered

    def _pump_one(self, mapping: StreamMapping) -> int:
        table = self._tables[mapping.table]
        arn = self._ddb.describe_table(TableName=table)["Table"].get("LatestStreamArn")
        if not arn:
            return 0
        delivered = 0
        for shard in self._streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
            key = (mapping.function, arn, shard["ShardId"])
            iterator = self._iterators.get(key)
            if iterator is None:
                iterator = self._streams.get_shard_iterator(
                    StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
                )["ShardIterator"]
            while iterator:
                answer = self._streams.get_records(ShardIterator=iterator, Limit=MAX_BATCH)
                records = answer.get("Records", [])
                if not records:
                    self._iterators[key] = answer.get("NextShardIterator") or iterator
                    break
                event = {"Records": [lambda_record(record, arn) for record in records]}
                try:
                    self._workers[mapping.function].invoke(event)
                except FunctionError:
                    self._iterators[key] = iterator  # retried at the next pump, as Lambda retries
                    raise
                delivered += len(records)
                iterator = answer.get("NextShardIterator")
                self._iterators[key] = iterator
        return delivered


class EventCollector:
    """A rule on each lifecycle bus to one queue, drained into a list (every event since start)."""

    def __init__(self, buses: list[str], clients: Any) -> None:
        self._sqs = clients("sqs")
        self._events = clients("events")
        self.collected: list[dict] = []
        self._lock = threading.Lock()
        self._queue_url = self._sqs.create_queue(QueueName="sandbox-lifecycle-events")["QueueUrl"]
        queue_arn = self._sqs.get_queue_attributes(QueueUrl=self._queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        for bus in buses:
            self._events.put_rule(
                Name="sandbox-lifecycle-consumer",
                EventBusName=bus,
                EventPattern=json.dumps({"source": [LIFECYCLE_SOURCE]}),
            )
            self._events.put_targets(
                Rule="sandbox-lifecycle-consumer",
                EventBusName=bus,
                Targets=[{"Id": "queue", "Arn": queue_arn}],
            )

    def drain(self) -> list[dict]:
        with self._lock:
            while True:
                answer = self._sqs.receive_message(QueueUrl=self._queue_url, MaxNumberOfMessages=10)
                messages = answer.get("Messages", [])
                if not messages:
                    return list(self.collected)
                for message in messages:
                    self.collected.append(json.loads(message["Body"]))
                    self._sqs.delete_message(QueueUrl=self._queue_url, ReceiptHandle=message["ReceiptHandle"])
