"""The product's configuration, read once from `cdk.json` context and validated.

A bad value fails the synth with a message that names the key and the expected form, so a
vendor engineer finds the typo before CloudFormation does.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from customer_stack.solution.config import ConfigError as SolutionConfigError
from customer_stack.solution.config import SolutionFunction, parse_solution
from stacks.license_tokens import LicenseTokens, TokenConfigError, parse_license_tokens

CONTEXT_KEY = "vendstack"
ROOT = Path(__file__).resolve().parents[1]  # the folder of cdk.json: solution paths are relative to it
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_PRODUCT = re.compile(r"^[a-z][a-z0-9-]{1,39}$")
_SEMVER = re.compile(r"^\d+\.\d+\.\d+$")
_PRODUCT_CODE = re.compile(r"^[a-z0-9]{1,64}$")
_PRODUCT_ID = re.compile(r"^prod-[a-z0-9]{1,64}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_URL = re.compile(r"^https?://[^\s]+$")
# AWS Marketplace pricing models (AWS docs: "SaaS product pricing" in the AWS Marketplace Seller
# Guide): usage-based, contract, and contract with pay-as-you-go (consumption) pricing.
PRICING_MODELS = ("usage", "contract", "contract_with_usage")
CONTRACT_PRICING = frozenset({"contract", "contract_with_usage"})
# Hosts that only exist on the developer's own machine.
_LOCAL_HOSTS = re.compile(r"^(localhost|127(\.\d{1,3}){3}|0\.0\.0\.0|::1)$", re.IGNORECASE)


class ConfigError(ValueError):
    """A configuration value is missing or malformed; the message names the key."""


# Billing inside AWS Marketplace's window. AWS docs: "BatchMeterUsage" (AWS Marketplace Metering
# Service API reference, https://docs.aws.amazon.com/marketplace/latest/APIReference/
# API_marketplace-metering_BatchMeterUsage.html): "Usage records aren't accepted 6 hours or more
# after an event". A newer model text says 24 h; the strict reading is the one designed for.
# These minutes mirror the runtime (`metering.logic.plan` SETTLE and SAFETY, the job's Lambda
# timeout in `constructs/metering.py`); a unit test keeps them equal.
MARKETPLACE_WINDOW_MINUTES = 6 * 60
HOUR_MINUTES = 60  # an hourly aggregate takes records timestamped anywhere in its hour
SETTLE_MINUTES = 1  # plan.SETTLE: ingestion's in-flight writes land before an hour is sealed
METERING_JOB_TIMEOUT_MINUTES = 15  # the metering function's timeout (900 s): one run's length
SAFETY_MINUTES = 10  # plan.SAFETY: never send this close to the end of Marketplace's window
REPORTER_PERIOD_MINUTES = 60  # the customer's reporter runs hourly (constructs/usage_reporting.py)


def metering_deadline_minutes(usage_window_hours: int, schedule_minutes: int) -> int:
    """Worst case, in minutes after an hour's start, by which its usage reaches BatchMeterUsage.

    The hour takes records until its end + the acceptance window; the job seals it SETTLE later,
    the next scheduled run comes at most one period after that and finishes within its timeout.
    """
    return (
        HOUR_MINUTES
        + usage_window_hours * 60
        + SETTLE_MINUTES
        + schedule_minutes
        + METERING_JOB_TIMEOUT_MINUTES
    )


def check_metering_window(usage_window_hours: int, schedule_minutes: int) -> None:
    """Refuse a window/schedule that cannot bill every hour inside Marketplace's 6 h, or that
    leaves the customer's hourly reporter no chance to deliver an hour's usage."""
    keys = (
        f"'{CONTEXT_KEY}.metering.usage_window_hours' ({usage_window_hours} h) and "
        f"'{CONTEXT_KEY}.metering.schedule_minutes' ({schedule_minutes} min)"
    )
    deadline = metering_deadline_minutes(usage_window_hours, schedule_minutes)
    limit = MARKETPLACE_WINDOW_MINUTES - SAFETY_MINUTES
    if deadline > limit:
        raise ConfigError(
            f"cdk.json context {keys} cannot bill inside AWS Marketplace's window: an hour's usage "
            f"reaches BatchMeterUsage up to {HOUR_MINUTES} (the hour) + {usage_window_hours * 60} "
            f"(window) + {SETTLE_MINUTES} (settle) + {schedule_minutes} (schedule) + "
            f"{METERING_JOB_TIMEOUT_MINUTES} (job run) = {deadline} min after the hour starts, but "
            f"BatchMeterUsage refuses records {MARKETPLACE_WINDOW_MINUTES} min after the usage "
            f"(less a {SAFETY_MINUTES} min margin: {limit} min); lower either value"
        )
    earliest = HOUR_MINUTES + REPORTER_PERIOD_MINUTES
    if usage_window_hours * 60 < earliest:
        raise ConfigError(
            f"cdk.json context {keys}: the customer's reporter sends an hour's usage up to "
            f"{HOUR_MINUTES} (the hour) + {REPORTER_PERIOD_MINUTES} (hourly reporter) = {earliest} min "
            f"after the hour starts, later than the {usage_window_hours * 60} min window accepts; "
            "raise 'usage_window_hours' to at least 2"
        )


@dataclass(frozen=True)
class DimensionConfig:
    name: str
    unit: str
    description: str
    price_per_unit: Decimal


@dataclass(frozen=True)
class RouteThrottle:
    """A stage-level throttle of its own for one `METHOD /path` route (API Gateway MethodSettings)."""

    method: str
    path: str
    rate_per_second: int
    burst: int


@dataclass(frozen=True)
class VendstackConfig:
    product_name: str
    product_version: str
    product_description: str
    product_code: str
    product_id: str
    dimensions: tuple[DimensionConfig, ...]
    key_max_lifetime_days: int
    max_active_keys: int
    grace_days: int
    metering_schedule_minutes: int
    usage_window_hours: int
    audit_retention_days: int
    throttle_rate: int
    throttle_burst: int
    developer_page_origins: tuple[str, ...]
    powertools_layer_version: int
    marketplace_sns_account: str
    notices_sender: str
    developer_page_url: str
    solution: tuple[SolutionFunction, ...]  # what is sold: `vendstack.solution.functions`
    pricing_model: str = "usage"
    waf_enabled: bool = True
    waf_requests_per_5_minutes: int = 1000
    route_throttles: tuple[RouteThrottle, ...] = ()
    license_tokens: LicenseTokens = LicenseTokens()  # `vendstack.license_tokens` (stacks/license_tokens.py)
    silent_after_hours: int = 24  # `vendstack.silent_usage.after_hours`: an active stack's quiet limit

    @property
    def contract_pricing(self) -> bool:
        """Contract pricing has entitlements (GetEntitlements, the entitlement topic); usage has none."""
        return self.pricing_model in CONTRACT_PRICING

    def runtime_product_json(self) -> str:
        """The `VS_PRODUCT` variable every platform function reads (`runtime/shared/config.py`)."""
        return json.dumps(
            {
                "name": self.product_name,
                "version": self.product_version,
                "dimensions": [
                    {
                        "name": d.name,
                        "unit": d.unit,
                        "description": d.description,
                        "price_per_unit": str(d.price_per_unit),
                    }
                    for d in self.dimensions
                ],
                "grace_days": self.grace_days,
                "key_max_lifetime_days": self.key_max_lifetime_days,
                "max_active_keys": self.max_active_keys,
                "audit_retention_days": self.audit_retention_days,
                "usage_window_hours": self.usage_window_hours,
                "product_code": self.product_code,
                "pricing_model": self.pricing_model,
                "product_id": self.product_id,
                "token_lifetime_seconds": self.license_tokens.lifetime_seconds,
                "features": list(self.license_tokens.features),
                "silent_after_hours": self.silent_after_hours,
            },
            separators=(",", ":"),
            sort_keys=True,
        )


def _get(tree: dict[str, Any], path: str) -> Any:
    node: Any = tree
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            raise ConfigError(f"cdk.json context '{CONTEXT_KEY}.{path}' is missing")
        node = node[part]
    return node


def _text(tree: dict, path: str, pattern: re.Pattern[str] | None = None, form: str = "") -> str:
    value = _get(tree, path)
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"cdk.json context '{CONTEXT_KEY}.{path}' must be a non-empty string")
    if pattern and not pattern.match(value):
        raise ConfigError(f"cdk.json context '{CONTEXT_KEY}.{path}' is {value!r}; expected {form}")
    return value


def _int(tree: dict, path: str, low: int, high: int) -> int:
    value = _get(tree, path)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(
            f"cdk.json context '{CONTEXT_KEY}.{path}' is {value!r}; "
            f"expected a whole number from {low} to {high}"
        )
    return value


def _dimension(item: Any, index: int) -> DimensionConfig:
    where = f"dimensions[{index}]"
    if not isinstance(item, dict):
        raise ConfigError(f"cdk.json context '{CONTEXT_KEY}.{where}' must be an object")
    extra = set(item) - {"name", "unit", "description", "price_per_unit"}
    if extra:
        raise ConfigError(f"cdk.json context '{CONTEXT_KEY}.{where}' has unknown keys {sorted(extra)}")
    name = _text(item, "name", _NAME, "lowercase letters, digits and '_' (1-64, starting with a letter)")
    price_raw = _get(item, "price_per_unit")
    try:
        price = Decimal(str(price_raw)) if isinstance(price_raw, str) else None
    except InvalidOperation:
        price = None
    if price is None or not price.is_finite() or price < 0:
        raise ConfigError(
            f"cdk.json context '{CONTEXT_KEY}.{where}.price_per_unit' is {price_raw!r}; "
            'expected a decimal string such as "0.0002"'
        )
    return DimensionConfig(name, _text(item, "unit"), _text(item, "description"), price)


def _optional(tree: dict, path: str, default: Any) -> Any:
    try:
        return _get(tree, path)
    except ConfigError:
        return default


def _bool(tree: dict, path: str, default: bool) -> bool:
    value = _optional(tree, path, default)
    if not isinstance(value, bool):
        raise ConfigError(f"cdk.json context '{CONTEXT_KEY}.{path}' is {value!r}; expected true or false")
    return value


def _pricing_model(tree: dict) -> str:
    value = _optional(tree, "marketplace.pricing_model", "usage")
    if value not in PRICING_MODELS:
        raise ConfigError(
            f"cdk.json context '{CONTEXT_KEY}.marketplace.pricing_model' is {value!r}; "
            f"expected one of {', '.join(repr(m) for m in PRICING_MODELS)}"
        )
    return value


def _route_throttles(tree: dict) -> tuple[RouteThrottle, ...]:
    raw = _optional(tree, "api.route_throttles", {})
    where = f"cdk.json context '{CONTEXT_KEY}.api.route_throttles'"
    if not isinstance(raw, dict):
        raise ConfigError(
            f"{where} must be an object such as "
            '{"POST /v1/usage": {"rate_per_second": 100, "burst": 200}}'
        )
    throttles = []
    for route, limits in sorted(raw.items()):
        match = re.match(r"^(GET|POST|PUT|PATCH|DELETE) (/[A-Za-z0-9_{}/.-]*)$", route)
        if not match:
            raise ConfigError(
                f'{where} has the route {route!r}; expected "METHOD /path" such as "POST /v1/usage"'
            )
        if not isinstance(limits, dict) or set(limits) != {"rate_per_second", "burst"}:
            raise ConfigError(
                f"{where}.{route!r} must be an object with exactly 'rate_per_second' and 'burst'"
            )
        throttles.append(
            RouteThrottle(
                method=match.group(1),
                path=match.group(2),
                rate_per_second=_limit(limits, "rate_per_second", f"{where}.{route!r}", 10000),
                burst=_limit(limits, "burst", f"{where}.{route!r}", 5000),
            )
        )
    return tuple(throttles)


def _limit(limits: dict, name: str, where: str, high: int) -> int:
    value = limits[name]
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= high:
        raise ConfigError(f"{where}.{name} is {value!r}; expected a whole number from 1 to {high}")
    return value


def parse_config(context: Any) -> VendstackConfig:
    if not isinstance(context, dict):
        raise ConfigError(f"cdk.json context '{CONTEXT_KEY}' is missing or not an object")
    raw_dims = _get(context, "dimensions")
    if not isinstance(raw_dims, list) or not 1 <= len(raw_dims) <= 24:
        raise ConfigError(f"cdk.json context '{CONTEXT_KEY}.dimensions' must be a list of 1 to 24 dimensions")
    dimensions = tuple(_dimension(item, i) for i, item in enumerate(raw_dims))
    names = [d.name for d in dimensions]
    if len(set(names)) != len(names):
        raise ConfigError(f"cdk.json context '{CONTEXT_KEY}.dimensions' repeats a dimension name: {names}")
    try:
        solution = parse_solution(context, ROOT)
    except SolutionConfigError as exc:
        raise ConfigError(str(exc)) from None
    origins = _get(context, "api.developer_page_origins")
    if not isinstance(origins, list) or not all(
        isinstance(o, str) and re.match(r"^https?://[^/\s]+$", o) for o in origins
    ):
        raise ConfigError(
            f"cdk.json context '{CONTEXT_KEY}.api.developer_page_origins' must be a list of origins "
            'such as "https://app.example.com" (scheme and host, no path)'
        )
    schedule_minutes = _int(context, "metering.schedule_minutes", 5, 60)
    window_hours = _int(context, "metering.usage_window_hours", 1, 24)
    check_metering_window(window_hours, schedule_minutes)
    try:
        license_tokens = parse_license_tokens(_optional(context, "license_tokens", None), tuple(names))
    except TokenConfigError as exc:
        raise ConfigError(str(exc)) from None
    return VendstackConfig(
        product_name=_text(context, "product.name", _PRODUCT, "lowercase letters, digits and '-' (2-40)"),
        product_version=_text(context, "product.version", _SEMVER, 'a version such as "1.4.0"'),
        product_description=_text(context, "product.description"),
        product_code=_text(
            context, "marketplace.product_code", _PRODUCT_CODE, "the AWS Marketplace product code"
        ),
        # The catalog id (AWS docs: "DescribeAgreement": `proposalSummary.resources[].id`), which
        # tells this product's agreements from the seller's others: agreement events name none.
        product_id=_text(
            context, "marketplace.product_id", _PRODUCT_ID, 'the AWS Marketplace product id, "prod-…"'
        ),
        dimensions=dimensions,
        key_max_lifetime_days=_int(context, "keys.max_lifetime_days", 1, 3650),
        max_active_keys=_int(context, "keys.max_active_per_customer", 1, 1000),
        grace_days=_int(context, "grace_days", 0, 365),
        metering_schedule_minutes=schedule_minutes,
        usage_window_hours=window_hours,
        audit_retention_days=_int(context, "audit.retention_days", 1, 3650),
        throttle_rate=_int(context, "api.throttle_rate_per_second", 1, 10000),
        throttle_burst=_int(context, "api.throttle_burst", 1, 5000),
        developer_page_origins=tuple(origins),
        powertools_layer_version=_int(context, "lambda.powertools_layer_version", 1, 10000),
        marketplace_sns_account=_text(
            context, "marketplace.sns_topic_account", re.compile(r"^\d{12}$"), "a 12-digit AWS account id"
        ),
        notices_sender=_text(context, "notices.sender", _EMAIL, "an email address verified in SES"),
        developer_page_url=_text(context, "notices.developer_page_url", _URL, "an https:// or http:// URL"),
        solution=solution,
        pricing_model=_pricing_model(context),
        waf_enabled=_bool(context, "api.waf.enabled", True),
        # WAF rate-based rules count requests per IP over 5 minutes by default, at least 10
        # (AWS docs: "Rate-based rule statement", AWS WAF Developer Guide).
        waf_requests_per_5_minutes=_int(context, "api.waf.requests_per_5_minutes", 10, 2_000_000_000)
        if _optional(context, "api.waf.requests_per_5_minutes", None) is not None
        else 1000,
        route_throttles=_route_throttles(context),
        license_tokens=license_tokens,
        # How long an active stack may report nothing before the vendor's alarm and report say so.
        silent_after_hours=_int(context, "silent_usage.after_hours", 2, 24 * 90)
        if _optional(context, "silent_usage.after_hours", None) is not None
        else 24,
    )


SANDBOX_CONTEXT_KEY = "vendstack:sandbox"


def local_addresses(config: VendstackConfig) -> list[str]:
    """What in the configuration points at the developer's own machine or uses plain http.

    A deployed platform would send Cognito redirects, CORS grants and customer emails there.
    """
    found = []
    named = [("api.developer_page_origins", origin) for origin in config.developer_page_origins]
    named.append(("notices.developer_page_url", config.developer_page_url))
    for key, url in named:
        parsed = urlparse(url)
        if parsed.scheme != "https" or _LOCAL_HOSTS.match(parsed.hostname or ""):
            found.append(f"'{CONTEXT_KEY}.{key}' is {url!r}")
    return found


def check_deployable(config: VendstackConfig) -> None:
    """Refuse a synth meant for deployment that still names local or plain-http addresses."""
    found = local_addresses(config)
    if found:
        raise ConfigError(
            "this synth is for deployment, but "
            + "; ".join(found)
            + ". Set https addresses of the real developer page in cdk.json, or synthesize for the "
            f"local sandbox with `-c {SANDBOX_CONTEXT_KEY}=true` (what `make synth`, the sandbox and "
            "the tests do)"
        )
