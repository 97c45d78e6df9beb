"""The solution's license token client: offline RS256 verification, cache, refresh ahead with
jitter, single flight, offline grace then fail closed; and the entitlement check in front of a
handler and as a REQUEST authorizer. Tokens are signed here with a local RSA key (`cryptography`,
test-only), exactly as KMS signs them (RSASSA-PKCS1-v1_5 SHA-256)."""

from __future__ import annotations

import base64
import json
import threading
import time

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from customer_stack.solution import entitlement
from customer_stack.solution.license_token import (
    Fetched,
    LicenseTokenClient,
    LicenseUnavailable,
    PublicKey,
    TokenInvalid,
    Unreachable,
    Verifier,
)
from tests.plugins.clock import Clock
from tests.plugins.license_tokens import _KEY, LIFETIME, PUBLIC_B64, _b64, make_token

T0 = 1_800_000_000


class Vendor:
    """A fake vendor: answers tokens minted at the clock's time, or fails as told."""

    def __init__(self, clock: Clock, *, delay: float = 0.0) -> None:
        self.clock = clock
        self.delay = delay
        self.calls = 0
        self.mode = "ok"
        self.gate: threading.Event | None = None

    def __call__(self) -> Fetched:
        self.calls += 1
        if self.gate is not None:
            self.gate.wait(5)
        if self.delay:
            time.sleep(self.delay)
        if self.mode == "down":
            raise Unreachable("connection refused")
        if self.mode == "5xx":
            return Fetched(503, {"error": {"code": "ServiceUnavailable", "message": "retry"}})
        if self.mode == "ended":
            return Fetched(402, {"error": {"code": "SubscriptionInactive", "message": "Not active."}})
        return Fetched(200, {"token": make_token(int(self.clock.now)), "expires_at": "x"})


def make_client(clock: Clock, vendor: Vendor, *, grace: float = 600, rng=lambda: 0.5) -> LicenseTokenClient:
    return LicenseTokenClient(
        Verifier(PUBLIC_B64),
        vendor,
        offline_grace=grace,
        refresh_ahead=600,
        retry_seconds=30,
        clock=clock,
        rng=rng,
    )


# --- verification ------------------------------------------------------------------------------


def test_the_public_key_is_read_from_the_templates_base64_der() -> None:
    key = PublicKey.from_spki_b64(PUBLIC_B64)
    numbers = _KEY.public_key().public_numbers()
    assert (key.n, key.e) == (numbers.n, numbers.e)
    with pytest.raises(ValueError, match="RSA"):
        PublicKey.from_spki_b64(base64.b64encode(b"\x30\x03\x02\x01\x01").decode())


def test_another_keys_token_and_a_forged_claim_do_not_verify() -> None:
    verifier = Verifier(PUBLIC_B64)
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(TokenInvalid, match="signature"):
        verifier.claims(make_token(T0, key=other), T0)
    header, body, signature = make_token(T0).split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=="))
    forged = _b64(json.dumps({**claims, "entitlements": ["everything"]}).encode())
    with pytest.raises(TokenInvalid, match="signature"):
        verifier.claims(f"{header}.{forged}.{signature}", T0)
    for junk in ("", "a.b", "a.b.c.d", "!!.??.**", "x" * 9000):
        with pytest.raises(TokenInvalid):
            verifier.claims(junk, T0)


@pytest.fixture(name="pure_python")
def pure_python_fixture(monkeypatch: pytest.MonkeyPatch):
    """The Lambda runtime has no `cryptography`: force the standard-library path."""
    from customer_stack.solution import license_token

    monkeypatch.setattr(license_token, "USE_NATIVE", False)
    monkeypatch.setattr(license_token, "_NATIVE", {})
    yield


def test_the_pure_python_path_agrees_with_openssl(pure_python) -> None:
    key = PublicKey.from_spki_b64(PUBLIC_B64)
    header, body, signature = make_token(T0).split(".")
    raw = base64.urlsafe_b64decode(signature + "==")
    message = f"{header}.{body}".encode()
    assert key.verifies(message, raw) and key.verifies_pure(message, raw)
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = other.sign(message, padding.PKCS1v15(), hashes.SHA256())
    for bad_message, bad_signature in (
        (message + b"x", raw),
        (message, forged),
        (message, raw[:-1]),
        (message, b"\xff" * len(raw)),
        (message, bytes(len(raw))),
    ):
        assert not key.verifies_pure(bad_message, bad_signature)
    verifier = Verifier(PUBLIC_B64)
    assert verifier.claims(make_token(T0), T0)["sub"] == "team-1"
    with pytest.raises(TokenInvalid, match="signature"):
        verifier.claims(make_token(T0, key=other), T0)


def test_expiry_and_a_future_iat_are_refused() -> None:
    verifier = Verifier(PUBLIC_B64)
    token = make_token(T0)
    assert verifier.claims(token, T0 + LIFETIME - 1)["sub"] == "team-1"
    with pytest.raises(TokenInvalid, match="expired"):
        verifier.claims(token, T0 + LIFETIME)
    with pytest.raises(TokenInvalid, match="future"):
        verifier.claims(make_token(T0 + 3600), T0)


# --- the client ------------------------------------------------------------------------------------


def test_a_hundred_concurrent_cold_callers_cause_exactly_one_fetch() -> None:
    clock = Clock(T0)
    vendor = Vendor(clock)
    vendor.gate = threading.Event()  # the one fetch waits until every caller has arrived
    client = make_client(clock, vendor)
    results: list[dict] = []
    errors: list[BaseException] = []
    started = threading.Barrier(101)

    def caller() -> None:
        started.wait()
        try:
            results.append(client.claims())
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=caller) for _ in range(100)]
    for thread in threads:
        thread.start()
    started.wait()
    time.sleep(0.2)  # let every caller reach the client
    vendor.gate.set()
    for thread in threads:
        thread.join(10)
    assert errors == []
    assert len(results) == 100
    assert vendor.calls == 1
    assert {r["jti"] for r in results} == {f"lt-{T0}"}


def test_warm_calls_use_the_cache_and_refresh_ahead_with_jitter() -> None:
    clock = Clock(T0)
    vendor = Vendor(clock)
    client = make_client(clock, vendor, rng=lambda: 0.0)
    client.claims()
    for _ in range(1000):
        client.claims()
    assert vendor.calls == 1
    # rng 0 → the earliest moment of the window: exp - 600 s.
    clock.now = T0 + LIFETIME - 601
    client.claims()
    assert vendor.calls == 1
    clock.now = T0 + LIFETIME - 600
    assert client.claims()["iat"] == T0 + LIFETIME - 600
    assert vendor.calls == 2


def test_jitter_spreads_the_refresh_of_a_fleet() -> None:
    moments = set()
    for draw in (0.0, 0.25, 0.5, 0.99):
        clock = Clock(T0)
        client = make_client(clock, Vendor(clock), rng=lambda draw=draw: draw)
        client.claims()
        moments.add(client._refresh_at)
    assert len(moments) == 4
    assert all(T0 + LIFETIME - 600 <= m < T0 + LIFETIME - 300 for m in moments)


def test_during_a_refresh_the_others_keep_serving_the_valid_token() -> None:
    clock = Clock(T0)
    vendor = Vendor(clock)
    client = make_client(clock, vendor, rng=lambda: 0.0)
    client.claims()
    clock.now = T0 + LIFETIME - 500  # refresh due, token still valid
    vendor.gate = threading.Event()
    refresher = threading.Thread(target=client.claims)
    refresher.start()
    time.sleep(0.1)
    served = [client.claims()["jti"] for _ in range(50)]  # not blocked by the fetch in flight
    vendor.gate.set()
    refresher.join(5)
    assert served == [f"lt-{T0}"] * 50
    assert vendor.calls == 2


def test_through_a_vendor_outage_it_serves_then_fails_closed_after_the_grace() -> None:
    clock = Clock(T0)
    vendor = Vendor(clock)
    client = make_client(clock, vendor, grace=600)
    client.claims()
    vendor.mode = "down"
    for offset in (LIFETIME - 300, LIFETIME - 1, LIFETIME + 1, LIFETIME + 599):
        clock.now = T0 + offset
        assert client.claims()["jti"] == f"lt-{T0}"  # cached token, then offline grace
    calls = vendor.calls
    assert 2 <= calls <= 2 + (900 // 15)  # retried, at most every 15-30 s
    clock.now = T0 + LIFETIME + 600
    with pytest.raises(LicenseUnavailable) as refused:
        client.claims()
    assert (refused.value.status, refused.value.code) == (401, "LicenseUnavailable")
    assert "offline grace" in refused.value.message
    vendor.mode = "ok"  # the vendor is back: the next retry succeeds and calls pass again
    clock.now += 31
    assert client.claims()["iat"] == int(clock.now)


def test_a_5xx_counts_as_unreachable_and_a_cold_outage_fails_closed_at_once() -> None:
    clock = Clock(T0)
    vendor = Vendor(clock)
    vendor.mode = "5xx"
    client = make_client(clock, vendor)
    with pytest.raises(LicenseUnavailable) as refused:
        client.claims()
    assert refused.value.status == 401
    with pytest.raises(LicenseUnavailable):
        client.claims()
    assert vendor.calls == 1  # no fetch storm: the next try waits for the retry moment


def test_an_ended_subscription_gets_no_offline_grace() -> None:
    """A refusal is not an outage: at the first refresh the vendor refuses, the cached token is
    dropped (it would still be valid for 100 s) and the call fails closed with the vendor's code."""
    clock = Clock(T0)
    vendor = Vendor(clock)
    client = make_client(clock, vendor, grace=86400)
    client.claims()
    vendor.mode = "ended"
    clock.now = T0 + 100
    assert client.claims()["jti"] == f"lt-{T0}"  # not yet due for a refresh: the vendor is not asked
    assert vendor.calls == 1
    clock.now = T0 + LIFETIME - 100  # in the refresh window
    with pytest.raises(LicenseUnavailable) as refused:
        client.claims()
    assert (refused.value.status, refused.value.code) == (402, "SubscriptionInactive")
    assert client.token() is None


def test_a_token_that_does_not_verify_is_not_used() -> None:
    clock = Clock(T0)
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    client = LicenseTokenClient(
        Verifier(PUBLIC_B64),
        lambda: Fetched(200, {"token": make_token(T0, key=other)}),
        clock=clock,
    )
    with pytest.raises(LicenseUnavailable, match="signature"):
        client.claims()


# --- the entitlement check ----------------------------------------------------------------------


@pytest.fixture(name="licensed")
def licensed_fixture(monkeypatch: pytest.MonkeyPatch):
    clock = Clock(time.time())
    vendor = Vendor(clock)
    monkeypatch.setenv(
        "VS_LICENSE_ROUTES", json.dumps({"POST /analyze": "analysis", "GET /premium": "premium"})
    )
    entitlement.set_client(make_client(clock, vendor))
    yield vendor
    entitlement.set_client(None)


def _handler(event, context=None):
    return {"statusCode": 200, "body": "served"}


def test_the_decorator_passes_an_entitled_call_and_answers_402_otherwise(licensed: Vendor) -> None:
    checked = entitlement.entitled()(_handler)
    assert checked({"httpMethod": "POST", "path": "/analyze/"})["statusCode"] == 200
    assert checked({"httpMethod": "GET", "path": "/other"})["statusCode"] == 200  # any valid token
    refused = checked({"httpMethod": "GET", "path": "/premium"})
    assert refused["statusCode"] == 402
    assert json.loads(refused["body"])["error"]["code"] == "NotEntitled"
    licensed.mode = "ended"
    entitlement.set_client(make_client(Clock(time.time()), licensed))
    ended = checked({"httpMethod": "POST", "path": "/analyze"})
    assert (ended["statusCode"], json.loads(ended["body"])["error"]["code"]) == (402, "SubscriptionInactive")


def test_without_its_settings_the_check_fails_closed(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("VS_LICENSE_URL", "VS_LICENSE_PUBLIC_KEY", "VS_LICENSE_SECRET_ARN"):
        monkeypatch.delenv(name, raising=False)
    entitlement.set_client(None)
    refused = entitlement.entitled()(_handler)({"httpMethod": "POST", "path": "/analyze"})
    assert refused["statusCode"] == 401
    assert "VS_LICENSE_URL" in json.loads(refused["body"])["error"]["message"]


def test_the_authorizer_allows_or_denies_this_method_with_the_reason(licensed: Vendor) -> None:
    arn = "arn:aws:execute-api:us-east-1:111122223333:abc/prod/POST/analyze"
    allowed = entitlement.authorizer({"httpMethod": "POST", "path": "/analyze", "methodArn": arn})
    statement = allowed["policyDocument"]["Statement"][0]
    assert (statement["Effect"], statement["Resource"]) == ("Allow", arn)
    denied = entitlement.authorizer({"httpMethod": "GET", "path": "/premium", "methodArn": arn})
    assert denied["policyDocument"]["Statement"][0]["Effect"] == "Deny"
    assert denied["context"]["code"] == "NotEntitled"
    assert all(isinstance(v, str | int | bool) for v in denied["context"].values())


def test_the_authorizer_answers_401_when_no_token_can_be_had(licensed: Vendor) -> None:
    licensed.mode = "down"
    entitlement.set_client(make_client(Clock(time.time()), licensed))
    with pytest.raises(Exception, match="^Unauthorized$"):
        entitlement.authorizer({"httpMethod": "POST", "path": "/analyze", "methodArn": "arn"})


# --- the transport ----------------------------------------------------------------------------------


class _Secrets:
    def __init__(self, fail: bool = False) -> None:
        self.fail = fail

    def get_secret_value(self, SecretId: str) -> dict:  # noqa: N803 - boto3's name
        if self.fail:
            raise RuntimeError("AccessDenied")
        return {
            "SecretString": json.dumps({"access_key": "VSAK" + "A" * 16, "secret_key": "vsSK_" + "s" * 43})
        }


def test_the_transport_maps_the_vendor_clients_outcomes() -> None:
    from customer_stack.solution.license_transport import signed_fetch
    from customer_stack.vendor_client import VendorRefused, VendorResponse, VendorUnavailable

    outcomes: list = []

    class FakeVendor:
        def call(self, method, path, **kwargs):
            assert (method, path, kwargs["body"], kwargs["idempotent"]) == (
                "POST",
                "/v1/license-token",
                b"{}",
                True,
            )
            outcome = outcomes.pop(0)
            if isinstance(outcome, Exception):
                raise outcome
            return outcome

    made = []
    fetch = signed_fetch(
        "https://api.example.com/prod",
        "arn:secret",
        secrets=_Secrets,
        client_factory=lambda url, key, secret: made.append((url, key)) or FakeVendor(),
    )
    outcomes[:] = [
        VendorResponse(200, {"token": "t", "expires_at": "x"}),
        VendorRefused("refused", 402, "SubscriptionInactive", "Not active."),
        VendorUnavailable("down", attempts=1, status=503),
    ]
    assert fetch() == Fetched(200, {"token": "t", "expires_at": "x"})
    assert fetch() == Fetched(402, {"error": {"code": "SubscriptionInactive", "message": "Not active."}})
    with pytest.raises(Unreachable):
        fetch()
    assert made == [("https://api.example.com/prod", "VSAK" + "A" * 16)]  # the key pair read once
    unreadable = signed_fetch(
        "https://api.example.com/prod", "arn:secret", secrets=lambda: _Secrets(fail=True)
    )
    with pytest.raises(Unreachable, match="key pair"):
        unreadable()
