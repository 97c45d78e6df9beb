"""Quick Launch's deployment keys end to end on the platform side: registration and the agreement
event through the real handlers, the job (`quicklaunch.handlers.job`) issuing the key through the
keys logic and delivering it with PutDeploymentParameter to the Marketplace emulator's Deployment
Service; idempotent delivery, retries, rotation on a replaced agreement, revocation after grace,
and no secret in any log line.

AWS is moto in-process (DynamoDB, KMS); AWS Marketplace is the sandbox's emulator over HTTP.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from sandbox.marketplace import MarketplaceEmulator
from tests.plugins.keys_world import EMAIL, SUB, Vault
from tests.plugins.subscriptions_world import World


@pytest.fixture(name="world")
def world_fixture(subscriptions_world: World) -> World:
    """This module's world is the subscriptions world (not the delivery world of the same name)."""
    return subscriptions_world


class BuyerSecrets:
    """The buyer accounts' secrets, in memory (the moto side is tested with the emulator)."""

    def __init__(self) -> None:
        self.values: dict[tuple[str, str], str] = {}
        self.writes = 0

    def put(self, aws_account_id: str, name: str, secret_string: str, expiration: str | None) -> str:
        self.values[(aws_account_id, name)] = secret_string
        self.writes += 1
        return f"arn:aws:secretsmanager:us-east-1:{aws_account_id}:secret:{name}-AbCdEf"

    def of(self, account: str) -> dict:
        [(_, value)] = [(k, v) for k, v in self.values.items() if k[0] == account]
        return json.loads(value)


class QuickLaunch:
    def __init__(self, world: World, secrets: BuyerSecrets, logs: io.StringIO) -> None:
        self.world = world
        self.vault: Vault = world.vault
        self.emulator: MarketplaceEmulator = world.emulator
        self.secrets = secrets
        self.logs = logs

    def subscribe_and_register(self, account: str) -> dict:
        made = self.world.subscribe(account)
        answer = self.world.register(made["registration_token"])
        assert answer.status == 200, answer.body
        self.world.deliver(self.world.event("purchase-agreement-created", account))
        return made

    def run(self, now: datetime | None = None) -> dict:
        from quicklaunch.handlers.job import context, run

        return run(context(), now or datetime.now(UTC))

    def records(self) -> list[dict]:
        return [i for i in self.world.items("QLKEY#")]

    def parameters(self, account: str) -> list[dict]:
        """This buyer's parameters (the emulator serves the whole module)."""
        return [p for p in self.emulator.deployment.parameters() if p["aws_account_id"] == account]

    def keys(self) -> list[dict]:
        answer = self.vault.keys_api("GET")
        assert answer.status == 200
        return answer.body["keys"]


@pytest.fixture(name="ql")
def quick_launch_fixture(world: World, monkeypatch: pytest.MonkeyPatch) -> Iterator[QuickLaunch]:
    import quicklaunch.handlers.job
    import shared.aws

    monkeypatch.setenv("AWS_ENDPOINT_URL_MARKETPLACE_DEPLOYMENT", world.emulator.endpoint_url)
    shared.aws.client.cache_clear()
    secrets = BuyerSecrets()
    world.emulator.deployment.buyer_secrets = secrets
    logs = io.StringIO()
    swapped = [
        (handler, handler.setStream(logs))
        for handler in quicklaunch.handlers.job.logger.handlers
        if isinstance(handler, logging.StreamHandler)
    ]
    try:
        yield QuickLaunch(world, secrets, logs)
    finally:
        for handler, stream in swapped:
            handler.setStream(stream)
        world.emulator.deployment.buyer_secrets = None
        shared.aws.client.cache_clear()


def _assert_no_secret(ql: QuickLaunch, *secrets: str) -> None:
    text = ql.logs.getvalue()
    for secret in secrets:
        assert secret not in text
    assert "secret_key" not in text and "secretString" not in text


def test_registration_and_agreement_deliver_a_listed_revocable_key(ql: QuickLaunch) -> None:
    account = ql.world.account()
    made = ql.subscribe_and_register(account)
    summary = ql.run()
    assert (summary["issued"], summary["delivered"], summary["failed"]) == (1, 1, 0)
    delivered = ql.secrets.of(account)
    access_key, secret_key = delivered["access_key"], delivered["secret_key"]
    # the key works with the license API, and is listed with the team's keys, labelled
    assert ql.vault.whoami(access_key, secret_key).status == 200
    [listed] = [k for k in ql.keys() if k["access_key"] == access_key]
    assert listed["label"] == f"AWS Marketplace Quick Launch {made['agreement_id']}"
    assert listed["status"] == "active"
    # delivered to the agreement's buyer, for this product, under the template's parameter name
    [parameter] = ql.parameters(account)
    assert (parameter["agreement_id"], parameter["aws_account_id"]) == (made["agreement_id"], account)
    assert parameter["product_id"] == ql.emulator.product_id and parameter["name"] == "DeploymentKey"
    [record] = ql.records()
    assert record["state"] == "delivered" and "secret" not in json.dumps(record, default=str).lower()
    _assert_no_secret(ql, secret_key)
    # revocable by its owner like any key
    assert ql.vault.keys_api("DELETE", f"/v1/keys/{access_key}").status == 204
    assert ql.vault.whoami(access_key, secret_key).status == 401


def test_delivery_is_idempotent(ql: QuickLaunch, monkeypatch: pytest.MonkeyPatch) -> None:
    account = ql.world.account()
    ql.subscribe_and_register(account)
    from quicklaunch.dal.records import DeploymentKeyRecords

    real = DeploymentKeyRecords.delivered
    crashes = iter([RuntimeError("the function died after AWS answered")])

    def crash_once(self, record, now):
        error = next(crashes, None)
        if error:
            raise error
        return real(self, record, now)

    monkeypatch.setattr(DeploymentKeyRecords, "delivered", crash_once)
    with pytest.raises(RuntimeError):
        ql.run()
    assert ql.secrets.writes == 1
    summary = ql.run()  # the marker is still due; the same clientToken, so AWS writes nothing
    assert summary["delivered"] == 1 and summary["issued"] == 0
    assert ql.secrets.writes == 1
    assert len([k for k in ql.keys() if k["label"].startswith("AWS Marketplace")]) == 1
    # asked again (another registration, a redelivered event): nothing more happens
    ql.world.deliver(ql.world.event("purchase-agreement-created", account))
    assert ql.run()["issued"] == 0
    assert ql.secrets.writes == 1 and len(ql.parameters(account)) == 1


def test_failed_delivery_is_retried_and_counted(ql: QuickLaunch) -> None:
    account = ql.world.account()
    ql.subscribe_and_register(account)
    ql.emulator.deployment.buyer_secrets = None  # the service answers 500 InternalServerException
    summary = ql.run()
    assert (summary["issued"], summary["delivered"], summary["failed"]) == (1, 0, 1)
    [record] = ql.records()
    assert record["state"] == "issuing" and record["attempts"] == 1
    assert record["last_error"] == "InternalServerException"
    ql.emulator.deployment.buyer_secrets = ql.secrets
    summary = ql.run()  # still due: the next run delivers the same key
    assert (summary["issued"], summary["delivered"]) == (0, 1)
    [record] = ql.records()
    assert record["state"] == "delivered" and record["attempts"] == 0
    assert ql.secrets.of(account)["access_key"] == record["access_key"]
    assert ql.run()["customers"] == 0  # nothing left due
    _assert_no_secret(ql, ql.secrets.of(account)["secret_key"])


def test_replaced_agreement_rotates_the_key_and_revokes_the_old_after_grace(ql: QuickLaunch) -> None:
    account = ql.world.account()
    ql.subscribe_and_register(account)
    ql.run()
    old = ql.secrets.of(account)
    renewed = ql.subscribe_and_register(account)  # a new agreement for the same buyer
    now = datetime.now(UTC)
    assert ql.run(now)["issued"] == 1
    new = ql.secrets.of(account)  # the same parameter, now the new key
    assert new["access_key"] != old["access_key"]
    assert [p["agreement_id"] for p in ql.parameters(account)] == [renewed["agreement_id"]]
    assert ql.vault.whoami(new["access_key"], new["secret_key"]).status == 200
    # the old key keeps running stacks alive until the grace ends, then it is revoked
    assert ql.vault.whoami(old["access_key"], old["secret_key"]).status == 200
    grace = timedelta(days=10)
    assert ql.run(now + grace - timedelta(minutes=1))["revoked"] == 0
    assert ql.run(now + grace + timedelta(minutes=1))["revoked"] == 1
    answer = ql.vault.whoami(old["access_key"], old["secret_key"])
    assert (answer.status, answer.code) == (401, "KeyRevoked")
    assert ql.vault.whoami(new["access_key"], new["secret_key"]).status == 200


def test_ended_agreement_key_is_revoked_when_grace_ends(ql: QuickLaunch) -> None:
    account = ql.world.account()
    ql.subscribe_and_register(account)
    ql.run()
    key = ql.secrets.of(account)
    ql.world.deliver(ql.world.event("purchase-agreement-ended", account))
    grace_until = ql.world.status().body["grace_until"]
    assert grace_until is not None
    end = datetime.fromisoformat(grace_until.replace("Z", "+00:00"))
    assert ql.run(end - timedelta(minutes=1))["revoked"] == 0
    assert ql.vault.whoami(key["access_key"], key["secret_key"]).status == 200
    assert ql.run(end + timedelta(minutes=1))["revoked"] == 1
    assert ql.vault.whoami(key["access_key"], key["secret_key"]).code == "KeyRevoked"
    assert ql.run(end + timedelta(days=1))["customers"] == 0


def test_no_agreement_yet_means_nothing_issued(ql: QuickLaunch) -> None:
    account = ql.world.account()
    made = ql.world.subscribe(account)
    assert ql.world.register(made["registration_token"]).status == 200
    summary = ql.run()  # ResolveCustomer names no agreement: the agreement event brings it
    assert summary["customers"] == 1 and summary["issued"] == 0
    assert ql.parameters(account) == []
    ql.world.deliver(ql.world.event("purchase-agreement-created", account))
    assert ql.run()["delivered"] == 1
    assert SUB and EMAIL  # the world's customer
