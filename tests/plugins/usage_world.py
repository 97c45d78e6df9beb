"""The usage world for the usage API and metering tests: fixtures `usage_env` (per module) and
`usage` (per test).

The keys world of `keys_world` (moto in-process: keys, audit, KMS) plus the platform-data
table as the vendor platform's CDK creates it (`pk`/`sk`, TTL `ttl`, GSI `gsi1` = `gsi1pk`/
`gsi1sk`, ALL), and the AWS Marketplace emulator (`sandbox.marketplace`) on 127.0.0.1, which
boto3 reaches through `endpoint_url` (moto lets 127.0.0.1 through untouched).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest

from tests.plugins.clock import Clock
from tests.plugins.keys_world import PRODUCT, SUB, Answer, Vault
from tests.plugins.platform_tables import create_data_table

if TYPE_CHECKING:
    from sandbox.marketplace import MarketplaceEmulator


DATA_TABLE = "vs-data"
PRODUCT_CODE = "exampleprod1234567890"
DIMENSIONS = ("requests", "characters")
WINDOW_HOURS = 3
USAGE_PRODUCT = {
    **PRODUCT,
    "dimensions": [
        {"name": "requests", "unit": "request", "description": "Requests", "price_per_unit": "0.0002"},
        {
            "name": "characters",
            "unit": "1k characters",
            "description": "Characters",
            "price_per_unit": "0.0001",
        },
    ],
    "usage_window_hours": WINDOW_HOURS,
    "product_code": PRODUCT_CODE,
}


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def hour_of(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def reset_usage_caches() -> None:
    import metering.dal.marketplace
    import metering.handlers.job
    import usage.handlers.history
    import usage.handlers.ingest
    from shared.config import get_config

    for cached in (
        get_config,
        usage.handlers.ingest.usage_store,
        usage.handlers.ingest.attributor,
        usage.handlers.history.usage_store,
        metering.handlers.job.stores,
        metering.dal.marketplace.metering_client,
    ):
        cached.cache_clear()


class UsageWorld:
    def __init__(self, vault: Vault, emulator: MarketplaceEmulator, clock: Clock) -> None:
        self.vault = vault
        self.ddb = vault.ddb
        self.emulator = emulator
        self.clock = clock
        self.sleeps: list[float] = []
        import boto3
        from botocore.config import Config

        self.metering = boto3.client(
            "meteringmarketplace",
            endpoint_url=emulator.endpoint_url,
            region_name="us-east-1",
            config=Config(retries={"mode": "standard", "total_max_attempts": 1}),
        )

    # --- the APIs ----------------------------------------------------------------------------
    def post_usage(self, key: dict, body: Any, **kwargs: Any) -> Answer:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        event = self.vault.signed_event(
            key["access_key"], key["secret_key"], "POST", "/v1/usage", body=data, **kwargs
        )
        return self.vault.license_api(event)

    def report(self, key: dict, *records: tuple[str, str, int, datetime]) -> Answer:
        body = {
            "records": [
                {"id": rid, "dimension": dim, "quantity": qty, "timestamp": iso(when)}
                for rid, dim, qty, when in records
            ]
        }
        return self.post_usage(key, body)

    def get_usage(self, first: str | None, last: str | None, *, sub: str = SUB, **kwargs: Any) -> Answer:
        query = [(n, v) for n, v in (("from", first), ("to", last)) if v is not None]
        return self.vault.keys_api("GET", "/v1/usage", query=kwargs.pop("query", query), sub=sub, **kwargs)

    # --- storage views -----------------------------------------------------------------------
    def items(self, prefix: str = "USAGE#") -> list[dict]:
        return [i for i in self.vault.scan(DATA_TABLE) if i["pk"].startswith(prefix)]

    def of_type(self, kind: str) -> list[dict]:
        return [i for i in self.items() if i.get("type") == kind]

    def hours(self) -> list[dict]:
        return self.of_type("usage-hour")

    # --- subscriptions -----------------------------------------------------------------------
    def subscribe(
        self,
        customer_id: str,
        account: str,
        *,
        status: str = "active",
        legacy: bool = False,
        link: bool = True,
    ) -> dict:
        """A Marketplace subscription in the emulator, linked to the customer as the subscriptions
        feature stores it (unless `link` is False)."""
        created = self.emulator.create_subscription(account, legacy=legacy)
        if link:
            self.link(customer_id, account, created, status=status)
        return created

    def link(self, customer_id: str, account: str, created: dict, *, status: str = "active") -> None:
        from subscriptions.dal.store import subscription_to_item
        from subscriptions.models import Subscription
        from usage.dal.usage_store import dump

        sub = Subscription(
            customer_id=customer_id,
            email=f"{customer_id}@example.com",
            aws_account_id=account,
            product_code=PRODUCT_CODE,
            status=status,
            license_arn=None if "customer_identifier" in created else created["license_arn"],
            customer_identifier=created.get("customer_identifier"),
            version=1,
        )
        self.ddb.put_item(TableName=DATA_TABLE, Item=dump(subscription_to_item(sub)))

    # --- metering ----------------------------------------------------------------------------
    def job(self, meter: Any = None, **kwargs: Any) -> Any:
        from metering.dal.aggregates import MeterStore
        from metering.dal.marketplace import BatchMeter
        from metering.dal.subscriptions import SubscriptionReader
        from metering.logic.job import MeteringJob

        options = {
            "window": timedelta(hours=WINDOW_HOURS),
            "workers": 1,
            "sleep": self.sleeps.append,
            **kwargs,
        }
        return MeteringJob(
            MeterStore(DATA_TABLE, workers=1, sleep=self.sleeps.append),
            SubscriptionReader(DATA_TABLE),
            meter or BatchMeter(self.metering),
            **options,
        )

    def run_job(self, now: datetime, meter: Any = None, **kwargs: Any) -> Any:
        self.clock.now = now
        return self.job(meter, **kwargs).run(now)

    def metered_keys(self) -> list[tuple]:
        return [(r["aws_account_id"], r["dimension"], r["timestamp"]) for r in self.emulator.metered()]


def seed_usage(customer_id: str, records: Iterable[tuple[str, str, int, datetime]], now: datetime) -> Any:
    """Counts records through the ingestion logic directly (no HTTP), as `POST /v1/usage` would."""
    from shared.config import get_config
    from usage.bodies import UsageRequest
    from usage.dal.usage_store import UsageStore
    from usage.logic.ingest import ingest
    from usage.models import Attribution

    config = get_config()
    request = UsageRequest.model_validate(
        {
            "records": [
                {"id": rid, "dimension": dim, "quantity": qty, "timestamp": iso(when)}
                for rid, dim, qty, when in records
            ]
        }
    )
    store = UsageStore(DATA_TABLE, retention_days=config.audit_retention_days)
    return ingest(store, customer_id, Attribution(access_key="VSAKSEEDSEEDSEEDSEED"), request, config, now)


@pytest.fixture(name="usage_env", scope="module")
def usage_env_fixture(aws_world: str) -> Iterator[None]:
    """The data table in this module's moto world, and the product configuration with usage."""
    patch = pytest.MonkeyPatch()
    patch.setenv("VS_TABLE_DATA", DATA_TABLE)
    patch.setenv("VS_PRODUCT", json.dumps(USAGE_PRODUCT))
    patch.delenv("AWS_ENDPOINT_URL_MARKETPLACE_METERING", raising=False)
    try:
        import boto3

        create_data_table(boto3.client("dynamodb", region_name="us-east-1"))
        reset_usage_caches()
        yield
    finally:
        reset_usage_caches()
        patch.undo()


@pytest.fixture(name="usage")
def usage_fixture(usage_env: None, vault: Vault) -> Iterator[UsageWorld]:
    vault.empty(DATA_TABLE)
    reset_usage_caches()
    from sandbox.marketplace import MarketplaceEmulator

    clock = Clock(datetime.now(UTC))  # the Marketplace emulator's: tests move it to the job's `now`
    emulator = MarketplaceEmulator(PRODUCT_CODE, list(DIMENSIONS), clock=clock)
    emulator.start()
    try:
        yield UsageWorld(vault, emulator, clock)
    finally:
        emulator.stop()
        reset_usage_caches()
