"""The developer page in the sandbox: its files served with the headers CloudFront would add, and
the user pool's public JSON API as the page calls it.

The page is served from its own origin (`http://127.0.0.1:<port>`), as CloudFront serves it from
its own, so the browser applies CORS and the Content-Security-Policy exactly as on AWS. The
headers come from `web/security-headers.json`, the file the CloudFront construct reads.

The user pool's endpoint is `{api_url}/_sandbox/cognito-idp/`, a front for moto's cognito-idp
that is as strict as Cognito where moto is not: ConfirmSignUp needs the code "emailed" at
SignUp (moto accepts any code; the sandbox shows the code at `POST /_sandbox/users/confirmation-code`),
InitiateAuth needs the flow enabled on the app client (`ALLOW_USER_PASSWORD_AUTH`), and an unknown
user gets the same answer as a wrong password (the client prevents user-existence errors).
"""

from __future__ import annotations

import json
import secrets
import threading
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

from botocore.exceptions import ClientError, ParamValidationError

from sandbox.local_http import local_server, serve_in_background

WEB_DIR = Path(__file__).resolve().parent.parent / "web"
HEADERS_FILE = WEB_DIR / "security-headers.json"
FILES = {
    "/index.html": "text/html; charset=utf-8",
    "/app.js": "text/javascript",
    "/style.css": "text/css",
    "/favicon.svg": "image/svg+xml",
}
COGNITO_PATH = "/_sandbox/cognito-idp/"
TARGET_PREFIX = "AWSCognitoIdentityProviderService."


def page_headers(api_origin: str, user_pool_origin: str) -> dict[str, str]:
    """`web/security-headers.json` with the origins filled in, as the CloudFront construct does."""
    headers = json.loads(HEADERS_FILE.read_text())
    headers["Content-Security-Policy"] = (
        headers["Content-Security-Policy"]
        .replace("{api_origin}", api_origin)
        .replace("{user_pool_origin}", user_pool_origin)
    )
    return headers


class DeveloperPageServer:
    """Static files, `config.json` and the security headers on a free port of 127.0.0.1."""

    def __init__(self, log: IO[str], web_dir: Path = WEB_DIR) -> None:
        self._log = log
        self._web_dir = web_dir
        self._config: bytes | None = None
        self._headers: dict[str, str] = {}
        page = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, fmt: str, *args: Any) -> None:
                page._log.write(f"page: {self.command} {urlsplit(self.path).path}\n")

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                path = urlsplit(self.path).path
                path = "/index.html" if path == "/" else path
                if page._config is None:
                    self._send(503, "text/plain", b"the sandbox is starting")
                elif path == "/config.json":
                    self._send(200, "application/json", page._config)
                elif path in FILES:
                    self._send(200, FILES[path], (page._web_dir / path.lstrip("/")).read_bytes())
                else:
                    self._send(404, "text/plain", b"not found")

            do_HEAD = do_GET  # noqa: N815

            def _send(self, status: int, content_type: str, body: bytes) -> None:
                self.send_response(status)
                for name, value in {**page._headers, "Content-Type": content_type}.items():
                    self.send_header(name, value)
                self.send_header("Cache-Control", "no-cache")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

        self._http = local_server(Handler)
        self.host = f"127.0.0.1:{self._http.server_address[1]}"
        self.url = f"http://{self.host}/"
        self.origin = f"http://{self.host}"

    def start(self) -> None:
        serve_in_background(self._http, "sandbox-page")

    def configure(self, config: dict[str, str], api_origin: str) -> None:
        """What `BucketDeployment` and the response headers policy do on AWS."""
        self._headers = page_headers(api_origin, api_origin)
        self._config = json.dumps(config).encode("utf-8")

    def stop(self) -> None:
        self._http.shutdown()
        self._http.server_close()


class UserPoolFront:
    """The cognito-idp JSON API operations the page uses, in front of moto (see the module doc)."""

    OPERATIONS = {
        "SignUp": "sign_up",
        "ConfirmSignUp": "confirm_sign_up",
        "ResendConfirmationCode": "resend_confirmation_code",
        "InitiateAuth": "initiate_auth",
        "GlobalSignOut": "global_sign_out",
    }

    def __init__(self, cognito: Any, user_pool_id: str, allowed_origin: str) -> None:
        self._cognito = cognito
        self._pool = user_pool_id
        self.allowed_origin = allowed_origin
        self._codes: dict[str, str] = {}
        self._lock = threading.Lock()

    def cors_headers(self, origin: str | None) -> dict[str, str]:
        if origin != self.allowed_origin:
            return {}
        return {
            "Access-Control-Allow-Origin": origin,
            "Access-Control-Allow-Methods": "POST",
            "Access-Control-Allow-Headers": "Content-Type,X-Amz-Target,X-Amz-User-Agent",
            "Vary": "Origin",
        }

    def code_for(self, email: str) -> str | None:
        with self._lock:
            return self._codes.get(email.strip().lower())

    def _issue_code(self, username: str) -> None:
        with self._lock:
            self._codes[username.strip().lower()] = f"{secrets.randbelow(10**6):06d}"

    def handle(self, target: str, body: bytes) -> tuple[int, dict]:
        """(status, JSON document) as Cognito answers: errors are `{"__type", "message"}`."""
        operation = target.removeprefix(TARGET_PREFIX) if target.startswith(TARGET_PREFIX) else ""
        if operation not in self.OPERATIONS:
            return 400, _fault(
                "UnknownOperationException", "The sandbox's user pool does not offer this operation."
            )
        try:
            request = json.loads(body or b"{}")
            if not isinstance(request, dict):
                raise ValueError
        except ValueError:
            return 400, _fault("SerializationException", "The request body is not a JSON object.")
        try:
            return 200, getattr(self, f"_{self.OPERATIONS[operation]}")(request)
        except ClientError as exc:
            error = exc.response["Error"]
            return 400, _fault(error["Code"], error.get("Message", error["Code"]))
        except (TypeError, KeyError, ParamValidationError) as exc:  # missing or malformed parameters
            return 400, _fault("InvalidParameterException", f"Invalid request: {exc}")

    def _call(self, method: str, request: dict) -> dict:
        result = getattr(self._cognito, method)(**request)
        return {k: v for k, v in result.items() if k != "ResponseMetadata"}

    def _sign_up(self, request: dict) -> dict:
        result = self._call("sign_up", request)
        self._issue_code(request["Username"])
        return result

    def _resend_confirmation_code(self, request: dict) -> dict:
        self._cognito.admin_get_user(UserPoolId=self._pool, Username=request["Username"])
        self._issue_code(request["Username"])
        return {"CodeDeliveryDetails": {"DeliveryMedium": "EMAIL", "AttributeName": "email"}}

    def _confirm_sign_up(self, request: dict) -> dict:
        expected = self.code_for(request["Username"])
        if expected is None or not secrets.compare_digest(expected, str(request["ConfirmationCode"])):
            return _raise("CodeMismatchException", "Invalid verification code provided, please try again.")
        self._call("confirm_sign_up", request)
        # Confirming by the emailed code also verifies the email (AutoVerifiedAttributes: email).
        self._cognito.admin_update_user_attributes(
            UserPoolId=self._pool,
            Username=request["Username"],
            UserAttributes=[{"Name": "email_verified", "Value": "true"}],
        )
        with self._lock:
            self._codes.pop(request["Username"].strip().lower(), None)
        return {}

    def _initiate_auth(self, request: dict) -> dict:
        flow = request.get("AuthFlow")
        client = self._cognito.describe_user_pool_client(UserPoolId=self._pool, ClientId=request["ClientId"])
        allowed = client["UserPoolClient"].get("ExplicitAuthFlows", [])
        if f"ALLOW_{flow}" not in allowed:
            return _raise("InvalidParameterException", f"{flow} flow not enabled for this client")
        try:
            return self._call("initiate_auth", request)
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "UserNotFoundException":
                return _raise("NotAuthorizedException", "Incorrect username or password.")
            raise

    def _global_sign_out(self, request: dict) -> dict:
        return self._call("global_sign_out", request)


def _fault(code: str, message: str) -> dict:
    return {"__type": code, "message": message}


def _raise(code: str, message: str) -> dict:
    raise ClientError({"Error": {"Code": code, "Message": message}}, code)
