"""AWS Marketplace registration and subscription events through the real handlers: moto
in-process for DynamoDB, the sandbox's Marketplace emulator over HTTP on 127.0.0.1 (one per
module), reached by the same boto3 clients through the service-specific endpoint variables.

Fixtures: `marketplace_emulator`, `subscriptions_env` (the environment the subscription functions
read), `subscriptions_world` (a `World` over both, with the data table emptied), `atomic_dynamodb`
(in `keys_world`).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sandbox.marketplace import MarketplaceEmulator
from tests.plugins.clock import Clock
from tests.plugins.keys_world import EMAIL, PRODUCT, SUB, Answer, FakeLambdaContext, Vault
from tests.plugins.platform_tables import create_data_table

PRODUCT_CODE = "exampleprod1234567890"
DATA_TABLE = "vs-data"
REGION = "us-east-1"


def reset_caches() -> None:
    import shared.aws
    import subscriptions.dal.marketplace
    from shared.config import get_config

    get_config.cache_clear()
    shared.aws.client.cache_clear()
    subscriptions.dal.marketplace.agreement_client.cache_clear()
    import subscriptions.handlers.events

    subscriptions.handlers.events.certificates.cache_clear()


@pytest.fixture(name="marketplace_emulator", scope="module")
def marketplace_emulator_fixture() -> Iterator[MarketplaceEmulator]:
    emulator = MarketplaceEmulator(
        PRODUCT_CODE, ["requests"], clock=Clock(datetime.now(UTC)), token_ttl_s=3600
    )
    emulator.start()
    try:
        yield emulator
    finally:
        emulator.stop()


@pytest.fixture(name="subscriptions_env", scope="module")
def subscriptions_env_fixture(aws_world: str, marketplace_emulator: MarketplaceEmulator) -> Iterator[None]:
    emulator = marketplace_emulator
    patch = pytest.MonkeyPatch()
    patch.setenv("VS_TABLE_DATA", DATA_TABLE)
    patch.setenv("VS_PRODUCT", json.dumps(product_json(emulator)))
    patch.setenv("AWS_ENDPOINT_URL_MARKETPLACE_METERING", emulator.endpoint_url)
    patch.setenv("AWS_ENDPOINT_URL_MARKETPLACE_ENTITLEMENT_SERVICE", emulator.endpoint_url)
    patch.setenv("AWS_ENDPOINT_URL_MARKETPLACE_AGREEMENT", emulator.endpoint_url)
    patch.setenv("VS_SANDBOX_SNS_CERTS", json.dumps(emulator.sns_trust()))
    import boto3  # here, not at import: a run that needs no AWS does not pay for boto3

    create_data_table(boto3.client("dynamodb", region_name=REGION))
    reset_caches()
    try:
        yield
    finally:
        patch.undo()
        reset_caches()


def product_json(emulator: MarketplaceEmulator, pricing_model: str = "contract_with_usage") -> dict:
    return {
        **PRODUCT,
        "product_code": PRODUCT_CODE,
        "product_id": emulator.product_id,
        "pricing_model": pricing_model,
    }


class World:
    def __init__(self, vault: Vault, emulator: MarketplaceEmulator) -> None:
        self.vault = vault
        self.emulator = emulator
        self.clock: Clock = emulator.clock  # type: ignore[assignment]

    @staticmethod
    def account() -> str:
        return str(uuid.uuid4().int)[:12].rjust(12, "1")

    def subscribe(self, account: str, **kwargs: Any) -> dict:
        return self.emulator.create_subscription(account, **kwargs)

    def register(self, token: Any, *, sub: str = SUB, email: str = EMAIL) -> Answer:
        body = token if isinstance(token, dict) else {"registration_token": token}
        return self.vault.keys_api("POST", "/v1/marketplace/registrations", body=body, sub=sub, email=email)

    def status(self, *, sub: str = SUB) -> Answer:
        return self.vault.keys_api("GET", "/v1/subscription", sub=sub)

    def items(self, prefix: str = "") -> list[dict]:
        return [i for i in self.vault.scan(DATA_TABLE) if i["pk"].startswith(prefix)]

    def sub_item(self, customer: str = SUB) -> dict | None:
        found = [i for i in self.items(f"SUB#{customer}") if i["sk"] == "SUB"]
        return found[0] if found else None

    @staticmethod
    def deliver(event: dict) -> dict:
        """As Lambda delivers it: an EventBridge event as is, an SNS envelope inside an SQS record."""
        import subscriptions.handlers.events

        if "detail-type" in event:
            return subscriptions.handlers.events.handler(event, FakeLambdaContext())
        return World.deliver_sqs([json.dumps(event)])

    @staticmethod
    def deliver_sqs(bodies: list[str], ids: list[str] | None = None) -> dict:
        import subscriptions.handlers.events

        ids = ids or [str(uuid.uuid4()) for _ in bodies]
        records = [
            {
                "messageId": message_id,
                "receiptHandle": "AQEB" + message_id,
                "body": body,
                "attributes": {
                    "ApproximateReceiveCount": "1",
                    "SentTimestamp": "1767225600000",
                    "SenderId": "AIDAEXAMPLE",
                    "ApproximateFirstReceiveTimestamp": "1767225600001",
                },
                "messageAttributes": {},
                "md5OfBody": "0" * 32,
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:444455556666:vs-marketplace-notifications",
                "awsRegion": REGION,
            }
            for message_id, body in zip(ids, bodies, strict=True)
        ]
        return subscriptions.handlers.events.handler({"Records": records}, FakeLambdaContext())

    def event(self, kind: str, account: str, *, after: timedelta = timedelta(seconds=1)) -> dict:
        self.clock.now += after  # events are stamped by the emulator's clock
        return self.emulator.event(kind, account)


@pytest.fixture(name="subscriptions_world")
def subscriptions_world_fixture(
    vault: Vault, subscriptions_env: None, marketplace_emulator: MarketplaceEmulator
) -> Iterator[World]:
    emulator = marketplace_emulator
    vault.empty(DATA_TABLE)
    emulator.clock.now = datetime.now(UTC)  # type: ignore[attr-defined]
    from shared.config import get_config

    get_config.cache_clear()
    yield World(vault, emulator)
