"""Refusal versus outage in the solution's license-token client, on a simulated clock.

The vendor refusing a token (401 key refused, 402 subscription inactive, 403 customer suspended)
is an answer, not an outage: the cached token is dropped at once and the call fails closed with
the vendor's status and code. Only a connection error, a timeout, 429 and 5xx mean the vendor is
unreachable, and only then is the last token kept through the offline grace."""

from __future__ import annotations

import pytest

from customer_stack.solution.license_token import (
    Fetched,
    LicenseTokenClient,
    LicenseUnavailable,
    Unreachable,
    Verifier,
)
from tests.plugins.clock import Clock
from tests.plugins.license_tokens import PUBLIC_B64
from tests.plugins.license_tokens import make_token as signed_token

T0 = 1_800_000_000
LIFETIME = 3600
GRACE = 3600


def make_token(iat: int) -> str:
    return signed_token(iat, lifetime=LIFETIME, entitlements=("analysis",))


class Scripted:
    """A vendor whose next answer the test sets: a token, a status with the error body, or down."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.answer: tuple[int, str] | str = "token"
        self.calls = 0

    def __call__(self) -> Fetched:
        self.calls += 1
        if self.answer == "token":
            return Fetched(200, {"token": make_token(int(self.clock.now))})
        if self.answer == "down":
            raise Unreachable("timed out")
        status, code = self.answer
        return Fetched(status, {"error": {"code": code, "message": f"{code} says the vendor."}})


def _client(clock: Clock, vendor: Scripted) -> LicenseTokenClient:
    return LicenseTokenClient(
        Verifier(PUBLIC_B64),
        vendor,
        offline_grace=GRACE,
        refresh_ahead=600,
        retry_seconds=30,
        clock=clock,
        rng=lambda: 0.0,  # refresh at exp - 600, retry after 15 s
    )


REFRESH_DUE = T0 + LIFETIME - 600


@pytest.mark.parametrize(
    ("answer", "status"),
    [
        ((402, "SubscriptionInactive"), 402),
        ((403, "AccountSuspended"), 402),
        ((401, "InvalidSignature"), 401),
    ],
)
def test_a_refusal_drops_the_cached_token_at_once(answer, status) -> None:
    clock = Clock(float(T0))
    vendor = Scripted(clock)
    client = _client(clock, vendor)
    client.claims()
    vendor.answer = answer
    clock.now = REFRESH_DUE  # the token is valid for another 600 s
    with pytest.raises(LicenseUnavailable) as refused:
        client.claims()
    assert (refused.value.status, refused.value.code) == (status, answer[1])
    assert refused.value.body()["error"]["message"].startswith(
        f"The vendor refused a license token ({answer[0]}"
    )
    assert client.token() is None
    # Until the retry moment, calls fail closed without asking the vendor again.
    clock.now = REFRESH_DUE + 10
    with pytest.raises(LicenseUnavailable):
        client.claims()
    assert vendor.calls == 2
    # The vendor gives tokens again (renewed, reinstated): served after the retry moment.
    vendor.answer = "token"
    clock.now = REFRESH_DUE + 16
    assert client.claims()["iat"] == REFRESH_DUE + 16


@pytest.mark.parametrize(
    "answer", ["down", (503, "ServiceUnavailable"), (500, "InternalError"), (429, "Throttled")]
)
def test_an_outage_keeps_the_token_through_the_offline_grace(answer) -> None:
    clock = Clock(float(T0))
    vendor = Scripted(clock)
    client = _client(clock, vendor)
    client.claims()
    vendor.answer = answer
    clock.now = REFRESH_DUE
    assert client.claims()["iat"] == T0  # still valid, refresh failed: served
    clock.now = T0 + LIFETIME + GRACE - 1  # expired, but within the offline grace
    assert client.claims()["iat"] == T0
    clock.now = T0 + LIFETIME + GRACE
    with pytest.raises(LicenseUnavailable) as refused:
        client.claims()
    assert (refused.value.status, refused.value.code) == (401, "LicenseUnavailable")
    assert "offline grace" in refused.value.message


def test_a_refusal_during_an_outage_ends_the_offline_grace() -> None:
    clock = Clock(float(T0))
    vendor = Scripted(clock)
    client = _client(clock, vendor)
    client.claims()
    vendor.answer = "down"
    clock.now = T0 + LIFETIME + 60  # expired: served on the offline grace
    assert client.claims()["iat"] == T0
    vendor.answer = (402, "SubscriptionInactive")
    clock.now = T0 + LIFETIME + 120  # the vendor is back and says the subscription ended
    with pytest.raises(LicenseUnavailable) as refused:
        client.claims()
    assert (refused.value.status, refused.value.code) == (402, "SubscriptionInactive")


def test_another_4xx_is_no_outage_but_keeps_the_token_until_its_exp() -> None:
    """A request the vendor cannot read (400, 404) says nothing about the subscription: the token
    serves until its own `exp` and no further (no offline grace), then 401."""
    clock = Clock(float(T0))
    vendor = Scripted(clock)
    client = _client(clock, vendor)
    client.claims()
    vendor.answer = (404, "NotFound")
    clock.now = REFRESH_DUE
    assert client.claims()["iat"] == T0
    clock.now = T0 + LIFETIME
    with pytest.raises(LicenseUnavailable) as refused:
        client.claims()
    assert (refused.value.status, refused.value.code) == (401, "NotFound")


def test_an_error_body_of_the_wrong_shape_still_fails_closed() -> None:
    clock = Clock(float(T0))
    client = LicenseTokenClient(
        Verifier(PUBLIC_B64), lambda: Fetched(402, {"error": "no"}), clock=clock, rng=lambda: 0.0
    )
    with pytest.raises(LicenseUnavailable) as refused:
        client.claims()
    assert (refused.value.status, refused.value.code) == (402, "LicenseRefused")
