"""Customer accounts, API keys and signed requests, end to end through the sandbox (issue 3)."""

from __future__ import annotations

import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.plugins import ROOT

sys.path.insert(0, str(ROOT / "runtime"))
from shared.signing import sign_request  # noqa: E402 - the one signing module (runtime/ is a Lambda root)

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("sandbox")]
PASSWORD = "Keys-e2e-Passw0rd!"
SEEN_SECRETS: list[str] = []


def expires(days: int = 30) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")


def sign_up(api) -> dict:
    email = f"keys-{uuid.uuid4().hex[:8]}@example.com"
    assert api.call("POST", "/_sandbox/users", {"email": email, "password": PASSWORD})[0] == 201
    status, body, _ = api.call("POST", "/_sandbox/tokens", {"email": email, "password": PASSWORD})
    assert status == 200
    SEEN_SECRETS.append(body["id_token"])
    return {"email": email, "bearer": {"Authorization": f"Bearer {body['id_token']}"}}


def new_key(api, user: dict, label: str = "e2e") -> dict:
    status, key, _ = api.call(
        "POST", "/v1/keys", {"label": label, "expires_at": expires()}, headers=user["bearer"]
    )
    assert status == 201, key
    SEEN_SECRETS.append(key["secret_key"])
    return key


def whoami(
    api,
    key: dict,
    *,
    secret: str | None = None,
    now: datetime | None = None,
    nonce: str | None = None,
    sign_query=(),
    send_query: str = "",
    body: bytes | None = None,
    headers: dict | None = None,
):
    signed = sign_request(
        key["access_key"],
        secret or key["secret_key"],
        "GET",
        "/v1/whoami",
        sign_query,
        b"",
        now=now,
        nonce=nonce,
    )
    if headers is not None:
        signed = headers
    path = "/v1/whoami" + (f"?{send_query}" if send_query else "")
    status, answer, _ = api.call("GET", path, headers=signed, raw=body)
    return status, (answer or {}).get("error", {}).get("code"), answer


@pytest.fixture(scope="module")
def alice(api) -> dict:
    return sign_up(api)


@pytest.fixture(scope="module")
def bob(api) -> dict:
    return sign_up(api)


def test_create_list_and_use_keys(api, alice, bob):
    first, second = new_key(api, alice, "one"), new_key(api, alice, "two")
    bobs = new_key(api, bob, "bob")
    assert first["access_key"].startswith("VSAK") and len(first["secret_key"]) >= 40
    status, listed, _ = api.call("GET", "/v1/keys", headers=alice["bearer"])
    assert status == 200
    keys = [k["access_key"] for k in listed["keys"]]
    assert keys[:2] == [second["access_key"], first["access_key"]]  # newest first
    assert bobs["access_key"] not in keys
    assert all("secret_key" not in k for k in listed["keys"])
    status, _, me = whoami(api, first)
    assert (
        status == 200 and me["access_key"] == first["access_key"] and me["expires_at"] == first["expires_at"]
    )


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("wrong-secret", "SignatureDoesNotMatch"),
        ("stale-date", "RequestExpired"),
        ("future-date", "RequestExpired"),
        ("tampered-query", "SignatureDoesNotMatch"),
        ("tampered-body", "SignatureDoesNotMatch"),
        ("unknown-key", "InvalidAccessKey"),
        ("missing-header", "MissingAuthentication"),
    ],
)
def test_bad_signatures_are_refused_with_their_code(api, alice, case, expected):
    key = new_key(api, alice, case)
    now = datetime.now(UTC)
    kwargs = {
        "wrong-secret": {"secret": "vsSK_" + "x" * 43},
        "stale-date": {"now": now - timedelta(seconds=400)},
        "future-date": {"now": now + timedelta(seconds=400)},
        "tampered-query": {"sign_query": [("x", "1")], "send_query": "x=2"},
        "tampered-body": {"body": b'{"injected":true}'},
        "unknown-key": {},
        "missing-header": {"headers": {}},
    }[case]
    if case == "unknown-key":
        key = {**key, "access_key": "VSAKAAAAAAAAAAAAAAAA"}
    status, code, _ = whoami(api, key, **kwargs)
    assert (status, code) == (401, expected)


def test_replayed_nonce_is_refused(api, alice):
    key = new_key(api, alice, "replay")
    headers = sign_request(key["access_key"], key["secret_key"], "GET", "/v1/whoami")
    assert whoami(api, key, headers=headers)[0] == 200
    assert whoami(api, key, headers=headers)[:2] == (401, "ReplayDetected")


def test_revoked_key_fails_at_once_and_others_cannot_touch_it(api, alice, bob):
    key = new_key(api, alice, "revoke")
    assert whoami(api, key)[0] == 200
    status, body, _ = api.call("DELETE", f"/v1/keys/{key['access_key']}", headers=bob["bearer"])
    assert (status, body["error"]["code"]) == (404, "NotFound")
    assert whoami(api, key)[0] == 200
    assert api.call("DELETE", f"/v1/keys/{key['access_key']}", headers=alice["bearer"])[0] == 204
    assert whoami(api, key)[:2] == (401, "KeyRevoked")
    status, listed, _ = api.call("GET", "/v1/keys", headers=alice["bearer"])
    assert {k["access_key"]: k["status"] for k in listed["keys"]}[key["access_key"]] == "revoked"


def test_bad_input_is_refused_and_writes_nothing(api, alice):
    before = api.call("GET", "/v1/keys", headers=alice["bearer"])[1]["keys"]
    cases = [
        ({"expires_at": "2020-01-01T00:00:00Z"}, 400),
        ({"expires_at": expires(800)}, 400),
        ({"label": "x" * 65, "expires_at": expires()}, 400),
        ({"expires_at": expires(), "colour": "blue"}, 400),
    ]
    for body, status in cases:
        got, answer, _ = api.call("POST", "/v1/keys", body, headers=alice["bearer"])
        assert got == status and answer["error"]["code"] == "ValidationError", (body, answer)
    got, answer, _ = api.call("POST", "/v1/keys", headers=alice["bearer"], raw=b"{not json")
    assert got == 400
    got, answer, _ = api.call(
        "POST", "/v1/keys", headers=alice["bearer"], raw=b'{"label":"' + b"x" * 70000 + b'"}'
    )
    assert (got, answer["error"]["code"]) == (413, "PayloadTooLarge")
    assert api.call("GET", "/v1/keys", headers=alice["bearer"])[1]["keys"] == before


def test_the_sandbox_log_holds_no_secret_and_no_token(sandbox, api, alice):
    new_key(api, alice, "last")  # make sure at least one secret was handed out in this module
    log = (Path(sandbox["state_dir"]) / "sandbox.log").read_text()
    assert "key created" in log or "POST /v1/keys" in log  # the log is the one the functions write to
    for secret in SEEN_SECRETS:
        assert secret not in log
        assert secret[5:] not in log
