"""How the solution asks the vendor for a license token: a signed `POST /v1/license-token`
(docs/protocol.md §4.3) with the stack's key pair, read once from Secrets Manager.

Standard library plus boto3 (which the Lambda Python runtime ships) and the one signing module
(`signing.py`, shipped beside this file). No retries here: the token client decides when to
ask again (single flight, jittered retry, offline grace), so one call is one attempt with a
short timeout. A redirect is refused (a signed request is never replayed elsewhere), and plain
http is accepted only for a loopback address (the local sandbox).
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import Any

try:  # in the artifact, the modules sit side by side at the zip's root
    import signing  # type: ignore[import-not-found]
    from license_token import Fetched, Unreachable
except ImportError:  # in the repository (tests)
    from customer_stack.solution.license_token import Fetched, Unreachable
    from shared import signing

PATH = "/v1/license-token"
TIMEOUT_SECONDS = 5
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: ANN001, ANN201
        return None


_OPENER = urllib.request.build_opener(_NoRedirect())


def checked_url(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    if not parts.hostname or parts.query or parts.fragment:
        raise ValueError("the vendor URL must be a base URL such as https://api.example.com/prod")
    if parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in _LOOPBACK):
        return url.rstrip("/")
    raise ValueError("the vendor URL must be https")


def _secretsmanager() -> Any:
    import boto3  # the Lambda runtime's; imported on first use only

    return boto3.client("secretsmanager")


def signed_fetch(
    url: str,
    secret_arn: str,
    *,
    secrets: Callable[[], Any] = _secretsmanager,
    open_url: Callable[..., Any] | None = None,
) -> Callable[[], Fetched]:
    """A fetch function for `LicenseTokenClient`: raises `Unreachable` when the vendor cannot be
    asked (including the secret being unreadable), else returns the status and JSON body."""
    base = checked_url(url)
    credentials: dict[str, str] = {}
    lock = threading.Lock()

    def key_pair() -> tuple[str, str]:
        with lock:
            if not credentials:
                try:
                    value = json.loads(secrets().get_secret_value(SecretId=secret_arn)["SecretString"])
                    credentials.update(access_key=value["access_key"], secret_key=value["secret_key"])
                except Exception as exc:  # noqa: BLE001 - any failure: cannot ask now, try later
                    raise Unreachable(f"the key pair cannot be read ({type(exc).__name__})") from None
            return credentials["access_key"], credentials["secret_key"]

    def fetch() -> Fetched:
        access_key, secret_key = key_pair()
        body = b"{}"
        headers = signing.sign_request(access_key, secret_key, "POST", PATH, [], body)
        request = urllib.request.Request(  # noqa: S310 - checked_url: https, or http to loopback
            base + PATH,
            data=body,
            method="POST",
            headers={**headers, "Content-Type": "application/json"},
        )
        try:
            with (open_url or _OPENER.open)(request, timeout=TIMEOUT_SECONDS) as response:
                return Fetched(response.status, _json(response.read()))
        except urllib.error.HTTPError as error:
            return Fetched(error.code, _json(error.read()))
        except (OSError, ValueError) as exc:
            raise Unreachable(f"the vendor cannot be reached ({type(exc).__name__})") from None

    return fetch


def _json(data: bytes) -> dict:
    try:
        document = json.loads(data or b"{}")
    except ValueError:
        return {}
    return document if isinstance(document, dict) else {}
