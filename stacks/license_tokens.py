"""`vendstack.license_tokens` in cdk.json: license tokens, the solution's entitlement check and
its authorizer, read once and validated at synth (a bad value names its key).

    "license_tokens": {
      "lifetime_seconds": 3600,          # a token's life (300-86400)
      "features": ["analysis"],          # entitlements every subscriber gets, beside the dimensions
      "offline_grace_seconds": 86400,    # the solution serves this long past `exp` while the
                                         # vendor is unreachable, then fails closed (0-604800)
      "refresh_ahead_seconds": 600,      # refresh this far ahead of `exp`, jittered (30-3600)
      "authorizer_cache_seconds": 300,   # API Gateway's authorizer result cache TTL (0-3600)
      "routes": {"POST /analyze": "analysis"}  # route -> the entitlement it needs
    }

Every key is optional; the defaults are those above (no features and no routes when absent).
API Gateway caches an authorizer's result for at most 3600 s (AWS docs: "Use API Gateway Lambda
authorizers", `authorizerResultTtlInSeconds`, 0-3600).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

CONTEXT_KEY = "vendstack.license_tokens"
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_ROUTE = re.compile(r"^(GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS|ANY) (/[A-Za-z0-9_{}/.+-]*)$")


class TokenConfigError(ValueError):
    """A `license_tokens` value is malformed; the message names the key."""


@dataclass(frozen=True)
class LicenseTokens:
    lifetime_seconds: int = 3600
    features: tuple[str, ...] = ()
    offline_grace_seconds: int = 86400
    refresh_ahead_seconds: int = 600
    authorizer_cache_seconds: int = 300
    routes: dict[str, str] = field(default_factory=dict)


def _int(raw: dict, name: str, default: int, low: int, high: int) -> int:
    value = raw.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise TokenConfigError(
            f"cdk.json context '{CONTEXT_KEY}.{name}' is {value!r}; "
            f"expected a whole number from {low} to {high}"
        )
    return value


def parse_license_tokens(raw: Any, dimensions: tuple[str, ...]) -> LicenseTokens:
    """Validate the block against the configured dimensions: every route names a known
    entitlement, a feature does not reuse a dimension's name, and a refresh starts inside a
    token's life."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise TokenConfigError(f"cdk.json context '{CONTEXT_KEY}' must be an object")
    known = {
        "lifetime_seconds",
        "features",
        "offline_grace_seconds",
        "refresh_ahead_seconds",
        "authorizer_cache_seconds",
        "routes",
    }
    extra = sorted(set(raw) - known)
    if extra:
        raise TokenConfigError(f"cdk.json context '{CONTEXT_KEY}' has unknown keys {extra}")
    features = raw.get("features", [])
    if not isinstance(features, list) or not all(isinstance(f, str) and _NAME.match(f) for f in features):
        raise TokenConfigError(
            f"cdk.json context '{CONTEXT_KEY}.features' must be a list of names "
            "(lowercase letters, digits and '_', starting with a letter)"
        )
    clash = sorted(set(features) & set(dimensions))
    if clash or len(set(features)) != len(features):
        raise TokenConfigError(
            f"cdk.json context '{CONTEXT_KEY}.features' repeats a name or a dimension's name: "
            f"{clash or features}"
        )
    lifetime = _int(raw, "lifetime_seconds", 3600, 300, 86400)
    refresh = _int(raw, "refresh_ahead_seconds", 600, 30, 3600)
    if refresh * 2 > lifetime:
        raise TokenConfigError(
            f"cdk.json context '{CONTEXT_KEY}.refresh_ahead_seconds' ({refresh}) must be at most half "
            f"of 'lifetime_seconds' ({lifetime}), or every call would refresh"
        )
    routes = raw.get("routes", {})
    if not isinstance(routes, dict):
        raise TokenConfigError(
            f"cdk.json context '{CONTEXT_KEY}.routes' must be an object such as "
            '{"POST /analyze": "analysis"}'
        )
    granted = set(dimensions) | set(features)
    for route, entitlement in routes.items():
        if not isinstance(route, str) or not _ROUTE.match(route):
            raise TokenConfigError(
                f"cdk.json context '{CONTEXT_KEY}.routes' has the route {route!r}; "
                'expected "METHOD /path" such as "POST /analyze"'
            )
        if entitlement not in granted:
            raise TokenConfigError(
                f"cdk.json context '{CONTEXT_KEY}.routes.{route}' is {entitlement!r}; expected a "
                f"dimension or a feature: {sorted(granted)}"
            )
    return LicenseTokens(
        lifetime_seconds=lifetime,
        features=tuple(features),
        offline_grace_seconds=_int(raw, "offline_grace_seconds", 86400, 0, 604800),
        refresh_ahead_seconds=refresh,
        authorizer_cache_seconds=_int(raw, "authorizer_cache_seconds", 300, 0, 3600),
        routes=dict(routes),
    )
