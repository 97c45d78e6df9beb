"""The vendor client against a scripted local server on 127.0.0.1: what it retries and what not,
how long it waits, the deadline, redirects, and that no secret reaches an error."""

import json
import time
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler

import pytest

from customer_stack import vendor_client as vc
from sandbox.local_http import local_server, serve_in_background
from shared import signing

ACCESS_KEY = "VSAKVENDORCLIENTTEST"
SECRET_KEY = "vsSK_vendorClientSECRET0123456789abcdefghij"


class Scripted:
    """Answers each request with the next scripted reply: (status, headers, json body, delay_s)."""

    def __init__(self):
        self.script: list[tuple] = []
        self.default = (200, {}, {"ok": True}, 0.0)
        self.requests: list[dict] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format, *args):  # noqa: A002 - the base class's name
                pass

            def _answer(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                server.requests.append(
                    {"method": self.command, "path": self.path, "headers": dict(self.headers), "body": body}
                )
                status, headers, payload, delay = server.script.pop(0) if server.script else server.default
                if delay:
                    time.sleep(delay)
                raw = json.dumps(payload).encode() if payload is not None else b""
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(raw)))
                try:
                    self.end_headers()
                    self.wfile.write(raw)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            do_GET = do_POST = do_DELETE = _answer  # noqa: N815 - http.server's names

        self.httpd = local_server(Handler)
        serve_in_background(self.httpd, "vendor-api-standin")
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    s = Scripted()
    yield s
    s.close()


class Clock:
    """A deadline the test controls: each recorded sleep uses up that much of it (not slept)."""

    def __init__(self, seconds=300.0):
        self.left = seconds
        self.slept: list[float] = []

    def remaining(self):
        return self.left

    def sleep(self, seconds):
        self.slept.append(seconds)
        self.left -= seconds


def _client(server, clock, **policy):
    return vc.VendorClient(
        server.url + "/prod",
        ACCESS_KEY,
        SECRET_KEY,
        policy=vc.RetryPolicy(**policy),
        sleep=clock.sleep,
        allow_http_loopback=True,
    )


def _error(status, code, message="m", headers=None):
    return (status, headers or {}, {"error": {"code": code, "message": message}}, 0.0)


def _verifies(request):
    access_key, signature = signing.parse_authorization(request["headers"]["Authorization"])
    path, _, query = request["path"].removeprefix("/prod").partition("?")
    sts = signing.string_to_sign(
        request["headers"]["X-Vs-Date"],
        request["headers"]["X-Vs-Nonce"],
        request["method"],
        path,
        query,
        request["body"],
    )
    return access_key == ACCESS_KEY and signing.signature_matches(SECRET_KEY, sts, signature)


def test_retries_5xx_with_a_fresh_signature_each_time_then_succeeds(server):
    clock = Clock()
    server.script = [_error(503, "ServiceUnavailable"), _error(502, "BadGateway")]
    body = b'{"records":[]}'
    answer = _client(server, clock, attempts=3).call(
        "POST",
        "/v1/usage",
        body=body,
        query=[("dry_run", "false")],
        idempotent=True,
        remaining=clock.remaining,
    )
    assert answer.status == 200 and answer.json == {"ok": True} and answer.attempts == 3
    assert len(server.requests) == 3 and all(_verifies(r) for r in server.requests)
    nonces = [r["headers"]["X-Vs-Nonce"] for r in server.requests]
    assert len(set(nonces)) == 3 and answer.nonce == nonces[-1]  # the answered attempt's nonce
    assert server.requests[0]["path"] == "/prod/v1/usage?dry_run=false"
    assert len(clock.slept) == 2 and 0 <= clock.slept[0] <= 0.5 and 0 <= clock.slept[1] <= 1.0


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (400, "ValidationError"),
        (401, "SignatureDoesNotMatch"),
        (402, "SubscriptionInactive"),
        (404, "NotFound"),
    ],
)
def test_a_4xx_is_final_and_not_retried(server, status, code):
    clock = Clock()
    server.script = [_error(status, code, "the vendor says no")]
    with pytest.raises(vc.VendorRefused) as caught:
        _client(server, clock).call(
            "POST", "/v1/activations", body=b"{}", idempotent=True, remaining=clock.remaining
        )
    assert len(server.requests) == 1 and clock.slept == []
    assert (caught.value.status, caught.value.code, caught.value.vendor_message) == (
        status,
        code,
        "the vendor says no",
    )
    assert f"HTTP {status} {code}: the vendor says no" in str(caught.value)


def test_429_is_retried_honouring_retry_after_as_a_floor(server):
    clock = Clock()
    server.script = [_error(429, "Throttled", headers={"Retry-After": "7"})] * 2
    answer = _client(server, clock, attempts=5, base_s=0.5).call(
        "GET", "/v1/whoami", remaining=clock.remaining
    )
    assert answer.status == 200 and len(server.requests) == 3
    assert all(7.0 <= s <= 7.5 for s in clock.slept) and clock.slept[0] != clock.slept[1]


def test_retry_after_as_an_http_date_is_measured_from_the_answers_date(server):
    clock = Clock()
    now = time.time()
    headers = {"Retry-After": formatdate(now + 20, usegmt=True), "Date": formatdate(now, usegmt=True)}
    server.script = [(503, headers, None, 0.0)]
    _client(server, clock, base_s=0.1).call("GET", "/v1/whoami", remaining=clock.remaining)
    assert len(clock.slept) == 1 and 19.0 <= clock.slept[0] <= 21.1


def test_a_non_idempotent_post_is_retried_only_when_it_was_surely_not_processed(server):
    clock = Clock()
    server.script = [_error(429, "Throttled"), _error(503, "ServiceUnavailable")]
    with pytest.raises(vc.VendorRefused) as caught:
        _client(server, clock).call("POST", "/v1/something", body=b"{}", remaining=clock.remaining)
    assert len(server.requests) == 2  # 429 (not processed) retried; 503 (maybe processed) final
    assert caught.value.status == 503


def test_a_lost_answer_is_retried_only_for_an_idempotent_request(server):
    clock = Clock()
    server.script = [(200, {}, {"late": True}, 1.5)]
    client = _client(server, clock, attempts=3, timeout_s=0.5)
    with pytest.raises(vc.VendorUnavailable, match="not idempotent"):
        client.call("POST", "/v1/something", body=b"{}", remaining=clock.remaining)
    assert len(server.requests) == 1

    server.script = [(200, {}, {"late": True}, 1.5)]
    answer = client.call("POST", "/v1/usage", body=b"{}", idempotent=True, remaining=clock.remaining)
    assert answer.json == {"ok": True} and len(server.requests) == 3


def test_an_unreachable_vendor_gets_bounded_attempts(server):
    clock = Clock()
    url = server.url
    server.close()
    client = vc.VendorClient(
        url,
        ACCESS_KEY,
        SECRET_KEY,
        policy=vc.RetryPolicy(attempts=4),
        sleep=clock.sleep,
        allow_http_loopback=True,
    )
    with pytest.raises(vc.VendorUnavailable) as caught:
        client.call(
            "POST", "/v1/activations", body=b"{}", remaining=clock.remaining
        )  # not idempotent: still safe
    assert caught.value.attempts == 4 and len(clock.slept) == 3
    assert "is unreachable (4 attempts" in str(caught.value) and url.removeprefix("http://") in str(
        caught.value
    )


def test_5xx_until_the_attempts_run_out_names_the_last_answer(server):
    clock = Clock()
    server.default = _error(503, "ServiceUnavailable", "try later")
    with pytest.raises(vc.VendorUnavailable) as caught:
        _client(server, clock).call("GET", "/v1/whoami", remaining=clock.remaining)
    assert (
        len(server.requests) == 3 and caught.value.status == 503 and caught.value.code == "ServiceUnavailable"
    )
    assert "kept failing (3 attempts, last: HTTP 503 ServiceUnavailable: try later)" in str(caught.value)


def test_no_attempt_starts_without_time_left(server):
    clock = Clock(seconds=5.0)
    with pytest.raises(vc.VendorDeadline):
        _client(server, clock, min_attempt_s=10.0).call("GET", "/v1/whoami", remaining=clock.remaining)
    assert server.requests == []


def test_a_retry_after_beyond_the_deadline_is_not_slept(server):
    clock = Clock(seconds=300.0)
    server.script = [_error(429, "Throttled", headers={"Retry-After": "600"})]
    with pytest.raises(vc.VendorDeadline) as caught:
        _client(server, clock, attempts=64).call("GET", "/v1/whoami", remaining=clock.remaining)
    assert len(server.requests) == 1 and clock.slept == [] and caught.value.attempts == 1
    assert "HTTP 429 Throttled" in str(caught.value)


def test_a_long_outage_ends_at_the_deadline_not_after_it(server):
    clock = Clock(seconds=120.0)
    server.default = _error(503, "ServiceUnavailable")
    with pytest.raises(vc.VendorDeadline):
        _client(server, clock, attempts=1000, base_s=1.0, cap_s=20.0, min_attempt_s=10.0).call(
            "GET", "/v1/whoami", remaining=clock.remaining
        )
    assert clock.left >= 10.0 and len(server.requests) >= 5


def test_the_socket_never_waits_past_the_deadline(server):
    deadline = time.monotonic() + 1.0
    server.script = [(200, {}, {}, 3.0)]
    client = vc.VendorClient(server.url, ACCESS_KEY, SECRET_KEY, allow_http_loopback=True)
    started = time.monotonic()
    with pytest.raises(vc.VendorError):
        client.call("GET", "/v1/whoami", remaining=lambda: deadline - time.monotonic())
    assert time.monotonic() - started < 2.0


def test_an_unexpected_success_status_is_retried_when_idempotent(server):
    clock = Clock()
    server.script = [(201, {}, {}, 0.0)]
    answer = _client(server, clock).call(
        "POST", "/v1/usage", body=b"{}", idempotent=True, expect=(200,), remaining=clock.remaining
    )
    assert answer.status == 200 and len(server.requests) == 2


def test_redirects_are_not_followed(server):
    clock = Clock()
    other = Scripted()
    try:
        server.script = [(307, {"Location": other.url + "/steal"}, None, 0.0)]
        with pytest.raises(vc.VendorRefused) as caught:
            _client(server, clock).call(
                "POST", "/v1/usage", body=b"{}", idempotent=True, remaining=clock.remaining
            )
        assert caught.value.status == 307 and other.requests == []
    finally:
        other.close()


def test_no_secret_in_any_error(server):
    """A vendor (or a proxy) that echoes the request back cannot make an error show the secret."""
    clock = Clock()
    echoed = f"you sent Authorization {SECRET_KEY} Signature=abc https://x/y?X-Amz-Signature=PRESIGNED"
    errors = []
    for reply in (_error(400, "ValidationError", echoed), _error(503, "Unavailable", echoed)):
        server.script = [reply] * 3
        with pytest.raises(vc.VendorError) as caught:
            _client(server, clock).call("GET", "/v1/whoami", remaining=clock.remaining)
        errors.append(caught.value)
    for error in errors:
        shown = " ".join([str(error), repr(error), repr(error.args), repr(vars(error))])
        assert SECRET_KEY not in shown and "PRESIGNED" not in shown


def test_open_url_streams_a_download_and_retries_only_what_may_succeed(server):
    clock = Clock()
    server.script = [_error(503, "SlowDown"), (200, {}, {"bytes": "here"}, 0.0)]
    with vc.open_url(
        server.url + "/artifact.zip?X-Amz-Signature=PRESIGNED",
        what="artifact 'api'",
        remaining=clock.remaining,
        sleep=clock.sleep,
        allow_http_loopback=True,
    ) as response:
        assert json.loads(response.read()) == {"bytes": "here"}
    assert len(server.requests) == 2 and "Authorization" not in server.requests[0]["headers"]

    server.script = [_error(403, "AccessDenied")]
    with pytest.raises(vc.VendorRefused) as caught:
        vc.open_url(
            server.url + "/artifact.zip?X-Amz-Signature=PRESIGNED",
            what="artifact 'api'",
            remaining=clock.remaining,
            sleep=clock.sleep,
            allow_http_loopback=True,
        )
    assert caught.value.status == 403 and len(server.requests) == 3
    assert "artifact 'api' at 127.0.0.1:" in str(caught.value) and "PRESIGNED" not in str(caught.value)


def test_every_error_counts_the_requests_sent_and_retries_are_reported(server):
    clock = Clock()
    retries = []
    server.script = [_error(503, "ServiceUnavailable", "busy"), _error(429, "Throttled"), _error(403, "Nope")]
    with pytest.raises(vc.VendorRefused) as caught:
        _client(server, clock, attempts=5).call(
            "GET", "/v1/whoami", remaining=clock.remaining, on_retry=lambda *r: retries.append(r)
        )
    assert caught.value.attempts == 3 == len(server.requests)
    assert [(n, error) for n, error, _ in retries] == [
        (1, "HTTP 503 ServiceUnavailable: busy"),
        (2, "HTTP 429 Throttled: m"),
    ]
    assert [delay for *_, delay in retries] == clock.slept
    with pytest.raises(vc.VendorConfigError) as config_error:
        vc.VendorClient("http://example.com", ACCESS_KEY, SECRET_KEY)
    assert config_error.value.attempts == 0
