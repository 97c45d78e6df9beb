"""The metering job at the issue's scale with AWS-like latencies (`python -m tests.bench metering`).

10,000 customers × 3 dimensions = 30,000 hourly aggregates, due and settled, each customer with a
linked subscription. Every DynamoDB call costs 10 ms and every BatchMeterUsage call 80 ms (the
issue's figures for AWS), on in-memory stand-ins: a DynamoDB of exactly the four calls the job
makes (Query on the due index, BatchGetItem, BatchWriteItem; UpdateItem is not needed here) and
a BatchMeterUsage that checks licence, account, dimension and batch size and can throttle. What
is measured is the job's own shape: how many calls it makes, how many at once, and how a throttle
slows the pool; moto's run beside it (`usage`) measures moto and the sandbox's emulator.
"""

from __future__ import annotations

import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
for entry in (str(ROOT / "runtime"), str(ROOT)):
    if entry not in sys.path:
        sys.path.insert(0, entry)

TABLE = "bench-data"
PRODUCT_CODE = "exampleprod1234567890"
HOUR = datetime(2026, 11, 22, 10, tzinfo=UTC)
JOB_TIME = HOUR + timedelta(hours=4, minutes=5)  # settled (1 h + 3 h window + settle), inside the 6 h
DDB_LATENCY = 0.010
METER_LATENCY = 0.080
PAGE = 1000  # items per Query page (DynamoDB pages by 1 MB; these items are ~300 bytes)
TARGET_SECONDS = 60.0


class LatentDynamo:
    """The four DynamoDB calls of the metering job, in memory, each taking `latency` seconds."""

    def __init__(self, latency: float = DDB_LATENCY) -> None:
        self.latency = latency
        self.items: dict[tuple[str, str], dict[str, Any]] = {}
        self.calls: Counter[str] = Counter()
        self._lock = threading.Lock()

    def _cost(self, operation: str) -> None:
        with self._lock:
            self.calls[operation] += 1
        time.sleep(self.latency)

    def load(self, raw_items: list[dict[str, Any]]) -> None:
        for raw in raw_items:
            self.items[(raw["pk"]["S"], raw["sk"]["S"])] = raw

    def query(self, **request: Any) -> dict[str, Any]:
        self._cost("Query")
        assert request["IndexName"] == "gsi1", request
        values = request["ExpressionAttributeValues"]
        pk, before = values[":pk"]["S"], values[":before"]["S"]
        with self._lock:
            found = sorted(
                (raw for raw in self.items.values() if raw.get("gsi1pk", {}).get("S") == pk),
                key=lambda raw: raw["gsi1sk"]["S"],
            )
        found = [raw for raw in found if raw["gsi1sk"]["S"] < before]
        start = request.get("ExclusiveStartKey")
        if start:
            found = [raw for raw in found if raw["gsi1sk"]["S"] > start["gsi1sk"]["S"]]
        page = found[:PAGE]
        answer: dict[str, Any] = {"Items": page}
        if len(found) > PAGE:
            last = page[-1]
            answer["LastEvaluatedKey"] = {k: last[k] for k in ("pk", "sk", "gsi1pk", "gsi1sk")}
        return answer

    def batch_get_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:  # noqa: N803 - boto3's name
        self._cost("BatchGetItem")
        (request,) = RequestItems.values()
        assert len(request["Keys"]) <= 100
        with self._lock:
            found = [
                self.items[(k["pk"]["S"], k["sk"]["S"])]
                for k in request["Keys"]
                if (k["pk"]["S"], k["sk"]["S"]) in self.items
            ]
        return {"Responses": {TABLE: found}, "UnprocessedKeys": {}}

    def batch_write_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:  # noqa: N803 - boto3's name
        self._cost("BatchWriteItem")
        (requests,) = RequestItems.values()
        assert len(requests) <= 25
        with self._lock:
            for request in requests:
                self.load([request["PutRequest"]["Item"]])
        return {"UnprocessedItems": {}}

    def update_item(self, **request: Any) -> dict[str, Any]:
        raise NotImplementedError("the benchmark's aggregates are all settled: no conditional seal")


class LatentMarketplace:
    """BatchMeterUsage in memory, each call taking `latency` seconds: the records are checked
    against the linked subscriptions (licence and account), the dimensions and the 25-record limit,
    answered per record (Success, or DuplicateRecord for another quantity of a metered hour), and
    the next `throttles` calls fail with ThrottlingException. The sandbox's emulator finds a
    subscription by scanning them all, which at 10,000 customers costs more CPU than the job
    itself; this stand-in looks them up by licence."""

    def __init__(self, dimensions: tuple[str, ...], latency: float = METER_LATENCY) -> None:
        self.dimensions = set(dimensions)
        self.latency = latency
        self.licenses: dict[str, str] = {}  # licence ARN -> account
        self.metered: dict[tuple, tuple[int, str]] = {}  # (licence, dimension, hour) -> (quantity, id)
        self.throttles = 0
        self.calls = 0
        self.in_flight = 0
        self.most_in_flight = 0
        self._lock = threading.Lock()

    def subscribe(self, account: str) -> str:
        arn = f"arn:aws:license-manager::294406891311:license:l-{uuid.uuid4().hex}"
        self.licenses[arn] = account
        return arn

    def __call__(self, records: list[dict[str, Any]], product_code: str | None = None) -> dict[str, Any]:
        from botocore.exceptions import ClientError

        from metering.dal.marketplace import sorted_error

        with self._lock:
            self.calls += 1
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
            throttled = self.throttles > 0
            self.throttles -= throttled
        try:
            time.sleep(self.latency)
        finally:
            with self._lock:
                self.in_flight -= 1
        if throttled:
            error = {"Code": "ThrottlingException", "Message": "Rate exceeded"}
            # as the DAL's BatchMeter raises it: sorted for the metering logic
            raise sorted_error(
                ClientError({"Error": error, "ResponseMetadata": {"HTTPStatusCode": 400}}, "BatchMeterUsage")
            )
        assert 1 <= len(records) <= 25 and product_code is None
        results = []
        with self._lock:
            for record in records:
                assert self.licenses[record["LicenseArn"]] == record["CustomerAWSAccountId"], record
                assert record["Dimension"] in self.dimensions, record
                key = (record["LicenseArn"], record["Dimension"], int(record["Timestamp"]))
                quantity = int(record["Quantity"])
                held = self.metered.setdefault(key, (quantity, uuid.uuid4().hex))
                status = "Success" if held[0] == quantity else "DuplicateRecord"
                results.append({"UsageRecord": record, "MeteringRecordId": held[1], "Status": status})
        return {"Results": results, "UnprocessedRecords": []}


def _seed(ddb: LatentDynamo, marketplace: LatentMarketplace, customers: int, dims: tuple[str, ...]) -> None:
    from subscriptions.dal.store import subscription_to_item
    from subscriptions.models import Subscription
    from tests.bench.usage import settled_aggregate
    from usage.dal.usage_store import dump

    hour = HOUR.strftime("%Y-%m-%dT%H:00:00Z")
    raw = []
    for i in range(customers):
        cid, account = str(uuid.UUID(int=i + 1)), f"{100000000000 + i}"
        sub = Subscription(
            customer_id=cid,
            email=f"{cid}@example.com",
            aws_account_id=account,
            product_code=PRODUCT_CODE,
            status="active",
            license_arn=marketplace.subscribe(account),
            version=1,
        )
        raw.append(dump(subscription_to_item(sub)))
        for n, d in enumerate(dims):
            raw.append(dump(settled_aggregate(cid, hour, d, 1000 + i + n)))
    ddb.load(raw)


def measure(customers: int, *, workers: int, throttles: int = 0) -> dict[str, Any]:
    from metering.dal.aggregates import MeterStore
    from metering.dal.subscriptions import SubscriptionReader
    from metering.logic.job import MeteringJob

    dims = ("requests", "characters", "storage_gb")
    meter = LatentMarketplace(dims)
    ddb = LatentDynamo()
    _seed(ddb, meter, customers, dims)
    meter.throttles = throttles
    job = MeteringJob(
        MeterStore(TABLE, dynamodb=ddb, workers=workers),
        SubscriptionReader(TABLE, dynamodb=ddb),
        meter,
        window=timedelta(hours=3),
        workers=workers,
    )
    cpu = time.process_time()
    summary = job.run(JOB_TIME)
    cpu = time.process_time() - cpu
    records = customers * len(dims)
    assert summary.metered == records, summary.document()
    assert len(meter.metered) == records, "every customer, dimension and hour metered once"
    return {
        "summary": summary,
        "ddb_calls": dict(ddb.calls),
        "most_in_flight": meter.most_in_flight,
        "cpu": cpu,
    }


def run(row: Callable[[str, str, str], None], customers: int = 10_000) -> None:
    from metering.handlers.job import WORKERS

    records = customers * 3
    print(
        f"metering job, AWS-like latencies: {customers:,} customers x 3 dimensions = {records:,} records, "
        f"{DDB_LATENCY * 1000:.0f} ms per DynamoDB call, {METER_LATENCY * 1000:.0f} ms per BatchMeterUsage"
    )
    for throttles in (0, 16):
        result = measure(customers, workers=WORKERS, throttles=throttles)
        summary = result["summary"]
        label = f"{WORKERS} workers" + (f", {throttles} calls throttled" if throttles else "")
        row(f"one run, {label} (s)", f"{summary.seconds:.1f}", f"<= {TARGET_SECONDS:.0f} s")
        row("  CPU time of that run, all threads (s)", f"{result['cpu']:.1f}", "(the job and both stand-ins)")
        row(
            "  BatchMeterUsage calls (retries) / most at once",
            f"{summary.marketplace_calls} ({summary.marketplace_retries}) / {result['most_in_flight']}",
            "",
        )
        row("  DynamoDB calls", ", ".join(f"{k} {v}" for k, v in sorted(result["ddb_calls"].items())), "")


if __name__ == "__main__":

    def _row(name: str, value: str, target: str) -> None:
        print(f"  {name:<58} {value:>22}   target {target}")

    run(_row, customers=int(sys.argv[1]) if len(sys.argv) > 1 else 10_000)
