"""Helpers for the activation custom-resource tests: the inlined module, and local stand-ins.

Imported as `from tests.plugins import activation_standins as fx`; the staging benchmark's child
process loads it by path. Everything listens on 127.0.0.1 only; nothing reaches AWS.
"""

import base64
import contextlib
import copy
import hashlib
import json
import socket
import subprocess
import sys
import time
import types
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from customer_stack.activation.assemble import inline_code
from sandbox.local_http import local_server, serve_in_background
from tests.aws_fixtures import AWS_FIXTURES

REPO = Path(__file__).resolve().parents[2]
ACCOUNT_ID = "444455556666"  # the account in the StackId of the CloudFormation fixtures
ACCESS_KEY = "VSAKABCDEFGHIJKLMNOP"
SANDBOX_FLAG = "VS_ACTIVATION_SANDBOX"  # lets the function use plain http to 127.0.0.1
SECRET_KEY = "vsSK_testSECRET0123456789abcdefghijklmnopqrstuv"


def inline_source() -> str:
    """What CloudFormation writes to index.py: the modules assembled by the same function the
    construct calls (customer_stack/activation/assemble.py, standard library only)."""
    return inline_code()


def load_activation_module(name: str = "vendstack_activation_index") -> types.ModuleType:
    """Executes the inlined index.py as one module, exactly as Lambda would import it."""
    module = types.ModuleType(name)
    module.__file__ = "index.py"
    exec(compile(inline_source(), "index.py", "exec"), module.__dict__)  # noqa: S102 - our own source
    return module


# --- keys and manifests -------------------------------------------------------------------------


def new_vendor_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_key_b64(key: rsa.RSAPrivateKey) -> str:
    """What KMS GetPublicKey returns, base64: DER SubjectPublicKeyInfo."""
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode()


def canonical(manifest: dict) -> bytes:
    return json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode()


def sign_manifest(key: rsa.RSAPrivateKey, manifest: dict) -> str:
    signature = key.sign(canonical(manifest), padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(signature).decode()


# --- Lambda and CloudFormation ------------------------------------------------------------------


class FakeContext:
    """The bit of the Lambda context the handler uses: time left, counting down for real."""

    def __init__(self, remaining_s: float) -> None:
        self._end = time.monotonic() + remaining_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._end - time.monotonic()) * 1000))


def cfn_event(
    request_type: str,
    response_url: str,
    properties: dict,
    physical_id: str | None = None,
    old_properties: dict | None = None,
) -> dict:
    """A custom-resource request from the AWS fixtures, pointed at the local stand-ins. An Update's
    OldResourceProperties are `old_properties` (default: the same as the new ones)."""
    event = json.loads((AWS_FIXTURES / f"cfn-custom-resource-{request_type.lower()}.json").read_text())
    event["ResponseURL"] = response_url + "/cfn-response?X-Amz-Signature=RESPONSEURLSECRET&Expires=1"
    service_token = event["ResourceProperties"]["ServiceToken"]
    event["ResourceProperties"] = {"ServiceToken": service_token, **properties}
    if "OldResourceProperties" in event:
        old = properties if old_properties is None else old_properties
        event["OldResourceProperties"] = {"ServiceToken": service_token, **old}
    if physical_id is not None:
        event["PhysicalResourceId"] = physical_id
    return event


class _Server:
    def __init__(self, handler_class: type[BaseHTTPRequestHandler]) -> None:
        self.httpd = local_server(handler_class)
        self.thread = serve_in_background(self.httpd, f"standin-{handler_class.__name__}")

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class _QuietHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass

    def _send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        body = json.dumps(payload).encode() if payload is not None else b""
        self.send_response(status)
        if body:
            self.send_header("Content-Type", "application/json")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        try:
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up first (the timeout tests make it do so)


class ResponseRecorder(_Server):
    """Stands in for CloudFormation's presigned ResponseURL and keeps every PUT."""

    def __init__(self) -> None:
        self.responses: list[dict] = []
        recorder = self

        class Handler(_QuietHandler):
            def do_PUT(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                recorder.responses.append(
                    {"path": self.path, "headers": dict(self.headers), "raw": body, "at": time.monotonic()}
                )
                self._send_json(200, None)

        super().__init__(Handler)

    def only_response(self) -> dict:
        assert len(self.responses) == 1, f"expected one response, got {len(self.responses)}"
        return json.loads(self.responses[0]["raw"])


class FakeVendor(_Server):
    """The vendor's license API (activation routes only) and presigned artifact downloads.

    It checks the request signature with the project's own signing functions, hands out a manifest
    signed by `key`, and serves artifacts from memory. Switches let a test make it misbehave.
    """

    STAGE = "/prod"
    PRESIGN_QUERY = "X-Amz-Expires=900&X-Amz-Signature=PRESIGNEDQUERYSECRET"

    def __init__(
        self, signing: types.ModuleType, key: rsa.RSAPrivateKey, artifacts: dict[str, bytes]
    ) -> None:
        self.signing = signing
        self.key = key
        self.artifacts = artifacts
        self.served = dict(artifacts)  # what downloads return; a test may corrupt it
        self.product = "textlens"
        self.serve_version: str | None = None  # serves this release whatever was asked for
        self.manifest_account: str | None = None  # signs a manifest for another account
        self.manifest_stack: str | None = None  # signs a manifest for another stack
        self.issued_offset_s = 0  # dates the manifest this many seconds from now
        self.replay: dict | None = None  # answers every request with this earlier answer
        self.answers: list[dict] = []  # every activation answer handed out
        self.activation_error: tuple[int, dict] | None = None
        self.tamper_manifest = False
        self.download_status: int | None = None
        self.delay_s = 0.0
        self.next_ids = iter(f"act-{n:04d}" for n in range(1, 10_000))
        self.requests: list[dict] = []
        self.signature_failures = 0
        vendor = self

        class Handler(_QuietHandler):
            def do_POST(self) -> None:
                vendor._activation(self)

            def do_DELETE(self) -> None:
                vendor._activation(self)

            def do_GET(self) -> None:
                vendor._download(self)

        super().__init__(Handler)

    @property
    def api_url(self) -> str:
        return self.url + self.STAGE

    def _activation(self, request: _QuietHandler) -> None:
        body = request.rfile.read(int(request.headers.get("Content-Length") or 0))
        path = request.path.removeprefix(self.STAGE)
        self.requests.append(
            {"method": request.command, "path": path, "body": body, "headers": dict(request.headers)}
        )
        if self.delay_s:
            time.sleep(self.delay_s)
        if not self._signature_ok(request, path, body):
            self.signature_failures += 1
            request._send_json(
                401, {"error": {"code": "SignatureDoesNotMatch", "message": "signature wrong"}}
            )
            return
        if request.command == "DELETE":
            request._send_json(204, None)
            return
        if path != "/v1/activations":
            request._send_json(404, {"error": {"code": "NotFound", "message": "no such route"}})
            return
        if self.activation_error:
            request._send_json(*self.activation_error)
            return
        sent = json.loads(body)
        assert set(sent) == {"stack_id", "account_id", "region", "request_type", "version"}, sent
        if self.replay is not None:
            request._send_json(200, self.replay)
            return
        answer = self.activation(sent, request.headers["X-Vs-Nonce"])
        self.answers.append(answer)
        request._send_json(200, answer)

    def activation(self, sent: dict, nonce: str) -> dict:
        """What the real API answers (docs/protocol.md §4.1): a manifest bound to the request."""
        activation_id = next(self.next_ids)
        issued = time.gmtime(time.time() + self.issued_offset_s)
        manifest = {
            "product": self.product,
            "version": self.serve_version or sent["version"],
            "issued_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", issued),
            "activation_id": activation_id,
            "account_id": self.manifest_account or sent["account_id"],
            "stack_id": self.manifest_stack or sent["stack_id"],
            "request_nonce": nonce,
            "artifacts": [
                {"name": name, "sha256": _sha256(data), "size": len(data)}
                for name, data in self.artifacts.items()
            ],
        }
        signature = sign_manifest(self.key, manifest)
        if self.tamper_manifest:
            manifest = copy.deepcopy(manifest)
            manifest["version"] = "9.9.9"
        return {
            "activation_id": activation_id,
            "manifest": manifest,
            "manifest_signature": signature,
            "signature_algorithm": "RSASSA_PKCS1_V1_5_SHA_256",
            "downloads": {
                name: {
                    "url": f"{self.url}/_artifacts/{name}?{self.PRESIGN_QUERY}",
                    "expires_at": "2026-11-22T14:09:00Z",
                }
                for name in self.artifacts
            },
        }

    def _signature_ok(self, request: _QuietHandler, path: str, body: bytes) -> bool:
        s = self.signing
        try:
            access_key, signature = s.parse_authorization(request.headers.get("Authorization", ""))
            date, nonce = request.headers["X-Vs-Date"], request.headers["X-Vs-Nonce"]
        except (KeyError, ValueError):
            return False
        sts = s.string_to_sign(date, nonce, request.command, path, "", body)
        return access_key == ACCESS_KEY and s.signature_matches(SECRET_KEY, sts, signature)

    def _download(self, request: _QuietHandler) -> None:
        name = request.path.split("?")[0].removeprefix("/_artifacts/")
        if self.download_status:
            request._send_json(self.download_status, None)
            return
        data = memoryview(self.served[name])
        request.send_response(200)
        request.send_header("Content-Type", "application/zip")
        request.send_header("Content-Length", str(len(data)))
        request.end_headers()
        for start in range(0, len(data), 64 * 1024):
            request.wfile.write(data[start : start + 64 * 1024])


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- moto ---------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def moto_subprocess() -> Iterator[str]:
    """moto in server mode in its own process, for tests that measure this process's memory
    (the threaded server keeps uploaded parts in this process's heap, which tracemalloc counts)."""
    port = free_port()
    proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module, fixed arguments
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("moto server did not start") from None
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)
