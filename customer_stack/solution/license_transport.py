"""How the solution asks the vendor for a license token: a signed `POST /v1/license-token`
(docs/protocol.md §4.3) with the stack's key pair, read once from Secrets Manager.

It goes through the customer side's one vendor client (`vendor_client.py`, shipped beside this
file with `signing.py`): VS1 signing per attempt, no redirects, errors without secrets, https
(plain http only to a loopback address: the local sandbox). One attempt per fetch, with a short
timeout: the token client decides when to ask again (single flight, jittered retry, offline
grace), so a slow vendor never holds a request for long.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

try:  # in the artifact, the modules sit side by side at the zip's root
    from license_token import Fetched, Unreachable
    from vendor_client import RetryPolicy, VendorClient, VendorError, VendorRefused
except ImportError:  # in the repository (tests)
    from customer_stack.solution.license_token import Fetched, Unreachable
    from customer_stack.vendor_client import RetryPolicy, VendorClient, VendorError, VendorRefused

PATH = "/v1/license-token"
TIMEOUT_SECONDS = 5.0
POLICY = RetryPolicy(attempts=1, timeout_s=TIMEOUT_SECONDS)


def _secretsmanager() -> Any:
    import boto3  # the Lambda runtime's; imported on first use only

    return boto3.client("secretsmanager")


def signed_fetch(
    url: str,
    secret_arn: str,
    *,
    secrets: Callable[[], Any] = _secretsmanager,
    client_factory: Callable[[str, str, str], Any] | None = None,
) -> Callable[[], Fetched]:
    """A fetch function for `LicenseTokenClient`: raises `Unreachable` when the vendor cannot be
    asked (including the secret being unreadable), else returns the status and JSON body.
    Asking for a token changes nothing at the vendor but its audit log, so it is idempotent."""
    made: list[Any] = []
    lock = threading.Lock()

    def client() -> Any:
        with lock:
            if not made:
                try:
                    value = json.loads(secrets().get_secret_value(SecretId=secret_arn)["SecretString"])
                    access_key, secret_key = value["access_key"], value["secret_key"]
                except Exception as exc:  # noqa: BLE001 - any failure: cannot ask now, try later
                    raise Unreachable(f"the key pair cannot be read ({type(exc).__name__})") from None
                factory = client_factory or (
                    lambda base, key, secret: VendorClient(
                        base, key, secret, policy=POLICY, allow_http_loopback=True
                    )
                )
                made.append(factory(url, access_key, secret_key))
            return made[0]

    def fetch() -> Fetched:
        vendor = client()
        try:
            answer = vendor.call(
                "POST", PATH, body=b"{}", remaining=lambda: TIMEOUT_SECONDS * 2, idempotent=True
            )
        except VendorRefused as refused:
            return Fetched(
                refused.status, {"error": {"code": refused.code, "message": refused.vendor_message}}
            )
        except VendorError as exc:  # unavailable, deadline, a URL it may not call
            raise Unreachable(str(exc)) from None
        return Fetched(answer.status, answer.json if isinstance(answer.json, dict) else {})

    return fetch
