"""Runtime configuration, read once from the environment the template gives each function.

The CDK app turns the `cdk.json` configuration into these variables; nothing else in the
runtime reads `os.environ` for settings.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache


@dataclass(frozen=True)
class Dimension:
    name: str
    unit: str
    description: str
    price_per_unit: Decimal


class _Names:
    """Resource names the template gave this function (`<prefix><NAME>` variables), read by name.
    Each function gets only the resources it uses: reading one it was not given is a
    RuntimeError naming the missing variable, never an empty name."""

    PREFIX = ""

    def __init__(self, values: Mapping[str, str] | None = None) -> None:
        self._values = dict(values or {})

    def _named(self, name: str) -> str:
        value = self._values.get(name)
        if not value:
            raise RuntimeError(f"function environment is missing {self.PREFIX}{name.upper()}")
        return value

    def __getitem__(self, name: str) -> str:  # the former dict look-up, still answered
        return self._named(name)

    def get(self, name: str, default: str | None = None) -> str | None:
        return self._values.get(name) or default

    def __eq__(self, other: object) -> bool:
        return isinstance(other, type(self)) and other._values == self._values

    def __hash__(self) -> int:
        return hash(tuple(sorted(self._values.items())))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._values!r})"


class Tables(_Names):
    """DynamoDB tables: `VS_TABLE_DATA`, `VS_TABLE_KEYS`, `VS_TABLE_AUDIT`."""

    PREFIX = "VS_TABLE_"

    @property
    def data(self) -> str:
        return self._named("data")

    @property
    def keys(self) -> str:
        return self._named("keys")

    @property
    def audit(self) -> str:
        return self._named("audit")


class KmsKeys(_Names):
    """KMS keys: `VS_KEY_SECRETS` (the access keys' HMAC key), `VS_KEY_MANIFEST` (manifest signing)."""

    PREFIX = "VS_KEY_"

    @property
    def secrets(self) -> str:
        return self._named("secrets")

    @property
    def manifest(self) -> str:
        return self._named("manifest")


class Buckets(_Names):
    """S3 buckets: `VS_BUCKET_ARTIFACTS`."""

    PREFIX = "VS_BUCKET_"

    @property
    def artifacts(self) -> str:
        return self._named("artifacts")


@dataclass(frozen=True)
class RuntimeConfig:
    product_name: str
    product_version: str
    dimensions: tuple[Dimension, ...]
    grace_days: int
    key_max_lifetime_days: int
    max_active_keys: int
    audit_retention_days: int
    body_limit_bytes: int = 64 * 1024
    tables: Tables = field(default_factory=Tables)
    keys: KmsKeys = field(default_factory=KmsKeys)
    buckets: Buckets = field(default_factory=Buckets)
    product_code: str = ""  # AWS Marketplace product code (VS_PRODUCT.product_code)
    usage_window_hours: int = 3  # VS_PRODUCT.usage_window_hours: how late usage may be reported
    pricing_model: str = "usage"  # VS_PRODUCT.pricing_model: usage | contract | contract_with_usage
    product_id: str = ""  # VS_PRODUCT.product_id: the Marketplace catalog `prod-…` id (agreements)
    notices_sender: str = ""  # VS_NOTICES_SENDER: SES-verified From address of customer notices
    developer_page_url: str = ""  # VS_DEVELOPER_PAGE_URL: linked from notices
    token_lifetime_seconds: int = 3600  # VS_PRODUCT.token_lifetime_seconds: license token lifetime
    features: tuple[str, ...] = ()  # VS_PRODUCT.features: entitlements every subscriber gets
    silent_after_hours: int = 24  # VS_PRODUCT.silent_after_hours: an active stack's quiet limit
    require_approval: bool = False  # VS_PRODUCT.require_approval: new subscriptions wait for the vendor
    support_contact: str = ""  # VS_PRODUCT.support_contact: named to suspended customers
    event_bus: str = ""  # VS_EVENT_BUS: the lifecycle events' EventBridge bus
    # VS_DEPLOYMENT_PARAMETER: the Quick Launch deployment parameter's name, the customer
    # template's parameter of the same name (README "Quick Launch")
    deployment_parameter: str = "DeploymentKey"

    def dimension_names(self) -> set[str]:
        return {d.name for d in self.dimensions}

    @property
    def has_entitlements(self) -> bool:
        """Only contract pricing has entitlements (GetEntitlements, `entitlement-updated`)."""
        return self.pricing_model in ("contract", "contract_with_usage")


def config_from_env(env: dict[str, str]) -> RuntimeConfig:
    """Build the config from an environment mapping; a missing variable names itself."""
    try:
        product = json.loads(env["VS_PRODUCT"])
        dimensions = tuple(
            Dimension(d["name"], d["unit"], d["description"], Decimal(str(d["price_per_unit"])))
            for d in product["dimensions"]
        )
        return RuntimeConfig(
            product_name=product["name"],
            product_version=product["version"],
            dimensions=dimensions,
            grace_days=int(product["grace_days"]),
            key_max_lifetime_days=int(product["key_max_lifetime_days"]),
            max_active_keys=int(product["max_active_keys"]),
            audit_retention_days=int(product["audit_retention_days"]),
            tables=Tables(_prefixed(env, Tables.PREFIX)),
            keys=KmsKeys(_prefixed(env, KmsKeys.PREFIX)),
            buckets=Buckets(_prefixed(env, Buckets.PREFIX)),
            product_code=str(product.get("product_code", "")),
            usage_window_hours=int(product.get("usage_window_hours", 3)),
            pricing_model=str(product.get("pricing_model") or "usage"),
            product_id=str(product.get("product_id") or ""),
            notices_sender=env.get("VS_NOTICES_SENDER", ""),
            developer_page_url=env.get("VS_DEVELOPER_PAGE_URL", ""),
            token_lifetime_seconds=int(product.get("token_lifetime_seconds", 3600)),
            features=tuple(str(f) for f in product.get("features") or ()),
            silent_after_hours=int(product.get("silent_after_hours", 24)),
            require_approval=bool(product.get("require_approval", False)),
            support_contact=str(product.get("support_contact") or ""),
            event_bus=env.get("VS_EVENT_BUS", ""),
            deployment_parameter=env.get("VS_DEPLOYMENT_PARAMETER", "DeploymentKey"),
        )
    except KeyError as exc:
        raise RuntimeError(f"function environment is missing {exc.args[0]}") from None


def _prefixed(env: Mapping[str, str], prefix: str) -> dict[str, str]:
    return {k.removeprefix(prefix).lower(): v for k, v in env.items() if k.startswith(prefix)}


def cors_origins(env: dict[str, str] | None = None) -> tuple[str, ...]:
    """The developer page's origins (`VS_CORS_ORIGINS`, comma-separated). Read on its own, at
    import, because the resolver is built then; everything else waits for `get_config()`."""
    value = (os.environ if env is None else env).get("VS_CORS_ORIGINS", "")
    return tuple(origin.strip() for origin in value.split(",") if origin.strip())


@lru_cache(maxsize=1)
def get_config() -> RuntimeConfig:
    return config_from_env(dict(os.environ))
