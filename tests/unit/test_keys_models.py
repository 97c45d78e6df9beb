"""Key models: request validation, timestamps, access-key shape and the secret format."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from keys.bodies import CreateKeyRequest
from keys.dal.secrets import SecretDeriver, secret_from_mac
from keys.logic.keys import check_expiry, new_access_key
from keys.models import KeyItem, KeySet
from shared import errors
from shared.http import parse_body
from shared.timestamps import format_timestamp, parse_timestamp

NOW = datetime(2026, 11, 22, 13, 0, tzinfo=UTC)


def test_access_keys_have_the_contract_shape_and_do_not_repeat() -> None:
    keys = {new_access_key() for _ in range(200)}
    assert len(keys) == 200
    assert all(re.fullmatch(r"VSAK[A-Z2-7]{16}", k) for k in keys)


def test_secret_format_has_enough_entropy() -> None:
    secret = secret_from_mac(bytes(range(32)))
    assert secret.startswith("vsSK_") and len(secret) == 48 and "=" not in secret  # 256 bits


def test_timestamps() -> None:
    assert parse_timestamp("2027-05-01T00:00:00Z") == datetime(2027, 5, 1, tzinfo=UTC)
    assert parse_timestamp("2027-05-01T00:00:00.5Z").microsecond == 500000
    assert format_timestamp(parse_timestamp("2027-05-01T00:00:00.999Z")) == "2027-05-01T00:00:00Z"
    for bad in (
        "2027-05-01T00:00:00",
        "2027-05-01 00:00:00Z",
        "2027-05-01T00:00:00+00:00",
        "2027-13-01T00:00:00Z",
    ):
        with pytest.raises(ValueError):
            parse_timestamp(bad)


def test_request_model_is_strict() -> None:
    with pytest.raises(ValidationError):
        CreateKeyRequest.model_validate({"expires_at": "2027-05-01T00:00:00Z", "extra": 1})
    with pytest.raises(errors.ValidationError, match="'label'"):
        parse_body(b'{"expires_at": "2027-05-01T00:00:00Z", "label": "a\\nb"}', CreateKeyRequest)
    request = parse_body(
        b'{"expires_at": "2027-05-01T00:00:00Z", "label": "caf\xc3\xa9 key"}', CreateKeyRequest
    )
    assert request.label == "café key"


def test_expiry_limits() -> None:
    check_expiry(NOW + timedelta(days=730), NOW, 730)
    with pytest.raises(errors.ValidationError, match="'expires_at'"):
        check_expiry(NOW + timedelta(days=730, seconds=1), NOW, 730)
    with pytest.raises(errors.ValidationError, match="'expires_at'"):
        check_expiry(NOW, NOW, 730)


def test_status_and_keyset() -> None:
    key = KeyItem(
        "VSAKAAAAAAAAAAAAAAAA", "sub", "e@example.com", None, NOW, NOW + timedelta(days=1), "active", "s"
    )
    assert key.status_at(NOW) == "active"
    assert key.status_at(NOW + timedelta(days=1)) == "expired"
    assert key.revoked(NOW).status_at(NOW) == "revoked"
    assert "salt" not in key.public(NOW)
    keyset = KeySet("sub", 3, {"A": int(NOW.timestamp()) - 1, "B": int(NOW.timestamp()) + 1})
    assert keyset.live(NOW) == {"B": int(NOW.timestamp()) + 1}


def test_secret_cache_expires_within_five_minutes() -> None:
    class FakeKms:
        calls = 0

        def generate_mac(self, **kwargs):
            FakeKms.calls += 1
            return {"Mac": bytes(32)}

    clock = [0.0]
    deriver = SecretDeriver("arn:key", kms=FakeKms(), ttl=3600, clock=lambda: clock[0])
    deriver.derive("VSAKAAAAAAAAAAAAAAAA", "salt")
    clock[0] = 299.0
    deriver.derive("VSAKAAAAAAAAAAAAAAAA", "salt")
    assert FakeKms.calls == 1
    clock[0] = 301.0  # the ttl asked for (1 h) is capped at 5 min
    deriver.derive("VSAKAAAAAAAAAAAAAAAA", "salt")
    assert FakeKms.calls == 2
