"""A customer stack's solution API on 127.0.0.1, under API Gateway's IAM authorization.

A method with `AuthorizationType: AWS_IAM` admits only requests signed with Signature Version 4
for the service `execute-api` by credentials the account knows; the sandbox recomputes the
signature with botocore's own signer over the headers the request says it signed, and answers as
API Gateway does otherwise, with `403` and its bodies: no signature → `{"message": "Missing
Authentication Token"}`, an access key the account does not know → `"The security token included
in the request is invalid."`, a wrong signature → `"The request signature we calculated does not
match the signature you provided. …"`, a date more than 5 minutes off → `"Signature expired: …"`.
AWS docs: "Control access to a REST API with IAM permissions" and the AWS re:Post knowledge-center
article "How do I troubleshoot signature mismatch errors when making SigV4 signed requests with
IAM authentication to API Gateway?" (https://repost.aws/knowledge-center/api-gateway-iam-sigv4-mismatch);
"Elements of an AWS API request signature" (the 5-minute window).
"""

from __future__ import annotations

import hmac
import json
import re
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import IO, Any
from urllib.parse import parse_qsl, urlsplit

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest, HTTPHeaders
from botocore.credentials import Credentials

from sandbox.gateway import ApiGateway, GatewayResponse, HttpRequest

MAX_BODY = 10 * 1024 * 1024
SIGNATURE_WINDOW = timedelta(minutes=5)
_AUTH = re.compile(
    r"^AWS4-HMAC-SHA256\s+Credential=(?P<key>[^/,\s]+)/(?P<date>\d{8})/(?P<region>[^/]+)/(?P<service>[^/]+)"
    r"/aws4_request,\s*SignedHeaders=(?P<signed>[a-z0-9;-]+),\s*Signature=(?P<signature>[0-9a-f]{64})$"
)
MISMATCH = (
    "The request signature we calculated does not match the signature you provided. Check your AWS "
    "Secret Access Key and signing method. Consult the service documentation for details."
)


def _forbidden(message: str) -> GatewayResponse:
    return GatewayResponse(
        403, json.dumps({"message": message}), {"x-amzn-ErrorType": "IncompleteSignatureException"}
    )


class _Signer(SigV4Auth):
    """botocore's SigV4 signer over exactly the headers the request names as signed."""

    def __init__(self, credentials: Credentials, region: str, signed: list[str]) -> None:
        super().__init__(credentials, "execute-api", region)
        self._signed = signed

    def headers_to_sign(self, request: AWSRequest) -> Any:
        out = HTTPHeaders()
        for name in self._signed:
            values = request.headers.get_all(name) or []
            if name == "host" and not values:
                values = [urlsplit(request.url).netloc]  # what an HTTP/1.1 client sends as Host
            for value in values:
                out.add_header(name, value)
        return out


def verify_sigv4(
    method: str,
    url: str,
    headers: dict[str, str],
    body: bytes,
    secret_for: Callable[[str], str | None],
    region: str,
    now: datetime | None = None,
) -> str | None:
    """None when the request is correctly signed by known credentials, else API Gateway's message."""
    lower = {k.lower(): v for k, v in headers.items()}
    auth = lower.get("authorization")
    if not auth:
        return "Missing Authentication Token"
    match = _AUTH.match(auth.strip())
    amz_date = lower.get("x-amz-date", "")
    if match is None or not re.fullmatch(r"\d{8}T\d{6}Z", amz_date):
        return (
            "Authorization header requires 'Credential', 'Signature', 'SignedHeaders' and a valid X-Amz-Date."
        )
    secret = secret_for(match["key"])
    if secret is None:
        return "The security token included in the request is invalid."
    when = datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    now = now or datetime.now(UTC)
    if abs(now - when) > SIGNATURE_WINDOW:
        return (
            f"Signature expired: {amz_date} is now earlier than "
            f"{(now - SIGNATURE_WINDOW).strftime('%Y%m%dT%H%M%SZ')} "
            f"({now.strftime('%Y%m%dT%H%M%SZ')} - 5 min.)"
        )
    signed = match["signed"].split(";")
    if "host" not in signed or match["service"] != "execute-api" or match["date"] != amz_date[:8]:
        return MISMATCH
    request = AWSRequest(method=method, url=url, data=body, headers={k: v for k, v in headers.items()})
    request.context["timestamp"] = amz_date
    signer = _Signer(Credentials(match["key"], secret), match["region"], signed)
    canonical = signer.canonical_request(request)
    expected = signer.signature(signer.string_to_sign(request, canonical), request)
    return None if hmac.compare_digest(expected, match["signature"]) else MISMATCH


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
                f"{self.url.rstrip('/').rsplit('/', 1)[0]}{raw_path}",
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
                data = response.body.encode("utf-8")
                self.send_response(response.status)
                for name, value in {"Content-Type": "application/json", **response.headers}.items():
                    if name.lower() not in {"content-length", "connection"}:
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if data and self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_POST = do_DELETE = do_PUT = do_PATCH = do_HEAD = do_OPTIONS = _serve

        self._http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._http.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._http.server_address[1]}/{self.stage}/"
        threading.Thread(target=self._http.serve_forever, name="solution-api", daemon=True).start()
        return self.url

    def stop(self) -> None:
        if self._http:
            self._http.shutdown()
            self._http.server_close()
            self._http = None
