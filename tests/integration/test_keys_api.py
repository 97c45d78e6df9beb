"""Developer API (docs/protocol.md §3) through `apis.developer_api.handler`, on moto."""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime, timedelta

import pytest

import keys.handlers.router
from keys.bodies import CreateKeyRequest
from keys.dal.key_store import KeyStore
from keys.dal.secrets import SecretDeriver
from keys.logic import keys as keys_logic
from shared.callers import Caller
from shared.config import get_config
from shared.errors import Conflict
from tests.plugins.keys_world import EMAIL, KEYS_TABLE, OTHER_EMAIL, OTHER_SUB, SUB, Vault, iso

ACCESS_KEY_RE = re.compile(r"^VSAK[A-Z2-7]{16}$")


def _future(days: float = 30) -> str:
    return iso(datetime.now(UTC) + timedelta(days=days))


def test_create_returns_the_secret_once_and_stores_none_of_it(vault: Vault) -> None:
    answer = vault.keys_api("POST", body={"label": "ci key", "expires_at": _future()})
    assert answer.status == 201
    body = answer.body
    assert set(body) == {"access_key", "secret_key", "label", "created_at", "expires_at", "status"}
    assert ACCESS_KEY_RE.match(body["access_key"])
    assert body["secret_key"].startswith("vsSK_") and len(body["secret_key"]) >= 40
    assert (body["label"], body["status"]) == ("ci key", "active")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", body["created_at"])
    assert answer.headers.get("Cache-Control") == "no-store"

    items = vault.scan(KEYS_TABLE)
    assert body["secret_key"] not in repr(items)
    assert body["secret_key"][5:] not in repr(items)
    (item,) = vault.key_items()
    assert (item["owner"], item["owner_email"], item["status"]) == (SUB, EMAIL, "active")
    # The secret is the KMS MAC of the documented message: derivable, never stored.
    mac = vault.kms.generate_mac(
        KeyId=vault.kms_key_id,
        MacAlgorithm="HMAC_SHA_256",
        Message=f"vs1-secret|{body['access_key']}|{item['salt']}".encode(),
    )["Mac"]
    assert body["secret_key"] == "vsSK_" + base64.urlsafe_b64encode(mac).rstrip(b"=").decode()

    listed = vault.keys_api("GET")
    assert body["secret_key"] not in repr(listed.raw)
    assert "secret_key" not in listed.body["keys"][0]


def test_label_is_optional(vault: Vault) -> None:
    answer = vault.keys_api("POST", body={"expires_at": _future()})
    assert answer.status == 201 and answer.body["label"] is None


def test_list_newest_first_with_status_and_last_used(vault: Vault, monkeypatch: pytest.MonkeyPatch) -> None:
    first = vault.create_key(label="first", days=1)
    second = vault.create_key(label="second", days=60)
    third = vault.create_key(label="third", days=60)
    vault.create_key(sub=OTHER_SUB, email=OTHER_EMAIL, label="not mine")
    assert vault.keys_api("DELETE", f"/v1/keys/{third['access_key']}").status == 204
    assert vault.whoami(second["access_key"], second["secret_key"]).status == 200

    listed = vault.keys_api("GET")
    assert listed.status == 200
    entries = listed.body["keys"]
    assert [e["label"] for e in entries] == ["third", "second", "first"]
    assert [e["status"] for e in entries] == ["revoked", "active", "active"]
    assert set(entries[0]) == {
        "access_key",
        "label",
        "created_at",
        "expires_at",
        "status",
        "last_used_at",
        "created_by",
        "stacks",
    }
    assert all(e["created_by"] == EMAIL for e in entries), "each key names who in the team made it"
    assert all(e["stacks"] == [] for e in entries), "no stack has activated with these keys"
    assert entries[1]["last_used_at"] is not None and entries[2]["last_used_at"] is None

    later = datetime.now(UTC) + timedelta(days=2)
    monkeypatch.setattr(keys.handlers.router, "utcnow", lambda: later)
    assert [e["status"] for e in vault.keys_api("GET").body["keys"]] == ["revoked", "active", "expired"]
    assert first["access_key"] in repr(vault.keys_api("GET").body)


def test_revoke_is_immediate_idempotent_and_private(vault: Vault) -> None:
    mine = vault.create_key()
    theirs = vault.create_key(sub=OTHER_SUB, email=OTHER_EMAIL)
    before = vault.scan(KEYS_TABLE)

    assert vault.keys_api("DELETE", f"/v1/keys/{theirs['access_key']}").code == "NotFound"
    assert vault.keys_api("DELETE", "/v1/keys/VSAKAAAAAAAAAAAAAAAA").code == "NotFound"
    assert vault.keys_api("DELETE", "/v1/keys/not-a-key").code == "NotFound"
    assert vault.scan(KEYS_TABLE) == before

    revoked = vault.keys_api("DELETE", f"/v1/keys/{mine['access_key']}")
    assert (revoked.status, revoked.body) == (204, None)
    assert vault.keys_api("DELETE", f"/v1/keys/{mine['access_key']}").status == 204
    item = next(i for i in vault.key_items() if i["access_key"] == mine["access_key"])
    assert item["status"] == "revoked" and item["revoked_at"]
    assert vault.whoami(mine["access_key"], mine["secret_key"]).code == "KeyRevoked"
    assert vault.whoami(theirs["access_key"], theirs["secret_key"]).status == 200


@pytest.mark.parametrize(
    ("body", "status", "code", "field"),
    [
        ("{not json", 400, "ValidationError", None),
        ("[]", 400, "ValidationError", None),
        ("", 400, "ValidationError", None),
        ({"expires_at": "@future", "labl": "typo"}, 400, "ValidationError", "labl"),
        ({"label": "x"}, 400, "ValidationError", "expires_at"),
        ({"expires_at": "@past"}, 400, "ValidationError", "expires_at"),
        ({"expires_at": "@too-far"}, 400, "ValidationError", "expires_at"),
        ({"expires_at": "2027-05-01T00:00:00+01:00"}, 400, "ValidationError", "expires_at"),
        ({"expires_at": "tomorrow"}, 400, "ValidationError", "expires_at"),
        ({"expires_at": 1893456000}, 400, "ValidationError", "expires_at"),
        ({"expires_at": "@future", "label": "x" * 65}, 400, "ValidationError", "label"),
        ({"expires_at": "@future", "label": ""}, 400, "ValidationError", "label"),
        ({"expires_at": "@future", "label": "bell\x07"}, 400, "ValidationError", "label"),
        ({"expires_at": "@future", "label": 7}, 400, "ValidationError", "label"),
        ({"expires_at": "@future", "label": "x" * (64 * 1024)}, 413, "PayloadTooLarge", None),
    ],
)
def test_bad_input_is_refused_and_nothing_is_written(vault, body, status, code, field) -> None:
    substitutes = {"@future": _future(), "@past": _future(-1), "@too-far": _future(731)}
    if isinstance(body, dict):
        body = {k: substitutes.get(v, v) if isinstance(v, str) else v for k, v in body.items()}
    before = vault.scan(KEYS_TABLE)
    answer = vault.keys_api("POST", body=body)
    assert (answer.status, answer.code) == (status, code), answer.body
    if field:
        assert f"'{field}'" in answer.body["error"]["message"]
    assert vault.scan(KEYS_TABLE) == before


def test_max_lifetime_is_inclusive(vault: Vault) -> None:
    assert vault.keys_api("POST", body={"expires_at": _future(729.9)}).status == 201


def test_unknown_query_parameter_is_refused(vault: Vault) -> None:
    answer = vault.keys_api("GET", query=[("limit", "5")])
    assert answer.code == "ValidationError" and "'limit'" in answer.body["error"]["message"]


@pytest.mark.parametrize(
    "claims",
    [
        False,
        {"email": EMAIL},
        {"sub": "", "email": EMAIL},
        {"sub": SUB},
        {"sub": SUB, "email": " "},
        {"sub": SUB, "email": EMAIL, "token_use": "access"},
    ],
)
def test_missing_or_empty_claims_are_invalid_token(vault: Vault, claims) -> None:
    for method, path in (
        ("POST", "/v1/keys"),
        ("GET", "/v1/keys"),
        ("DELETE", "/v1/keys/VSAKAAAAAAAAAAAAAAAA"),
    ):
        answer = vault.keys_api(method, path, body={"expires_at": _future()}, claims=claims)
        assert (answer.status, answer.code) == (401, "InvalidToken")
    assert vault.scan(KEYS_TABLE) == []


def test_the_21st_active_key_is_a_conflict(vault: Vault) -> None:
    created = [vault.create_key(label=f"k{i}") for i in range(20)]
    before = vault.scan(KEYS_TABLE)
    answer = vault.keys_api("POST", body={"expires_at": _future()})
    assert (answer.status, answer.code) == (409, "Conflict")
    assert vault.scan(KEYS_TABLE) == before
    # another customer has their own limit; a revoked key frees a slot
    assert (
        vault.keys_api("POST", body={"expires_at": _future()}, sub=OTHER_SUB, email=OTHER_EMAIL).status == 201
    )
    assert vault.keys_api("DELETE", f"/v1/keys/{created[0]['access_key']}").status == 204
    assert vault.keys_api("POST", body={"expires_at": _future()}).status == 201
    assert vault.keys_api("POST", body={"expires_at": _future()}).code == "Conflict"


def test_expired_keys_do_not_count_against_the_limit(vault: Vault, monkeypatch: pytest.MonkeyPatch) -> None:
    for _ in range(20):
        vault.create_key(days=1)
    assert vault.keys_api("POST", body={"expires_at": _future()}).code == "Conflict"
    later = datetime.now(UTC) + timedelta(days=2)
    monkeypatch.setattr(keys.handlers.router, "utcnow", lambda: later)
    expires = iso(later + timedelta(days=30))
    assert vault.keys_api("POST", body={"expires_at": expires}).status == 201


def test_concurrent_creates_cannot_pass_the_limit(vault: Vault) -> None:
    """Two creates read the same key set (19 active); the version condition lets only one win."""
    config = get_config()
    for _ in range(config.max_active_keys - 1):
        vault.create_key()
    store = KeyStore(KEYS_TABLE)
    deriver = SecretDeriver(vault.kms_key_id)
    caller = Caller(SUB, EMAIL)
    request = CreateKeyRequest(expires_at=_future())

    class RacingStore(KeyStore):
        """Lets a rival create land between this create's read and its write (once)."""

        raced = False

        def insert_key(self, key, read, active, now):
            if not self.raced:
                self.raced = True
                keys_logic.create_key(store, deriver, caller, request, config, datetime.now(UTC))
            return super().insert_key(key, read, active, now)

    with pytest.raises(Conflict):
        keys_logic.create_key(RacingStore(KEYS_TABLE), deriver, caller, request, config, datetime.now(UTC))
    active = [i for i in vault.key_items() if i["status"] == "active"]
    assert len(active) == config.max_active_keys


def test_keys_created_in_the_same_second_still_list_newest_first(vault: Vault) -> None:
    labels = [f"k{i}" for i in range(6)]
    for label in labels:
        vault.create_key(label=label)
    assert [e["label"] for e in vault.keys_api("GET").body["keys"]] == labels[::-1]
