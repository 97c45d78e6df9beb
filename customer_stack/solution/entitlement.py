"""The entitlement check in front of the solution: a decorator for Lambda handlers, and the
Lambda REQUEST authorizer used when the buyer turns IAM authorization off.

Shipped at the root of every solution artifact as `entitlement.py`, beside `license_token.py`:

    from entitlement import entitled

    @entitled()                    # the route's entitlement from `license_tokens.routes`
    def handler(event, context): ...

    @entitled("analysis")          # or one entitlement, for a function with no route
    def worker(event, context): ...

A call passes (the handler runs) only when the process's current license token grants the
entitlement its route needs; otherwise the decorator answers for the handler: `401
LicenseUnavailable` when no valid token can be had, `402` when the subscription or the
entitlement is missing (docs/protocol.md §4.3). A route not listed in `license_tokens.routes`
still needs a valid token (any entitlement).

The settings come from the function's environment, which the customer template sets:
`VS_LICENSE_URL` (the vendor API), `VS_LICENSE_PUBLIC_KEY` (`VendorPublicKey`),
`VS_LICENSE_SECRET_ARN` (the key pair's secret), `VS_LICENSE_GRACE_SECONDS`,
`VS_LICENSE_REFRESH_SECONDS` and `VS_LICENSE_ROUTES` (JSON `{"METHOD /path": "entitlement"}`).
A missing or malformed setting fails closed (401).
"""

from __future__ import annotations

import functools
import json
import os
import re
import threading
from collections.abc import Callable, Mapping
from typing import Any

try:  # in the artifact, the modules sit side by side at the zip's root
    from license_token import (
        LicenseTokenClient,
        LicenseUnavailable,
        Verifier,
        error_response,
        require_entitlement,
    )
    from license_transport import signed_fetch
except ImportError:  # in the repository (tests)
    from customer_stack.solution.license_token import (
        LicenseTokenClient,
        LicenseUnavailable,
        Verifier,
        error_response,
        require_entitlement,
    )
    from customer_stack.solution.license_transport import signed_fetch

_client: LicenseTokenClient | None = None
_client_lock = threading.Lock()


class NotConfigured(LicenseUnavailable):
    def __init__(self, what: str) -> None:
        super().__init__(401, "LicenseUnavailable", f"The license check is not configured: {what}.")


def client_from_env(env: Mapping[str, str]) -> LicenseTokenClient:
    """A client built from the template's settings (raises `NotConfigured`)."""
    missing = [
        name
        for name in ("VS_LICENSE_URL", "VS_LICENSE_PUBLIC_KEY", "VS_LICENSE_SECRET_ARN")
        if not env.get(name)
    ]
    if missing:
        raise NotConfigured(f"{', '.join(missing)} not set")
    try:
        verifier = Verifier(env["VS_LICENSE_PUBLIC_KEY"])
        grace = int(env.get("VS_LICENSE_GRACE_SECONDS", "86400"))
        ahead = int(env.get("VS_LICENSE_REFRESH_SECONDS", "600"))
    except ValueError as exc:
        raise NotConfigured(str(exc)) from None
    fetch = signed_fetch(env["VS_LICENSE_URL"], env["VS_LICENSE_SECRET_ARN"])
    return LicenseTokenClient(verifier, fetch, offline_grace=grace, refresh_ahead=ahead)


def current_client() -> LicenseTokenClient:
    """The process's one client (so single flight holds across every handler of the process)."""
    global _client
    if _client is None:
        with _client_lock:
            if _client is None:
                _client = client_from_env(os.environ)
    return _client


def set_client(client: LicenseTokenClient | None) -> None:
    """Use `client` for this process (tests, or a vendor's own transport); None resets."""
    global _client
    with _client_lock:
        _client = client


def routes_from_env(env: Mapping[str, str]) -> dict[str, str]:
    raw = env.get("VS_LICENSE_ROUTES") or "{}"
    try:
        routes = json.loads(raw)
    except ValueError:
        raise NotConfigured("VS_LICENSE_ROUTES is not JSON") from None
    if not isinstance(routes, dict) or not all(isinstance(v, str) for v in routes.values()):
        raise NotConfigured("VS_LICENSE_ROUTES is not a map of route to entitlement")
    return routes


def route_of(event: Mapping[str, Any]) -> str:
    """`METHOD /path` of an API Gateway REST event (proxy or REQUEST authorizer), no trailing '/'."""
    method = str(event.get("httpMethod") or "")
    path = str(event.get("path") or "/").rstrip("/") or "/"
    return f"{method} {path}"


def _template(path: str) -> re.Pattern[str]:
    """A route's path as a pattern: `{name}` is one segment, `{name+}` (greedy) the rest."""
    parts = []
    for segment in path.strip("/").split("/"):
        if segment.startswith("{") and segment.endswith("+}"):
            parts.append(".+")
        elif segment.startswith("{") and segment.endswith("}"):
            parts.append("[^/]+")
        else:
            parts.append(re.escape(segment))
    return re.compile("/" + "/".join(parts) if parts != [""] else "/")


def needed(routes: Mapping[str, str], event: Mapping[str, Any]) -> str | None:
    """The entitlement `routes` names for this call. API Gateway's `resource` (the resource's
    path template, `/items/{id}`, in proxy and REQUEST authorizer events alike; AWS docs: "Input
    to an API Gateway Lambda authorizer" and "Set up Lambda proxy integrations") is matched
    first, so a route with path parameters is found; then the path itself; then, for an event
    without `resource`, the path against each route's template."""
    method, path = route_of(event).split(" ", 1)
    resource = str(event.get("resource") or "").rstrip("/") or None
    for candidate in (resource, path):
        if candidate is not None:
            found = routes.get(f"{method} {candidate}") or routes.get(f"ANY {candidate}")
            if found is not None:
                return found
    if resource is None:
        for route, entitlement in routes.items():
            route_method, _, route_path = route.partition(" ")
            if (
                route_method in (method, "ANY")
                and "{" in route_path
                and _template(route_path).fullmatch(path)
            ):
                return entitlement
    return None


def check(
    event: Mapping[str, Any], entitlement: str | None = None, *, routes: Mapping[str, str] | None = None
) -> dict:
    """The current token's claims if it grants this call; raises `LicenseUnavailable`."""
    if entitlement is None:
        entitlement = needed(routes_from_env(os.environ) if routes is None else routes, event)
    claims = current_client().claims()
    require_entitlement(claims, entitlement)
    return claims


def entitled(entitlement: str | None = None) -> Callable[[Callable], Callable]:
    """Decorate a Lambda handler: it runs only when the license token grants the call."""

    def wrap(handler: Callable) -> Callable:
        @functools.wraps(handler)
        def checked(event: Any, context: Any = None) -> Any:
            try:
                check(event if isinstance(event, dict) else {}, entitlement)
            except LicenseUnavailable as refused:
                print(
                    json.dumps(
                        {
                            "level": "WARNING",
                            "message": "call refused by the license check",
                            "status": refused.status,
                            "code": refused.code,
                        }
                    )
                )
                return error_response(refused)
            return handler(event, context)

        return checked

    return wrap


def authorizer(event: dict, context: Any = None) -> dict:
    """Lambda REQUEST authorizer (used when `ApiAuthorization=NONE`): the same check, as an IAM
    policy for this method. A 402 is a Deny carrying its code and message in the authorizer
    context, which the API's ACCESS_DENIED gateway response turns into a 402 in the error shape;
    a 401 (no token can be had) raises `Unauthorized`, API Gateway's 401.

    AWS docs: "Use API Gateway Lambda authorizers" and "Output from an API Gateway Lambda
    authorizer" (the policy and `context`, whose values must be strings, numbers or booleans),
    and "Gateway response types for API Gateway" (ACCESS_DENIED, default 403, is what a Deny
    policy produces; its status code may be set to another).
    """
    try:
        claims = check(event)
        effect, extra = "Allow", {"entitlements": ",".join(claims.get("entitlements", []))[:1000]}
    except LicenseUnavailable as refused:
        print(
            json.dumps(
                {
                    "level": "WARNING",
                    "message": "call refused by the license authorizer",
                    "status": refused.status,
                    "code": refused.code,
                }
            )
        )
        if refused.status == 401:
            # API Gateway's UNAUTHORIZED response (401); its body is fixed by the template.
            raise Exception("Unauthorized") from None  # noqa: TRY002 - the exact text API Gateway expects
        effect = "Deny"
        extra = {"status": refused.status, "code": refused.code, "message": refused.message[:500]}
    return {
        "principalId": "license",
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {"Action": "execute-api:Invoke", "Effect": effect, "Resource": event.get("methodArn", "")}
            ],
        },
        "context": extra,
    }
