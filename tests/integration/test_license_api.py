"""License API (docs/protocol.md §4) through `apis.signed_api.handler`: the signature verifier
on moto."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest

import license.handlers.auth
from shared import signing
from tests.plugins.keys_world import KEYS_TABLE, SUB, Vault, rest_event


@pytest.fixture(name="key")
def key_fixture(vault: Vault) -> dict:
    return vault.create_key(label="stack")


def test_whoami_with_a_good_signature(vault: Vault, key: dict) -> None:
    answer = vault.whoami(key["access_key"], key["secret_key"])
    assert answer.status == 200
    assert answer.body == {
        "customer_id": SUB,
        "access_key": key["access_key"],
        "expires_at": key["expires_at"],
    }
    item = next(i for i in vault.key_items() if i["access_key"] == key["access_key"])
    assert item["last_used_at"]


def test_query_and_body_are_signed_and_the_stage_is_not(vault: Vault, key: dict) -> None:
    event = vault.signed_event(
        key["access_key"],
        key["secret_key"],
        query=[("b", "2"), ("a b", "x/y"), ("a b", "1")],
        body=b'{"k":1}',
    )
    event["requestContext"]["path"] = "/prod/v1/whoami"  # the stage is part of the base URL only
    # The signature (query, body, no stage) verifies: GET then refuses the body itself (400), where
    # a wrong signature would have been 401 SignatureDoesNotMatch.
    answer = vault.license_api(event)
    assert (answer.status, answer.code) == (400, "ValidationError")


def test_a_base64_body_is_hashed_as_its_exact_bytes(vault: Vault, key: dict) -> None:
    body = b"\xff\x00 not utf-8 \xfe"
    event = vault.signed_event(key["access_key"], key["secret_key"], body=b"x")
    headers = signing.sign_request(key["access_key"], key["secret_key"], "GET", "/v1/whoami", (), body)
    event["headers"].update(headers)
    event.update(body=base64.b64encode(body).decode(), isBase64Encoded=True)
    answer = vault.license_api(event)  # signature verified (else 401); GET then refuses the body
    assert (answer.status, answer.code) == (400, "ValidationError")


def test_a_signed_request_without_a_body_passes(vault: Vault, key: dict) -> None:
    event = vault.signed_event(key["access_key"], key["secret_key"], query=[("a", "1")])
    assert vault.license_api(event).status == 200


def _tampered(vault: Vault, key: dict, what: str) -> dict:
    event = vault.signed_event(key["access_key"], key["secret_key"], query=[("a", "1")], body=b'{"n":1}')
    if what == "query value":
        event["multiValueQueryStringParameters"] = {"a": ["2"]}
    elif what == "query added":
        event["multiValueQueryStringParameters"] = {"a": ["1"], "b": ["1"]}
    elif what == "query dropped":
        event["multiValueQueryStringParameters"] = None
    elif what == "body":
        event["body"] = '{"n":2}'
    elif what == "method":
        event["httpMethod"] = "POST"
    elif what == "path":  # signed for another path, sent to this one
        headers = signing.sign_request(
            key["access_key"], key["secret_key"], "GET", "/v1/whoamI", [("a", "1")], b'{"n":1}'
        )
        event["headers"].update(headers)
    elif what == "nonce":
        event["headers"]["X-Vs-Nonce"] = "another-nonce-0001"
    elif what == "date":
        when = signing.parse_date(event["headers"]["X-Vs-Date"]) - timedelta(seconds=1)
        event["headers"]["X-Vs-Date"] = signing.format_date(when)
    return event


@pytest.mark.parametrize(
    "what", ["query value", "query added", "query dropped", "body", "method", "path", "nonce", "date"]
)
def test_tampered_requests_do_not_match(vault: Vault, key: dict, what: str) -> None:
    answer = vault.license_api(_tampered(vault, key, what))
    assert (answer.status, answer.code) == (401, "SignatureDoesNotMatch")


def test_wrong_secret(vault: Vault, key: dict) -> None:
    wrong = key["secret_key"][:-1] + ("A" if key["secret_key"][-1] != "A" else "B")
    assert vault.whoami(key["access_key"], wrong).code == "SignatureDoesNotMatch"


def test_another_customers_secret_does_not_fit(vault: Vault, key: dict) -> None:
    other = vault.create_key(sub="11111111-2222-4333-8444-555555555555", email="other@example.com")
    assert vault.whoami(key["access_key"], other["secret_key"]).code == "SignatureDoesNotMatch"


@pytest.mark.parametrize(
    ("skew", "code"),
    [(-301, "RequestExpired"), (301, "RequestExpired"), (-3600, "RequestExpired"), (-290, None), (290, None)],
)
def test_date_window(vault: Vault, key: dict, skew: int, code: str | None) -> None:
    answer = vault.whoami(
        key["access_key"], key["secret_key"], now=datetime.now(UTC) + timedelta(seconds=skew)
    )
    assert answer.code == code
    assert answer.status == (200 if code is None else 401)


def test_replayed_nonce(vault: Vault, key: dict) -> None:
    event = vault.signed_event(key["access_key"], key["secret_key"])
    assert vault.license_api(event).status == 200
    replay = vault.license_api(json.loads(json.dumps(event)))
    assert (replay.status, replay.code) == (401, "ReplayDetected")
    # the same nonce under a fresh signature (new date) is still a replay
    again = vault.whoami(key["access_key"], key["secret_key"], nonce=event["headers"]["X-Vs-Nonce"])
    assert again.code == "ReplayDetected"


def test_a_badly_signed_request_does_not_burn_the_nonce(vault: Vault, key: dict) -> None:
    nonce = "fresh-nonce-000000001"
    assert vault.whoami(key["access_key"], "vsSK_wrong", nonce=nonce).code == "SignatureDoesNotMatch"
    assert vault.whoami(key["access_key"], key["secret_key"], nonce=nonce).status == 200
    nonces = [i for i in vault.scan(KEYS_TABLE) if i["pk"].startswith("NONCE#")]
    assert [i["pk"] for i in nonces] == [f"NONCE#{key['access_key']}#{nonce}"]
    assert int(nonces[0]["ttl"]) > datetime.now(UTC).timestamp() + 300


def test_nonces_are_per_access_key(vault: Vault, key: dict) -> None:
    other = vault.create_key()
    nonce = "shared-nonce-0000000001"
    assert vault.whoami(key["access_key"], key["secret_key"], nonce=nonce).status == 200
    assert vault.whoami(other["access_key"], other["secret_key"], nonce=nonce).status == 200


def test_unknown_access_key(vault: Vault, key: dict) -> None:
    answer = vault.whoami("VSAKAAAAAAAAAAAAAAAA", key["secret_key"])
    assert (answer.status, answer.code) == (401, "InvalidAccessKey")
    assert vault.whoami("AKIAIOSFODNN7EXAMPLE", key["secret_key"]).code == "InvalidAccessKey"


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({}, "MissingAuthentication"),
        ({"Authorization": "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"}, "MissingAuthentication"),
        ({"Authorization": "VS1-HMAC-SHA256 Credential=VSAKAAAAAAAAAAAAAAAA"}, "SignatureDoesNotMatch"),
    ],
)
def test_missing_or_malformed_authorization(vault: Vault, headers: dict, code: str) -> None:
    answer = vault.license_api(rest_event("GET", "/v1/whoami", headers=headers))
    assert (answer.status, answer.code) == (401, code)


@pytest.mark.parametrize("header", ["X-Vs-Date", "X-Vs-Nonce"])
def test_missing_date_or_nonce(vault: Vault, key: dict, header: str) -> None:
    event = vault.signed_event(key["access_key"], key["secret_key"])
    del event["headers"][header]
    assert vault.license_api(event).code == "SignatureDoesNotMatch"


def test_revoked_key(vault: Vault, key: dict) -> None:
    assert vault.whoami(key["access_key"], key["secret_key"]).status == 200  # secret now cached
    assert vault.keys_api("DELETE", f"/v1/keys/{key['access_key']}").status == 204
    assert vault.whoami(key["access_key"], key["secret_key"]).code == "KeyRevoked"
    # the status is only told to a holder of the secret
    assert vault.whoami(key["access_key"], "vsSK_guess").code == "SignatureDoesNotMatch"


def test_expired_key(vault: Vault, monkeypatch: pytest.MonkeyPatch) -> None:
    key = vault.create_key(days=1)
    later = datetime.now(UTC) + timedelta(days=1, seconds=10)
    monkeypatch.setattr(license.handlers.auth, "utcnow", lambda: later)
    answer = vault.whoami(key["access_key"], key["secret_key"], now=later)
    assert (answer.status, answer.code) == (401, "KeyExpired")


def test_secret_cache_still_reads_status_every_call(vault: Vault, key: dict) -> None:
    calls = []
    kms = vault.kms

    class CountingKms:
        def generate_mac(self, **kwargs):
            calls.append(kwargs["KeyId"])
            return kms.generate_mac(**kwargs)

    license.handlers.auth.verifier()._secrets._kms = CountingKms()
    for _ in range(3):
        assert vault.whoami(key["access_key"], key["secret_key"]).status == 200
    assert len(calls) == 1


def test_oversized_body_is_refused_before_any_lookup(vault: Vault, key: dict) -> None:
    body = b"x" * (64 * 1024 + 1)
    answer = vault.whoami(key["access_key"], key["secret_key"], method="POST", body=body)
    assert (answer.status, answer.code) == (413, "PayloadTooLarge")


def test_authentication_failures_are_counted_by_code(vault: Vault, key: dict, capsys) -> None:
    vault.whoami(key["access_key"], "vsSK_wrong")
    metrics = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    failure = next(m for m in metrics if "AuthenticationFailures" in m)
    assert failure["code"] == "SignatureDoesNotMatch"
