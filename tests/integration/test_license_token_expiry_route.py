"""`POST /v1/license-token` on moto caps `exp` by the subscription as `latest_expiry` says: the
route reads the stored status, `grace_until`, `last_event_time` and `grace_days` (the pure rule
is tested in tests/unit/test_license_token_expiry.py)."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest

from shared.config import get_config
from subscriptions.dal.store import SUB_SK, sub_pk
from tests.plugins.delivery_world import DATA_TABLE, DeliveryWorld
from tests.plugins.keys_world import PRODUCT, SUB

LIFETIME = 3600


@pytest.fixture(name="grace_days")
def grace_days_fixture(request, monkeypatch: pytest.MonkeyPatch) -> int:
    days = getattr(request, "param", PRODUCT["grace_days"])
    product = {**PRODUCT, "grace_days": days, "token_lifetime_seconds": LIFETIME}
    monkeypatch.setenv("VS_PRODUCT", json.dumps(product))
    get_config.cache_clear()
    yield days
    get_config.cache_clear()


def _stamp(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def _pending_since(world: DeliveryWorld, since: datetime) -> None:
    world.ddb.update_item(
        TableName=DATA_TABLE,
        Key={"pk": {"S": sub_pk(SUB)}, "sk": {"S": SUB_SK}},
        UpdateExpression="SET #s = :s, last_event_time = :t",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":s": {"S": "unsubscribe-pending"}, ":t": {"S": _stamp(since)}},
    )


def _lifetime(world: DeliveryWorld, key: dict) -> int:
    answer = world.call(key, "POST", "/v1/license-token", b"{}")
    assert answer.status == 200, answer.body
    claims = answer.body["token"].split(".")[1]
    decoded = json.loads(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4)))
    return decoded["exp"] - decoded["iat"]


def test_an_active_subscription_gets_the_whole_lifetime(
    grace_days: int, world: DeliveryWorld, customer_key: dict
) -> None:
    assert _lifetime(world, customer_key) == LIFETIME


def test_a_long_grace_does_not_shorten_a_pending_unsubscriptions_token(
    grace_days: int, world: DeliveryWorld, customer_key: dict
) -> None:
    _pending_since(world, datetime.now(UTC) - timedelta(minutes=5))
    assert _lifetime(world, customer_key) == LIFETIME


@pytest.mark.parametrize("grace_days", [0], indirect=True)
def test_with_no_grace_a_pending_unsubscriptions_token_lives_five_minutes(
    grace_days: int, world: DeliveryWorld, customer_key: dict
) -> None:
    _pending_since(world, datetime.now(UTC) - timedelta(minutes=5))
    assert _lifetime(world, customer_key) == 300
