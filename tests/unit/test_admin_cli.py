"""`vendstack admin` without a platform: bad input exits 2 before anything is sent, missing
credentials are named, and a refusal is reported with the API's code (a local stand-in server
checks that every request arrives SigV4-signed for execute-api)."""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler

import pytest

from customer_stack import admin
from sandbox.local_http import local_server, serve_in_background


def _run(args, capsys):
    try:
        code = admin.main(args)
    except SystemExit as exc:
        code = exc.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def credentials(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLEEXAMPLE12")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "s" * 40)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)


@pytest.mark.parametrize(
    "args",
    [
        ["customers", "--limit", "0"],
        ["customers", "--status", "nope"],
        ["usage", "--from", "2026-11-30", "--to", "2026-11-01"],
        ["usage", "--from", "yesterday", "--to", "2026-11-01"],
        ["suspend", "team-1"],
        ["dispute", "team-1", "--from", "2026-11-01"],
    ],
)
def test_bad_input_exits_2(args, capsys, credentials):
    code, _, err = _run(["--api-url", "http://127.0.0.1:9", *args], capsys)
    assert code == 2 and "usage:" in err


def test_no_api_url_is_named(capsys, credentials):
    code, _, err = _run(["customers"], capsys)
    assert code == 2 and "--api-url" in err


def test_no_credentials_are_named(capsys, monkeypatch, tmp_path):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    code, _, err = _run(["--api-url", "http://127.0.0.1:9", "customers"], capsys)
    assert code == 2 and "no AWS credentials found" in err


class _Api(BaseHTTPRequestHandler):
    seen: list[dict] = []

    def log_message(self, *_args):
        pass

    def do_POST(self):  # noqa: N802 - http.server's name
        length = int(self.headers.get("Content-Length") or 0)
        _Api.seen.append({"path": self.path, "headers": dict(self.headers), "body": self.rfile.read(length)})
        body = json.dumps({"error": {"code": "NotFound", "message": "No such customer."}}).encode()
        self.send_response(404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def test_requests_are_signed_and_refusals_reported(capsys, credentials):
    server = local_server(_Api)
    serve_in_background(server, "admin-api-standin")
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        code, out, err = _run(["--api-url", url, "suspend", "team-1", "--reason", "unpaid"], capsys)
    finally:
        server.shutdown()
    assert code == 1 and "404 NotFound: No such customer." in err and out == ""
    (request,) = _Api.seen
    assert request["path"] == "/v1/admin/customers/team-1/suspend"
    assert json.loads(request["body"]) == {"reason": "unpaid"}
    auth = request["headers"]["Authorization"]
    assert auth.startswith("AWS4-HMAC-SHA256 Credential=AKIAEXAMPLEEXAMPLE12/")
    assert "/us-east-1/execute-api/aws4_request" in auth
    assert "s" * 40 not in json.dumps(request["headers"])
