"""The runtime's one-of-each helpers: jittered backoff, transaction cancellation reasons, the job
clock and the declared observability."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from botocore.exceptions import ClientError

from shared import backoff, ddb_errors, job_clock, observability

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


# -- backoff -----------------------------------------------------------------------------------


def test_equal_jitter_waits_between_half_and_all_of_a_doubling_ceiling() -> None:
    assert backoff.equal_jitter(0, base=0.05, cap=2.0, rand=lambda: 0.0) == pytest.approx(0.025)
    assert backoff.equal_jitter(0, base=0.05, cap=2.0, rand=lambda: 0.999999) == pytest.approx(0.05, rel=1e-5)
    assert backoff.equal_jitter(3, base=0.05, cap=2.0, rand=lambda: 0.0) == pytest.approx(0.2)
    assert backoff.equal_jitter(3, base=0.05, cap=2.0, rand=lambda: 0.5) == pytest.approx(0.3)


def test_equal_jitter_is_capped_even_after_many_attempts() -> None:
    for attempt in (6, 10, 100, 10_000):
        assert backoff.equal_jitter(attempt, base=0.05, cap=2.0, rand=lambda: 0.999999) <= 2.0
        assert backoff.equal_jitter(attempt, base=0.05, cap=2.0, rand=lambda: 0.0) == pytest.approx(1.0)


def test_equal_jitter_spreads_real_random_delays_within_bounds() -> None:
    delays = [backoff.equal_jitter(2, base=0.1, cap=5.0) for _ in range(500)]
    assert all(0.2 <= d <= 0.4 for d in delays)
    assert len({round(d, 6) for d in delays}) > 100  # jittered, not one fixed value


def test_equal_jitter_refuses_negative_inputs() -> None:
    with pytest.raises(ValueError):
        backoff.equal_jitter(-1, base=0.05, cap=2.0)


def test_the_metering_pool_backoff_uses_the_shared_jitter() -> None:
    from metering.logic.submit import Backoff

    policy = Backoff(base_seconds=0.2, cap_seconds=5.0)
    for retry in range(1, 9):
        ceiling = min(5.0, 0.2 * 2 ** (retry - 1))
        assert ceiling / 2 <= policy.delay(retry) <= ceiling


# -- cancellation reasons -----------------------------------------------------------------------


def _cancelled(*reasons: dict) -> ClientError:
    response = {
        "Error": {"Code": "TransactionCanceledException", "Message": "Transaction cancelled"},
        "CancellationReasons": list(reasons),
    }
    return ClientError(response, "TransactWriteItems")  # type: ignore[arg-type]


def test_cancellation_reasons_follow_the_request_order_with_passed_items() -> None:
    old = {"pk": {"S": "USAGE#c"}, "sealed_at": {"S": "2026-11-27T11:00:00Z"}}
    exc = _cancelled(
        {"Code": "None"},
        {"Code": "ConditionalCheckFailed", "Message": "The conditional request failed", "Item": old},
        {},  # botocore may leave Code out for an item that passed
    )
    reasons = ddb_errors.cancellation_reasons(exc)
    assert [r.code for r in reasons] == ["None", "ConditionalCheckFailed", "None"]
    assert reasons[1].item == old and reasons[0].item is None
    assert ddb_errors.cancellation_codes(exc) == ["None", "ConditionalCheckFailed", "None"]


def test_other_errors_have_no_cancellation_reasons() -> None:
    throttled = ClientError(
        {"Error": {"Code": "ThrottlingException", "Message": "slow down"}},  # type: ignore[typeddict-item]
        "TransactWriteItems",
    )
    assert ddb_errors.error_code(throttled) == "ThrottlingException"
    assert ddb_errors.cancellation_reasons(throttled) == []
    assert ddb_errors.error_code(ValueError("not an SDK error")) == ""


def test_no_store_reads_cancellation_reasons_by_itself() -> None:
    """One helper: the raw response field is read in shared/ddb_errors.py only."""
    from tests.plugins import ROOT

    readers = [
        path.relative_to(ROOT / "runtime").as_posix()
        for path in (ROOT / "runtime").rglob("*.py")
        if '"CancellationReasons"' in path.read_text()
    ]
    assert readers == ["shared/ddb_errors.py"]


def test_no_runtime_module_draws_its_own_jitter() -> None:
    from tests.plugins import ROOT

    drawing = [
        path.relative_to(ROOT / "runtime").as_posix()
        for path in (ROOT / "runtime").rglob("*.py")
        if "import random" in path.read_text()
    ]
    assert drawing == ["shared/backoff.py"]


# -- job clock --------------------------------------------------------------------------------


def test_the_job_clock_is_the_scheduled_time() -> None:
    event = {"detail-type": "Scheduled Event", "time": "2026-11-27T11:00:00Z"}
    assert job_clock.job_clock(event, env={}, real_now=NOW) == NOW - timedelta(hours=1)
    assert job_clock.job_clock(
        {"time": "2026-11-27T11:00:00+00:00"}, env={}, real_now=NOW
    ) == NOW - timedelta(hours=1)


def test_the_job_clock_never_runs_ahead_of_real_time_outside_the_sandbox() -> None:
    future = {"time": "2026-11-29T12:00:00Z"}
    assert job_clock.job_clock(future, env={}, real_now=NOW) == NOW
    assert job_clock.job_clock(future, env={job_clock.SANDBOX_CLOCK_VARIABLE: "yes"}, real_now=NOW) == NOW
    sandbox = {job_clock.SANDBOX_CLOCK_VARIABLE: "1"}
    assert job_clock.job_clock(future, env=sandbox, real_now=NOW) == datetime(2026, 11, 29, 12, tzinfo=UTC)


def test_the_job_clock_without_a_time_is_the_real_time_and_refuses_a_bad_one() -> None:
    assert job_clock.job_clock({}, env={}, real_now=NOW) == NOW
    assert job_clock.job_clock(None, env={}, real_now=NOW) == NOW
    for bad in ("garbage", "2026-11-27", 12):
        with pytest.raises(ValueError, match="RFC 3339"):
            job_clock.job_clock({"time": bad}, env={}, real_now=NOW)


@pytest.mark.parametrize(
    "module", ["metering.handlers.job", "notices.handlers.job", "quicklaunch.handlers.job"]
)
def test_every_job_uses_the_one_clock(module: str) -> None:
    import importlib

    assert importlib.import_module(module).job_clock is job_clock.job_clock


# -- observability ----------------------------------------------------------------------------


def test_observability_is_declared_once_and_the_tracer_does_not_patch_at_import() -> None:
    import importlib

    assert observability.tracer.auto_patch is False
    for module in (
        "apis.developer_api",
        "apis.signed_api",
        "metering.handlers.job",
        "events.handlers.stream",
    ):
        handler = importlib.import_module(module)
        assert handler.logger is observability.logger
        assert handler.metrics is observability.metrics
        if hasattr(handler, "tracer"):
            assert handler.tracer is observability.tracer


def test_the_declared_logger_redacts_secrets() -> None:
    from audit.redaction import RedactingFormatter

    formatter = observability.logger.registered_formatter
    assert isinstance(formatter, RedactingFormatter)
    assert "A" * 43 not in formatter.serialize({"message": "created vsSK_" + "A" * 43})


# -- typed runtime configuration ---------------------------------------------------------------


def test_the_runtime_configuration_names_its_resources() -> None:
    import json

    from shared.config import config_from_env

    product = {
        "name": "textlens",
        "version": "1.0.0",
        "dimensions": [],
        "grace_days": 3,
        "key_max_lifetime_days": 365,
        "max_active_keys": 5,
        "audit_retention_days": 90,
    }
    env = {
        "VS_PRODUCT": json.dumps(product),
        "VS_TABLE_DATA": "vs-data",
        "VS_TABLE_KEYS": "vs-keys",
        "VS_KEY_SECRETS": "arn:aws:kms:us-east-1:123456789012:key/secrets",
        "VS_BUCKET_ARTIFACTS": "artifacts",
    }
    config = config_from_env(env)
    assert (config.tables.data, config.tables.keys, config.keys.secrets) == (
        "vs-data",
        "vs-keys",
        "arn:aws:kms:us-east-1:123456789012:key/secrets",
    )
    assert config.buckets.artifacts == "artifacts" and config.tables["data"] == "vs-data"
    # a resource this function was not given names the variable it lacks, never an empty name
    with pytest.raises(RuntimeError, match="VS_TABLE_AUDIT"):
        _ = config.tables.audit
    with pytest.raises(RuntimeError, match="VS_KEY_MANIFEST"):
        _ = config.keys.manifest
    assert config_from_env(env) == config


def test_no_runtime_module_looks_resources_up_by_string() -> None:
    """Named fields, not `tables["data"]`; `.get("keys")` stays for a resource a function may lack."""
    import re

    from tests.plugins import ROOT

    pattern = re.compile(r"""\.(tables|keys|buckets)\[["']""")
    offences = [
        path.relative_to(ROOT / "runtime").as_posix()
        for path in (ROOT / "runtime").rglob("*.py")
        if pattern.search(path.read_text())
    ]
    assert offences == []


def test_metrics_find_a_namespace_set_after_the_import(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    """In Lambda the environment exists before the import; a test or tool may set it later."""
    import json

    monkeypatch.setattr(observability.metrics.provider, "namespace", None)
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "VendstackLate")

    @observability.metrics.log_metrics
    def handler(event: dict, context: object) -> str:
        observability.metrics.add_metric(name="Late", unit="Count", value=1)
        return "ok"

    assert handler({}, None) == "ok"
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert lines and lines[-1]["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "VendstackLate"
