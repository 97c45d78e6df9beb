"""The vendor client's pure parts: Retry-After in both forms, full-jitter backoff, URL checks,
the protocol's error shape and the scrubbing of what messages may show. No network."""

import ast
import sys
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from customer_stack import vendor_client as vc

DATE = "Sun, 06 Nov 1994 08:49:37 GMT"
DATE_EPOCH = datetime(1994, 11, 6, 8, 49, 37, tzinfo=UTC).timestamp()


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("0", 0.0), ("7", 7.0), (" 120 ", 120.0), ("3600", 3600.0), ("9" * 5000, vc.RETRY_AFTER_MAX_S)],
)
def test_retry_after_delay_seconds(value, seconds):
    assert vc.parse_retry_after(value) == seconds


@pytest.mark.parametrize(
    "value",
    [
        "Sun, 06 Nov 1994 08:50:07 GMT",  # IMF-fixdate, the preferred form
        "Sunday, 06-Nov-94 08:50:07 GMT",  # obsolete RFC 850 form
        "Sun Nov  6 08:50:07 1994",  # obsolete asctime form (no zone: UTC)
    ],
)
def test_retry_after_http_date_in_all_three_forms(value):
    assert vc.parse_retry_after(value, now=DATE_EPOCH) == pytest.approx(30.0)


def test_retry_after_date_is_measured_from_the_answers_date_not_this_clock():
    # This machine's clock is an hour off; the answer's own Date makes it irrelevant.
    wait = vc.parse_retry_after("Sun, 06 Nov 1994 08:50:07 GMT", DATE, now=DATE_EPOCH + 3600)
    assert wait == pytest.approx(30.0)
    # An unreadable Date falls back to this machine's clock.
    assert vc.parse_retry_after("Sun, 06 Nov 1994 08:50:07 GMT", "garbage", now=DATE_EPOCH) == pytest.approx(
        30
    )


def test_retry_after_date_against_the_real_clock():
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    assert 25 <= vc.parse_retry_after(later) <= 30


@pytest.mark.parametrize("value", [None, "", "soon", "-5", "1.5", "٣", "Sun, 31 Feb 1994 08:49:37 GMT"])
def test_retry_after_unreadable_is_ignored(value):
    assert vc.parse_retry_after(value) is None


def test_retry_after_in_the_past_is_zero():
    assert vc.parse_retry_after(DATE, now=DATE_EPOCH + 60) == 0.0


def test_full_jitter_stays_in_its_exponential_window_and_is_random():
    policy = vc.RetryPolicy(base_s=0.5, cap_s=4.0)
    for attempt, ceiling in enumerate([0.5, 1.0, 2.0, 4.0, 4.0, 4.0]):
        waits = [vc.full_jitter(attempt, policy) for _ in range(200)]
        assert all(0.0 <= w <= ceiling for w in waits)
        assert max(waits) > ceiling * 0.7 and min(waits) < ceiling * 0.3  # full, not equal, jitter
        assert len(set(waits)) == len(waits)
    assert vc.full_jitter(10_000, policy) <= 4.0  # no overflow for absurd attempt counts


@pytest.mark.parametrize(
    ("url", "loopback", "ok"),
    [
        ("https://api.example.com/prod", False, True),
        ("http://api.example.com/prod", True, False),
        ("http://127.0.0.1:8080/prod", False, False),
        ("http://127.0.0.1:8080/prod", True, True),
        ("http://localhost:9001/2018-06-01/runtime", False, False),  # the Lambda runtime API
        ("ftp://example.com", True, False),
        ("not a url", True, False),
        (None, True, False),
        ("http://[::1", True, False),
    ],
)
def test_checked_url(url, loopback, ok):
    if ok:
        assert vc.checked_url(url, "VendorApiUrl", allow_http_loopback=loopback) == url
    else:
        with pytest.raises(vc.VendorConfigError, match="VendorApiUrl"):
            vc.checked_url(url, "VendorApiUrl", allow_http_loopback=loopback)


def test_a_bad_url_error_names_the_host_never_the_query():
    with pytest.raises(vc.VendorConfigError) as caught:
        vc.checked_url("http://example.com/x?X-Amz-Signature=SECRETSIG", "the download URL")
    assert "example.com" in str(caught.value) and "SECRETSIG" not in str(caught.value)


def test_error_of_reads_the_protocol_shape_and_nothing_else():
    assert vc.error_of({"error": {"code": "Throttled", "message": "slow down"}}) == ("Throttled", "slow down")
    assert vc.error_of({"error": {"code": "x" * 200, "message": "m" * 1000}}) == ("", "m" * 300)
    assert vc.error_of({"error": {"code": "Bad Code\n", "message": 5}}) == ("", "")
    assert vc.error_of(["error"]) == ("", "")
    assert vc.error_of(None) == ("", "")


def test_scrub_drops_queries_and_secrets():
    text = "GET https://b.s3.amazonaws.com/k.zip?X-Amz-Signature=abc failed for vsSK_secret"
    assert vc.scrub(text, ["vsSK_secret"]) == "GET https://b.s3.amazonaws.com/k.zip?… failed for …"


def test_the_client_never_shows_its_secret():
    client = vc.VendorClient("https://api.example.com/prod", "VSAKEXAMPLE", "vsSK_topsecret")
    assert "vsSK_topsecret" not in repr(client) and "vsSK_topsecret" not in str(vars(client).get("base_url"))


def test_the_module_is_standard_library_only():
    tree = ast.parse(vc.__loader__.get_source(vc.__name__))
    imported = {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    } | {node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    # signing/shared.signing: the project's one signing module, shipped beside it or inlined before it.
    assert imported - sys.stdlib_module_names == {"signing", "shared"}
