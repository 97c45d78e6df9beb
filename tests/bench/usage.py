"""Usage and metering benchmarks (`make bench` imports this module and calls `run(row)`).

(a) DynamoDB writes on the vendor side for one customer with 2 dimensions in one hour, when the
    customer stack pre-aggregates: 100,000 solution requests become what the hourly reporter
    sends (one record per dimension and hour), driven through the ingestion logic and then the
    metering job; every write call is counted with a botocore event hook.
(b) The metering job with the Marketplace emulator: 10,000 customers × 3 dimensions seeded into a
    moto table, subscriptions linked in the emulator; records/s of the whole run, and where the
    time goes (moto's in-process DynamoDB is far slower than DynamoDB for the queue query).

Standalone: `PYTHONPATH=runtime .venv/bin/python -m tests.bench.usage [customers]`.
"""

from __future__ import annotations

import json
import os
import random
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tests.plugins.platform_tables import create_data_table

ROOT = Path(__file__).resolve().parents[2]
for entry in (str(ROOT / "runtime"), str(ROOT)):
    if entry not in sys.path:
        sys.path.insert(0, entry)

TABLE = "bench-data"
PRODUCT_CODE = "exampleprod1234567890"
HOUR = datetime(2026, 11, 22, 10, tzinfo=UTC)
JOB_TIME = HOUR + timedelta(hours=4, minutes=5)  # closed (1 h + 3 h window + settle), inside the 6 h
WRITE_OPS = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}


def settled_aggregate(customer_id: str, hour: str, dimension: str, quantity: int) -> dict[str, Any]:
    """An hourly usage aggregate as ingestion leaves it, queued for the metering job."""
    from usage.models import due_pk, due_shard, hour_sk, queue_sk

    return {
        "pk": f"USAGE#{customer_id}",
        "sk": hour_sk(hour, dimension),
        "type": "usage-hour",
        "customer_id": customer_id,
        "dimension": dimension,
        "hour": hour,
        "quantity": quantity,
        "records": 1,
        "gsi1pk": due_pk(due_shard(customer_id)),
        "gsi1sk": queue_sk(hour, customer_id, dimension),
    }


def _aws_env() -> None:
    for name in list(os.environ):
        if name.startswith("AWS_ENDPOINT_URL") or name == "AWS_PROFILE":
            del os.environ[name]
    os.environ.update(
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",  # noqa: S105 - moto's fake credentials
        AWS_DEFAULT_REGION="us-east-1",
        AWS_REGION="us-east-1",
        POWERTOOLS_SERVICE_NAME="vendstack-bench",
        POWERTOOLS_METRICS_NAMESPACE="VendstackBench",
        POWERTOOLS_TRACE_DISABLED="true",
        POWERTOOLS_LOG_LEVEL="ERROR",
    )


class WriteCounter:
    """Counts DynamoDB write calls (and the items they write) made through one client."""

    def __init__(self, client: Any) -> None:
        self.calls: Counter[str] = Counter()
        self.items = 0
        client.meta.events.register("provide-client-params.dynamodb", self._seen)

    def _seen(self, params: dict, model: Any, **_: Any) -> None:
        if model.name not in WRITE_OPS:
            return
        self.calls[model.name] += 1
        if model.name == "TransactWriteItems":
            self.items += len(params["TransactItems"])
        elif model.name == "BatchWriteItem":
            self.items += sum(len(v) for v in params["RequestItems"].values())
        else:
            self.items += 1

    def reset(self) -> tuple[int, int]:
        total = (sum(self.calls.values()), self.items)
        self.calls.clear()
        self.items = 0
        return total


def _config(dimensions: tuple[str, ...]) -> Any:
    from decimal import Decimal

    from shared.config import Dimension, RuntimeConfig

    return RuntimeConfig(
        product_name="bench",
        product_version="1.0.0",
        dimensions=tuple(Dimension(d, "unit", d, Decimal("0.0001")) for d in dimensions),
        grace_days=10,
        key_max_lifetime_days=730,
        max_active_keys=20,
        audit_retention_days=400,
        product_code=PRODUCT_CODE,
        usage_window_hours=3,
    )


def _subscription_item(customer_id: str, account: str, license_arn: str) -> dict:
    from subscriptions.dal.store import subscription_to_item
    from subscriptions.models import Subscription

    sub = Subscription(
        customer_id=customer_id,
        email=f"{customer_id}@example.com",
        aws_account_id=account,
        product_code=PRODUCT_CODE,
        status="active",
        license_arn=license_arn,
        version=1,
    )
    return subscription_to_item(sub)


def _batch_put(ddb: Any, items: list[dict]) -> None:
    from usage.dal.usage_store import dump

    for start in range(0, len(items), 25):
        ddb.batch_write_item(
            RequestItems={TABLE: [{"PutRequest": {"Item": dump(i)}} for i in items[start : start + 25]]}
        )


def _job(ddb: Any, emulator: Any, workers: int, meter: Callable | None = None) -> Any:
    import boto3
    from botocore.config import Config

    from metering.dal.aggregates import MeterStore
    from metering.dal.marketplace import BatchMeter
    from metering.dal.subscriptions import SubscriptionReader
    from metering.logic.job import MeteringJob

    client = boto3.client(
        "meteringmarketplace",
        endpoint_url=emulator.endpoint_url,
        config=Config(retries={"mode": "standard", "total_max_attempts": 1}, max_pool_connections=32),
    )
    return MeteringJob(
        MeterStore(TABLE, dynamodb=ddb, workers=workers),
        SubscriptionReader(TABLE, dynamodb=ddb),
        meter or BatchMeter(client),
        window=timedelta(hours=3),
        workers=workers,
    )


# ------------------------------------------------------------------------------------- (a)


def bench_writes(row: Callable[[str, str, str], None]) -> None:
    import boto3
    from moto import mock_aws

    from sandbox.marketplace import MarketplaceEmulator
    from usage.bodies import UsageRequest
    from usage.dal.usage_store import UsageStore
    from usage.logic.ingest import ingest
    from usage.models import Attribution

    print("usage: vendor-side DynamoDB writes, 1 customer x 2 dimensions x 1 hour, pre-aggregating reporter")
    dims = ("requests", "characters")
    config = _config(dims)
    rng = random.Random(7)
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        create_data_table(ddb, TABLE)
        counter = WriteCounter(ddb)
        # 100,000 solution requests in the hour, each one request and some characters: the
        # customer stack's own hourly reporter aggregates their events into records.
        from customer_stack.usage import reporter

        messages = []
        for n in range(100_000):
            at = f"2026-11-22T10:{n * 60 // 100_000:02d}:00Z"
            for dimension, quantity in (("requests", 1), ("characters", rng.randint(1, 20))):
                event = {
                    "dimension": dimension,
                    "quantity": quantity,
                    "timestamp": at,
                    "event_id": uuid.uuid4().hex,
                }
                messages.append({"Body": json.dumps(event), "ReceiptHandle": str(n), "MessageId": str(n)})
        built = reporter.records.build_records(messages, Counter())
        body = {"records": [entry.record for entry in built]}
        assert len(body["records"]) == 2, body
        store = UsageStore(TABLE, retention_days=400, dynamodb=ddb)
        customer = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"
        request = UsageRequest.model_validate(body)
        result = ingest(
            store,
            customer,
            Attribution("VSAKBENCHBENCHBENCH2"),
            request,
            config,
            HOUR + timedelta(hours=1, minutes=5),
        )
        assert result.accepted == 2, result
        ingest_calls, ingest_items = counter.reset()
        retry = ingest(
            store,
            customer,
            Attribution("VSAKBENCHBENCHBENCH2"),
            request,
            config,
            HOUR + timedelta(hours=1, minutes=6),
        )
        assert retry.duplicates == 2
        retry_calls, _ = counter.reset()

        emulator = MarketplaceEmulator(PRODUCT_CODE, list(dims), clock=lambda: JOB_TIME)
        emulator.start()
        try:
            created = emulator.create_subscription("111122223333")
            _batch_put(ddb, [_subscription_item(customer, "111122223333", created["license_arn"])])
            counter.reset()
            summary = _job(ddb, emulator, workers=1).run(JOB_TIME)
            assert summary.metered == 2, summary.document()
            meter_calls, meter_items = counter.reset()
        finally:
            emulator.stop()
    row("ingestion write calls (items written)", f"{ingest_calls} ({ingest_items})", "<= 10")
    row("the same request retried (all duplicates): write calls", f"{retry_calls}", "(reported)")
    row("metering that hour: write calls (items)", f"{meter_calls} ({meter_items})", "(reported)")
    total_calls, total_items = ingest_calls + meter_calls, ingest_items + meter_items
    row("ingestion + metering: write calls (items)", f"{total_calls} ({total_items})", "<= 10")


# ------------------------------------------------------------------------------------- (b)


class PhaseTimer:
    def __init__(self) -> None:
        self.seconds: Counter[str] = Counter()

    def wrap(self, name: str, function: Callable) -> Callable:
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.seconds[name] += time.perf_counter() - started

        return timed


def bench_metering(row: Callable[[str, str, str], None], customers: int = 10_000, workers: int = 8) -> None:
    import boto3
    from moto import mock_aws

    from sandbox.marketplace import MarketplaceEmulator

    dims = ("requests", "characters", "storage_gb")
    records = customers * len(dims)
    print(f"metering job: {customers:,} customers x {len(dims)} dimensions = {records:,} records, moto")
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        create_data_table(ddb, TABLE)
        emulator = MarketplaceEmulator(PRODUCT_CODE, list(dims), clock=lambda: JOB_TIME)
        emulator.start()
        try:
            started = time.perf_counter()
            hour = HOUR.strftime("%Y-%m-%dT%H:00:00Z")
            aggregates, subs = [], []
            for i in range(customers):
                cid, account = str(uuid.UUID(int=i + 1)), f"{100000000000 + i}"
                subs.append(
                    _subscription_item(cid, account, emulator.create_subscription(account)["license_arn"])
                )
                for n, d in enumerate(dims):
                    aggregates.append(settled_aggregate(cid, hour, d, 1000 + i + n))
            _batch_put(ddb, subs + aggregates)
            seeded = time.perf_counter() - started

            timer = PhaseTimer()
            job = _job(ddb, emulator, workers)
            store, reader = job._store, job._subs  # noqa: SLF001 - instrumenting the bench only
            store._due_shard = timer.wrap("queue query (moto GSI)", store._due_shard)  # noqa: SLF001
            store.put_items = timer.wrap("pending + result writes (moto BatchWriteItem)", store.put_items)
            reader.get_many = timer.wrap("subscriptions (moto BatchGetItem)", reader.get_many)
            job._meter = timer.wrap("BatchMeterUsage (emulator over HTTP)", job._meter)  # noqa: SLF001
            summary = job.run(JOB_TIME)
            assert summary.metered == records, summary.document()
            metered = emulator.metered()
            assert len(metered) == records == len({(r["aws_account_id"], r["dimension"]) for r in metered})
        finally:
            emulator.stop()
    rate = records / summary.seconds
    row(f"seeding {records:,} aggregates + {customers:,} subscriptions (s, not timed)", f"{seeded:.1f}", "")
    row(f"metering run, {workers} worker(s) (s)", f"{summary.seconds:.1f}", "")
    row("metering throughput (records/s, whole run on moto)", f"{rate:,.0f}", ">= 2,000/s")
    row(
        "BatchMeterUsage calls / DynamoDB write calls",
        f"{summary.marketplace_calls} / {summary.ddb_write_calls}",
        "",
    )
    for name, seconds in timer.seconds.most_common():
        row(f"  time in {name} (s)", f"{seconds:.1f}", "summed over threads" if workers > 1 else "")
    if workers == 1:  # with one thread the phases add up, and the rest is the job's own work
        own = max(summary.seconds - sum(timer.seconds.values()), 1e-6)
        row("  time in the job's own code (s)", f"{own:.1f}", "")
        row("job's own code alone (records/s)", f"{records / own:,.0f}", "")


def run(row: Callable[[str, str, str], None]) -> None:
    """The issue's size, 10,000 customers x 3 dimensions, takes ~80 s on moto (its GSI query scans
    the whole table per page, every write costs ~0.3 ms); VS_BENCH_METERING_CUSTOMERS=3000 is quicker."""
    _aws_env()
    print()
    bench_writes(row)
    print()
    bench_metering(row, customers=int(os.environ.get("VS_BENCH_METERING_CUSTOMERS", "10000")), workers=1)


if __name__ == "__main__":

    def _row(name: str, value: str, target: str) -> None:
        print(f"  {name:<58} {value:>22}   target {target}")

    _aws_env()
    bench_writes(_row)
    bench_metering(
        _row,
        customers=int(sys.argv[1]) if len(sys.argv) > 1 else 10_000,
        workers=int(sys.argv[2]) if len(sys.argv) > 2 else 1,
    )
