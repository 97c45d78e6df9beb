"""The log formatter masks secrets even if one is logged by mistake; audit records stay bounded."""

from __future__ import annotations

import io
import json
import logging
from datetime import UTC, datetime

from audit.record import AuditRecord, error_code_of, operation_of
from audit.redaction import REDACTED, RedactingFormatter, redact

SECRET = "vsSK_bZSqWgEifteMWo8IYO-vRE8jwpLsrn8_Pno4clBD77k"
SIGNATURE = "32a073bdbd3b2df881b0122d3d22b51c4287e4b6deb446dbed2d56a411182555"
JWT = "eyJraWQiOiJFWEFNUExFIn0.eyJzdWIiOiJFWEFNUExFIn0.EXAMPLESIGNATURE"


def test_redact_by_key_name_and_by_shape() -> None:
    document = {
        "secret_key": "anything",
        "headers": {
            "Authorization": f"VS1-HMAC-SHA256 Credential=VSAKAAAAAAAAAAAAAAAA, Signature={SIGNATURE}"
        },
        "X-Vs-Signature": "x",
        "id_token": "x",
        "note": f"oops {SECRET} and Signature={SIGNATURE} and Bearer {JWT} and {JWT}",
        "items": [{"password": "p"}, SECRET],
        "access_key": "VSAKAAAAAAAAAAAAAAAA",
    }
    cleaned = redact(document)
    text = json.dumps(cleaned)
    for needle in (SECRET, SIGNATURE, JWT, "anything", '"p"'):
        assert needle not in text
    assert cleaned["secret_key"] == cleaned["headers"]["Authorization"] == REDACTED
    assert cleaned["access_key"] == "VSAKAAAAAAAAAAAAAAAA"  # identifiers stay useful


def test_formatter_redacts_messages_and_extras() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(RedactingFormatter(service="unit"))
    log = logging.getLogger("vendstack-unit-redaction")
    log.propagate = False
    log.addHandler(handler)
    try:
        log.warning(
            "created %s", SECRET, extra={"signature": SIGNATURE, "token": JWT, "detail": {"Secret": "s"}}
        )
    finally:
        log.removeHandler(handler)
    line = json.loads(stream.getvalue())
    assert (
        SECRET not in stream.getvalue()
        and SIGNATURE not in stream.getvalue()
        and JWT not in stream.getvalue()
    )
    assert line["message"] == "created vsSK_" + REDACTED and line["service"] == "unit"


def test_operation_uses_the_route_template_not_the_path() -> None:
    event = {
        "httpMethod": "DELETE",
        "resource": "/v1/keys/{access_key}",
        "path": "/v1/keys/VSAKAAAAAAAAAAAAAAAA",
    }
    assert operation_of(event) == "DELETE /v1/keys/{access_key}"
    assert (
        operation_of({"httpMethod": "GET", "resource": "/{proxy+}", "path": "/v1/x" + "y" * 500}).__len__()
        <= 256
    )


def test_record_item_shape() -> None:
    event = {
        "httpMethod": "GET",
        "resource": "/v1/whoami",
        "requestContext": {"requestId": "r-1", "identity": {"sourceIp": "198.51.100.7"}},
    }
    record = AuditRecord.start("license", event, now=datetime(2026, 11, 22, 13, 54, 0, 123456, tzinfo=UTC))
    record.finish({"statusCode": 401, "body": '{"error":{"code":"KeyExpired","message":"m"}}'}, 12.6)
    item = record.item(retention_days=400)
    assert item["pk"] == "anonymous#2026-11-22"
    assert item["sk"] == "2026-11-22T13:54:00.123456Z#r-1"
    assert (item["result"], item["error_code"], item["latency_ms"], item["status"]) == (
        "client_error",
        "KeyExpired",
        13,
        401,
    )
    assert item["ttl"] == int(record.started_at.timestamp()) + 400 * 86400
    assert "access_key" not in item


def test_error_code_of_odd_bodies() -> None:
    assert error_code_of({"statusCode": 200, "body": "{}"}) is None
    assert error_code_of({"statusCode": 502, "body": "<html>"}) == "Unknown"
