"""Every developer- and license-API call leaves one audit record, and no secret anywhere."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime

import pytest

import keys.handlers.router
from audit.log import AuditLog
from shared.errors import ServiceError
from tests.plugins.keys_world import AUDIT_TABLE, OTHER_EMAIL, OTHER_SUB, SUB, TOKEN, Vault

AUDIT_FIELDS = {
    "pk",
    "sk",
    "customer_id",
    "day",
    "at",
    "api",
    "operation",
    "status",
    "result",
    "latency_ms",
    "source_ip",
    "request_id",
    "ttl",
}


def _session(vault: Vault) -> tuple[list[str], list[str]]:
    """A little of everything; returns (secrets, signatures) that must never be kept."""
    key = vault.create_key(label="audited")
    other = vault.create_key(sub=OTHER_SUB, email=OTHER_EMAIL)
    vault.keys_api("GET")
    vault.keys_api("POST", body={"expires_at": "yesterday"})
    vault.keys_api("GET", claims=False)
    vault.keys_api("DELETE", f"/v1/keys/{other['access_key']}")
    signatures = []
    for secret in (key["secret_key"], "vsSK_wrong", key["secret_key"]):
        event = vault.signed_event(key["access_key"], secret)
        signatures.append(event["headers"]["Authorization"].rsplit("=", 1)[1])
        vault.license_api(event)
        if secret == key["secret_key"]:
            vault.license_api(event)  # replay
    vault.whoami("VSAKAAAAAAAAAAAAAAAA", "vsSK_x")
    vault.keys_api("DELETE", f"/v1/keys/{key['access_key']}")
    vault.whoami(key["access_key"], key["secret_key"])
    return [key["secret_key"], other["secret_key"]], signatures


def test_every_call_is_recorded(vault: Vault) -> None:
    _session(vault)
    records = sorted(vault.audit_items(), key=lambda r: r["at"])
    summary = [
        (r["customer_id"], r["operation"], int(r["status"]), r["result"], r.get("error_code"))
        for r in records
    ]
    assert summary == [
        (SUB, "POST /v1/keys", 201, "success", None),
        (OTHER_SUB, "POST /v1/keys", 201, "success", None),
        (SUB, "GET /v1/keys", 200, "success", None),
        (SUB, "POST /v1/keys", 400, "client_error", "ValidationError"),
        ("anonymous", "GET /v1/keys", 401, "client_error", "InvalidToken"),
        (SUB, "DELETE /v1/keys/{access_key}", 404, "client_error", "NotFound"),
        (SUB, "GET /v1/whoami", 200, "success", None),
        (SUB, "GET /v1/whoami", 401, "client_error", "ReplayDetected"),
        (SUB, "GET /v1/whoami", 401, "client_error", "SignatureDoesNotMatch"),
        (SUB, "GET /v1/whoami", 200, "success", None),
        (SUB, "GET /v1/whoami", 401, "client_error", "ReplayDetected"),
        ("anonymous", "GET /v1/whoami", 401, "client_error", "InvalidAccessKey"),
        (SUB, "DELETE /v1/keys/{access_key}", 204, "success", None),
        (SUB, "GET /v1/whoami", 401, "client_error", "KeyRevoked"),
    ]
    for record in records:
        assert AUDIT_FIELDS <= set(record), record
        assert record["pk"] == f"{record['customer_id']}#{record['day']}"
        assert record["source_ip"] == "203.0.113.10"
        assert record["api"] in {"developer", "license"}
        assert int(record["ttl"]) > datetime.now(UTC).timestamp() + 399 * 86400
    license_calls = [r for r in records if r["api"] == "license" and r["customer_id"] == SUB]
    assert all(r["access_key"].startswith("VSAK") for r in license_calls)
    assert records[11]["access_key"] == "VSAKAAAAAAAAAAAAAAAA"


def test_no_secret_signature_or_token_is_stored_or_logged(
    vault: Vault, capsys: pytest.CaptureFixture, caplog: pytest.LogCaptureFixture, log_output
) -> None:
    caplog.set_level(logging.DEBUG)
    secrets, signatures = _session(vault)
    out, err = capsys.readouterr()
    stored = repr(vault.audit_items()) + repr(vault.scan("vs-keys"))
    logged = out + err + caplog.text + log_output.getvalue()
    assert "audited" not in repr(vault.audit_items())  # not even the label; records are metadata
    for needle in [*secrets, *(s[5:] for s in secrets), *signatures, TOKEN, TOKEN.split(".")[2]]:
        assert needle not in stored
        assert needle not in logged
    assert '"message":"key created"' in log_output.getvalue()  # the JSON logs were captured at all


def test_every_call_is_counted_in_a_daily_roll_up_that_never_expires(vault: Vault) -> None:
    _session(vault)
    records = vault.audit_items()
    today = datetime.now(UTC).date()
    (mine,) = AuditLog(AUDIT_TABLE).daily_stats(SUB, today, today)
    own = [r for r in records if r["customer_id"] == SUB]
    assert int(mine["calls"]) == len(own) == 11
    assert int(mine["result:success"]) == sum(r["result"] == "success" for r in own)
    assert int(mine["result:client_error"]) == sum(r["result"] == "client_error" for r in own)
    assert int(mine["error:ReplayDetected"]) == 2
    assert int(mine["op:GET /v1/whoami"]) == 6
    assert all("ttl" not in item for item in vault.audit_stats())  # outlives the raw records
    assert {item["customer_id"] for item in vault.audit_stats()} == {SUB, OTHER_SUB, "anonymous"}


def test_query_by_customer_and_day(vault: Vault) -> None:
    _session(vault)
    log = AuditLog(AUDIT_TABLE)
    today = datetime.now(UTC).date()
    mine = log.query_day(SUB, today)
    assert len(mine) == 11 and {r["customer_id"] for r in mine} == {SUB}
    assert [r["at"] for r in mine] == sorted(r["at"] for r in mine)
    assert [r["customer_id"] for r in log.query_day(OTHER_SUB, today)] == [OTHER_SUB]
    assert log.query_day(SUB, date(2001, 1, 1)) == []
    assert len(list(log.query_range(SUB, date.fromordinal(today.toordinal() - 2), today))) == 11


def test_an_audit_failure_never_fails_the_call(
    vault: Vault, monkeypatch: pytest.MonkeyPatch, log_output
) -> None:
    def broken(self, record):
        raise ServiceError("The audit log is unavailable.")

    monkeypatch.setattr(AuditLog, "write", broken)
    key = vault.create_key()
    assert vault.whoami(key["access_key"], key["secret_key"]).status == 200
    assert vault.audit_items() == []
    assert log_output.getvalue().count('"message":"audit record not written"') == 2


def test_an_unexpected_error_is_a_500_and_still_audited(
    vault: Vault, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(*_args, **_kwargs):
        raise RuntimeError("bug")

    monkeypatch.setattr(keys.handlers.router, "list_keys", boom)
    answer = vault.keys_api("GET")
    assert (answer.status, answer.code) == (500, "InternalError")
    (record,) = vault.audit_items()
    assert (record["result"], record["error_code"]) == ("server_error", "InternalError")
