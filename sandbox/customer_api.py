"""A customer stack's solution API on 127.0.0.1, under API Gateway's IAM authorization.

A method with `AuthorizationType: AWS_IAM` admits only requests signed with Signature Version 4
for the service `execute-api` by credentials the account knows; `sandbox/sigv4.py` verifies them
and gives API Gateway's `403` messages (no signature → "Missing Authentication Token", an access
key the account does not know → "The security token included in the request is invalid.", a
wrong signature → "The request signature we calculated does not match …", a date more than 5
minutes off → "Signature expired: …"). AWS docs: "Control access to a REST API with IAM
permissions".
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import IO, Any
from urllib.parse import parse_qsl, urlsplit

from sandbox import sigv4
from sandbox.gateway import ApiGateway, GatewayResponse, HttpRequest, write_response
from sandbox.local_http import local_server, serve_in_background

MAX_BODY = 10 * 1024 * 1024
MISMATCH = sigv4.MISMATCH[1]


def _forbidden(message: str) -> GatewayResponse:
    return GatewayResponse(
        403, json.dumps({"message": message}), {"x-amzn-ErrorType": "IncompleteSignatureException"}
    )


def verify_sigv4(
    method: str,
    raw_path: str,
    headers: dict[str, str],
    body: bytes,
    secret_for: Callable[[str], str | None],
    region: str,
    now: datetime | None = None,
) -> str | None:
    """None when the request (its path and query as sent) is correctly signed by known
    credentials, else API Gateway's message (`sandbox/sigv4.py`)."""
    parts = urlsplit(raw_path)
    try:
        sigv4.verify(
            method=method,
            path=parts.path,
            query=parse_qsl(parts.query, keep_blank_values=True),
            headers=headers,
            body=body,
            secret_for=secret_for,
            region=region,
            now=now,
        )
    except sigv4.SignatureRefused as refused:
        return refused.kind[1]
    return None


class SolutionApi:
    """Serves one stack's RestApi at `http://127.0.0.1:<port>/<stage>/`."""

    def __init__(
        self,
        gateway: ApiGateway,
        stage: str,
        iam_authorization: Callable[[], bool],
        secret_for: Callable[[str], str | None],
        region: str,
        log: IO[str],
    ) -> None:
        self.gateway = gateway
        self.stage = stage
        self._iam = iam_authorization
        self._secret_for = secret_for
        self._region = region
        self._log = log
        self._http: ThreadingHTTPServer | None = None
        self.url = ""

    def handle(
        self, method: str, raw_path: str, headers: dict[str, str], body: bytes, source_ip: str
    ) -> GatewayResponse:
        parts = urlsplit(raw_path)
        prefix = f"/{self.stage}"
        if not (parts.path == prefix or parts.path.startswith(prefix + "/")):
            return _forbidden("Missing Authentication Token")
        if self._iam():
            problem = verify_sigv4(
                method,
                raw_path,
                headers,
                body,
                self._secret_for,
                self._region,
            )
            if problem is not None:
                return _forbidden(problem)
        path = parts.path[len(prefix) :] or "/"
        return self.gateway.handle(
            HttpRequest(
                method, path, parse_qsl(parts.query, keep_blank_values=True), headers, body, source_ip
            )
        )

    def start(self) -> str:
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, fmt: str, *args: Any) -> None:
                status = args[1] if len(args) > 1 else ""
                api._log.write(f"solution-api: {self.command} {urlsplit(self.path).path} -> {status}\n")

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length > MAX_BODY:
                    response = GatewayResponse(413, json.dumps({"message": "Request Too Long"}), {})
                else:
                    body = self.rfile.read(length) if length else b""
                    try:
                        response = api.handle(
                            self.command, self.path, dict(self.headers.items()), body, self.client_address[0]
                        )
                    except Exception as exc:  # the emulator failed: say so, keep serving
                        api._log.write(f"solution-api: error {type(exc).__name__}: {exc}\n")
                        response = GatewayResponse(500, json.dumps({"message": "Internal server error"}), {})
                write_response(self, response)

            do_GET = do_POST = do_DELETE = do_PUT = do_PATCH = do_HEAD = do_OPTIONS = _serve

        self._http = local_server(Handler)
        self.url = f"http://127.0.0.1:{self._http.server_address[1]}/{self.stage}/"
        serve_in_background(self._http, "solution-api")
        return self.url

    def stop(self) -> None:
        if self._http:
            self._http.shutdown()
            self._http.server_close()
            self._http = None
