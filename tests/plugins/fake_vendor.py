"""The vendor's usage API, minimally (docs/protocol.md §4.2), for the customer-side usage tests
and the reporter benchmark: a local http.server that verifies the VS1 signature with the
project's signing module, dedupes by record id, rejects too-old records and unknown dimensions,
and can be told to answer 503/429 or to drop the connection after it has counted a batch."""

from __future__ import annotations

import json
import socket
import threading
from collections import Counter, deque
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qsl, urlsplit

from sandbox.local_http import local_server, serve_in_background
from shared import signing

ACCESS_KEY = "VSAKUSAGETESTKEY2345"
SECRET_KEY = "vsSK_usage-test-secret-key-0123456789abcdefghij"
STAGE = "/prod"


class FakeVendor:
    def __init__(self, dimensions=("requests", "characters"), window=timedelta(hours=6)):
        self.dimensions, self.window = set(dimensions), window
        self.records = {}  # id -> record: what the vendor counted
        self.requests = []  # one entry per HTTP request
        self.mode = "ok"  # ok | 503 | 429 | drop
        self.script = deque()  # modes for the next requests, before `mode` applies again
        self.retry_after = "1"
        self.on_request = None
        self.nonces = set()
        self.lock = threading.Lock()
        self.server = local_server(_VendorHandler)
        self.server.vendor = self
        self.thread = serve_in_background(self.server, "fake-vendor")
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}{STAGE}"

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def totals(self):
        out = Counter()
        for record in self.records.values():
            out[record["dimension"]] += record["quantity"]
        return dict(out)

    def handle(self, headers, path, body):
        """(status, payload, extra headers) or None to drop the connection without a reply."""
        if self.on_request:
            self.on_request()
        with self.lock:
            mode = self.script.popleft() if self.script else self.mode
        entry = {"mode": mode, "bytes": len(body), "records": None, "status": None}
        self.requests.append(entry)
        if mode == "503":
            entry["status"] = 503
            return 503, _error("ServiceUnavailable", "try later"), {}
        if mode == "429":
            entry["status"] = 429
            return 429, _error("Throttled", "slow down"), {"Retry-After": self.retry_after}
        status, payload = self._usage(headers, path, body, entry)
        entry["status"] = status
        return None if mode == "drop" and status == 200 else (status, payload, {})

    def _authenticate(self, headers, parts, body):
        """The vendor's VS1 checks of the usage route, in its order; None when they pass."""
        try:
            access_key, signature = signing.parse_authorization(headers.get("Authorization", ""))
            date = signing.parse_date(headers.get("X-Vs-Date", ""))
        except signing.SigningError:
            return 401, _error("MissingAuthentication", "no credentials")
        nonce = headers.get("X-Vs-Nonce", "")
        if access_key != ACCESS_KEY:
            return 401, _error("InvalidAccessKey", "no such key")
        if abs((datetime.now(UTC) - date).total_seconds()) > signing.WINDOW_SECONDS:
            return 401, _error("RequestExpired", "date")
        sts = signing.string_to_sign(
            headers["X-Vs-Date"],
            nonce,
            "POST",
            "/v1/usage",  # the path after the base URL: the stage is not signed
            signing.canonical_query(parse_qsl(parts.query, keep_blank_values=True)),
            body,
        )
        if not signing.signature_matches(SECRET_KEY, sts, signature):
            return 401, _error("SignatureDoesNotMatch", "signature")
        with self.lock:
            if not signing.valid_nonce(nonce) or (access_key, nonce) in self.nonces:
                return 401, _error("ReplayDetected", "nonce")
            self.nonces.add((access_key, nonce))
        return None

    def _usage(self, headers, path, body, entry):
        parts = urlsplit(path)
        if parts.path != STAGE + "/v1/usage":
            return 404, _error("NotFound", "no such route")
        if len(body) > 64 * 1024:
            return 413, _error("PayloadTooLarge", "over 64 KiB")
        if headers.get("Content-Type") != "application/json":
            return 400, _error("ValidationError", "Content-Type")
        refused = self._authenticate(headers, parts, body)
        if refused is not None:
            return refused
        try:
            data = json.loads(body)
            records = data["records"]
            assert set(data) == {"records"} and isinstance(records, list) and 1 <= len(records) <= 500
            for r in records:
                assert set(r) == {"id", "dimension", "quantity", "timestamp"}
                assert isinstance(r["id"], str) and 1 <= len(r["id"]) <= 64
        except (ValueError, KeyError, TypeError, AssertionError):
            return 400, _error("ValidationError", "records")
        entry["records"] = len(records)
        now = datetime.now(UTC)
        accepted, duplicates, rejected = 0, 0, []
        with self.lock:
            for r in records:
                reason = self._reject_reason(r, now)
                if reason:
                    rejected.append({"id": r["id"], "code": reason, "message": f"{reason} record"})
                elif r["id"] in self.records:
                    duplicates += 1
                else:
                    self.records[r["id"]] = r
                    accepted += 1
        return 200, {"accepted": accepted, "duplicates": duplicates, "rejected": rejected}

    def _reject_reason(self, record, now):
        if record["dimension"] not in self.dimensions:
            return "UnknownDimension"
        if type(record["quantity"]) is not int or record["quantity"] < 0:
            return "InvalidQuantity"
        try:
            ts = datetime.strptime(record["timestamp"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        except (TypeError, ValueError):
            return "InvalidTimestamp"
        if ts.minute or ts.second:
            return "InvalidTimestamp"  # the hour the usage happened
        if ts < now - self.window:
            return "TooOld"
        if ts > now + timedelta(minutes=5):
            return "InTheFuture"
        return None


def _error(code, message):
    return {"error": {"code": code, "message": message}}


class _VendorHandler(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 (http.server's name)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        answer = self.server.vendor.handle(self.headers, self.path, body)
        if answer is None:  # counted, then the connection drops: the reply is lost
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        status, payload, extra = answer
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in extra.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass
