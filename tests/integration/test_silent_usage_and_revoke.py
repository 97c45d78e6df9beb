"""Usage that stops arriving is noticed, and a key live stacks use is not revoked by accident.

On moto, through the license and developer handlers: a usage report stamps the reporting stack,
the hourly silence job counts active stacks past `silent_usage.after_hours` (its metric feeds
the vendor's alarm), the usage report lists them, and `DELETE /v1/keys/{key}` answers 409 naming
the live stacks unless `?confirm=true`."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

import activations.handlers.silence_job as silence_job
import usage.handlers.ingest as ingest_handler
from activations.dal.activation_store import ActivationStore
from tests.plugins.delivery_world import DATA_TABLE, DeliveryWorld
from tests.plugins.keys_world import FakeLambdaContext
from usage import report


@pytest.fixture(name="activated")
def activated_fixture(world: DeliveryWorld, customer_key: dict) -> str:
    world.publish("1.0.0")
    answer = world.activate(customer_key)
    assert answer.status == 200, answer.body
    ingest_handler._touched.clear()
    silence_job.store.cache_clear()
    return answer.body["activation_id"]


def _report_usage(world: DeliveryWorld, key: dict) -> int:
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")
    body = {
        "records": [
            {
                "id": f"r-{datetime.now(UTC).timestamp()}",
                "dimension": "requests",
                "quantity": 1,
                "timestamp": hour,
            }
        ]
    }
    return world.call(key, "POST", "/v1/usage", json.dumps(body).encode()).status


def _stamp(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_a_stack_that_stops_reporting_is_counted_silent(
    world: DeliveryWorld, customer_key: dict, activated: str
) -> None:
    store = ActivationStore(DATA_TABLE)
    now = datetime.now(UTC)
    # Just activated, never reported: silent only once after_hours (24 h by default) have passed.
    assert silence_job.run(now + timedelta(hours=23))["silent"] == 0
    assert silence_job.run(now + timedelta(hours=25))["silent"] == 1
    assert _report_usage(world, customer_key) == 200
    stamped = store.get(activated).last_usage_at
    assert stamped is not None
    assert silence_job.run(now + timedelta(hours=23))["silent"] == 0  # reporting again
    assert silence_job.run(now + timedelta(hours=25))["silent"] == 1  # ... and then stopped
    # A deactivated (deleted) stack is not silent: it is gone.
    assert world.deactivate(customer_key, activated).status == 204
    assert silence_job.run(now + timedelta(hours=48))["silent"] == 0


def test_the_silence_job_emits_the_metric_the_alarm_watches(
    world: DeliveryWorld, activated: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VS_SANDBOX_EVENT_CLOCK", "1")  # the job's clock follows an event dated ahead
    later = _stamp(datetime.now(UTC) + timedelta(hours=30))
    capsys.readouterr()
    summary = silence_job.handler({"time": later, "source": "aws.events"}, FakeLambdaContext())
    assert summary["activation_ids"] == [activated]
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    metric = next(line for line in lines if "_aws" in line)
    assert metric["SilentActivations"] in ([1.0], 1.0)
    assert metric["_aws"]["CloudWatchMetrics"][0]["Namespace"]


def test_the_usage_report_lists_silent_stacks(
    world: DeliveryWorld, activated: str, capsys: pytest.CaptureFixture[str]
) -> None:
    store = ActivationStore(DATA_TABLE)
    store.touch_usage(activated, _stamp(datetime.now(UTC) - timedelta(hours=30)))
    today = datetime.now(UTC).date().isoformat()
    assert report.main(["--table", DATA_TABLE, "--from", today, "--to", today, "--json"], ddb=world.ddb) == 0
    document = json.loads(capsys.readouterr().out)
    [silent] = document["silent_stacks"]
    assert (silent["activation_id"], silent["silent_hours"]) == (activated, 30)
    assert report.main(["--table", DATA_TABLE, "--from", today, "--to", today], ddb=world.ddb) == 0
    assert "Silent stacks: active, no usage for 24 h or more (1)" in capsys.readouterr().out


def test_revoking_a_key_live_stacks_use_needs_confirmation(
    world: DeliveryWorld, customer_key: dict, activated: str
) -> None:
    path = f"/v1/keys/{customer_key['access_key']}"
    refused = world.vault.keys_api("DELETE", path)
    assert (refused.status, refused.code) == (409, "Conflict")
    assert "example-stack" in refused.body["error"]["message"]
    assert "confirm=true" in refused.body["error"]["message"]
    assert world.vault.whoami(customer_key["access_key"], customer_key["secret_key"]).status == 200
    for bad in ([("confirm", "yes")], [("confirm", "true"), ("confirm", "true")], [("force", "true")]):
        answer = world.vault.keys_api("DELETE", path, query=bad)
        assert (answer.status, answer.code) == (400, "ValidationError")
    assert world.vault.keys_api("DELETE", path, query=[("confirm", "true")]).status == 204
    revoked = world.vault.whoami(customer_key["access_key"], customer_key["secret_key"])
    assert (revoked.status, revoked.code) == (401, "KeyRevoked")
    assert world.vault.keys_api("DELETE", path).status == 204  # idempotent once revoked


def test_a_key_no_live_stack_uses_revokes_without_confirmation(
    world: DeliveryWorld, customer_key: dict, activated: str
) -> None:
    spare = world.vault.create_key(label="spare")
    assert world.vault.keys_api("DELETE", f"/v1/keys/{spare['access_key']}").status == 204
    assert world.deactivate(customer_key, activated).status == 204  # the stack was deleted
    assert world.vault.keys_api("DELETE", f"/v1/keys/{customer_key['access_key']}").status == 204
