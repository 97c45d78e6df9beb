"""Releases and activations: typed models and their items in the platform-data table.

Standard library and pydantic only, and no import from other runtime packages, because the
vendor's publishing command (`customer_stack/publish.py`) writes release items with these same
functions that the license function reads them with: one layout, defined once.

Items (platform-data table: `pk`/`sk`, TTL `ttl`, GSI `gsi1` = `gsi1pk`/`gsi1sk`, ALL):

- release, one per published version: pk `RELEASE#<product>`, sk `VERSION#<version>`;
  type `release`, product, version, published_at, signing (`aws-signer` |
  `sandbox-standin-unsigned`), bucket, artifacts (list of maps: name, key, version_id, sha256,
  size, unsigned_key, unsigned_version_id, signing_job_id?), template (map: bucket, key,
  version_id). Written once with `attribute_not_exists(pk)`; only `--force` replaces it.
- current release: pk `RELEASE#<product>`, sk `CURRENT`; the same attributes, copied from the
  version it points at, so an activation reads one item. Every publish moves it.
- activation: pk `ACT#<activation_id>`, sk `ACTIVATION`; type `activation`, activation_id,
  customer_id, access_key, account_id, region, stack_id, product, version, issued_at,
  last_request_type, created_at, updated_at, status (`active` | `deactivated`), deactivated_at?,
  gsi1pk `CUSTACT#<customer_id>`, gsi1sk `<created_at µs>#<activation_id>` (a customer's
  activations, oldest first). No TTL: activations are part of the billing history.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from shared.timestamps import format_timestamp

SIGNATURE_ALGORITHM = "RSASSA_PKCS1_V1_5_SHA_256"
SIGNING_AWS = "aws-signer"
SIGNING_SANDBOX = "sandbox-standin-unsigned"
ACTIVE = "active"
DEACTIVATED = "deactivated"
CURRENT_SK = "CURRENT"
ACTIVATION_SK = "ACTIVATION"
ACTIVATION_ID_RE = re.compile(r"^act-[A-Za-z0-9_-]{1,128}$")
VERSION_RE = re.compile(r"^(0|[1-9]\d{0,5})\.(0|[1-9]\d{0,5})\.(0|[1-9]\d{0,5})$")
ARTIFACT_NAME_RE = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
ACCOUNT_RE = re.compile(r"^\d{12}$")
REGION_RE = re.compile(r"^[a-z]{2}(?:-[a-z]+)+-\d{1,2}$")
# arn:<partition>:cloudformation:<region>:<account>:stack/<name>/<id>
STACK_ARN_RE = re.compile(
    r"^arn:aws(?:-[a-z]+)*:cloudformation:([a-z0-9-]+):(\d{12}):stack/[A-Za-z][A-Za-z0-9-]{0,127}/"
    r"[A-Za-z0-9-]{1,64}$"
)


def release_pk(product: str) -> str:
    return f"RELEASE#{product}"


def version_sk(version: str) -> str:
    return f"VERSION#{version}"


def activation_pk(activation_id: str) -> str:
    return f"ACT#{activation_id}"


def customer_activations_pk(customer_id: str) -> str:
    return f"CUSTACT#{customer_id}"


def sortable(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def activation_id_for(customer_id: str, stack_id: str) -> str:
    """Stable per (customer, stack): an Update of the same stack re-activates the same id, so the
    custom resource keeps its PhysicalResourceId and CloudFormation sends no cleanup Delete."""
    digest = hashlib.sha256(f"vendstack-activation\n{customer_id}\n{stack_id}".encode()).digest()
    return "act-" + base64.urlsafe_b64encode(digest[:18]).decode("ascii")


def canonical_manifest(manifest: dict) -> bytes:
    """The bytes the manifest signature covers (docs/protocol.md §4.1)."""
    return json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode("utf-8")


def _plain(value: Any) -> Any:
    """DynamoDB numbers come back as Decimal; the manifest needs real ints."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


@dataclass(frozen=True)
class ReleaseArtifact:
    name: str
    key: str  # the signed object that customers download
    version_id: str
    sha256: str
    size: int
    unsigned_key: str
    unsigned_version_id: str
    signing_job_id: str | None = None


@dataclass(frozen=True)
class Release:
    product: str
    version: str
    published_at: str
    signing: str
    bucket: str
    artifacts: tuple[ReleaseArtifact, ...]
    template: dict[str, str] = field(default_factory=dict)

    def attributes(self) -> dict[str, Any]:
        document = asdict(self)
        document["artifacts"] = [{k: v for k, v in a.items() if v is not None} for a in document["artifacts"]]
        return {"type": "release", **document}

    def version_item(self) -> dict[str, Any]:
        return {"pk": release_pk(self.product), "sk": version_sk(self.version), **self.attributes()}

    def current_item(self) -> dict[str, Any]:
        return {"pk": release_pk(self.product), "sk": CURRENT_SK, **self.attributes()}

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> Release:
        item = _plain(item)
        return cls(
            product=item["product"],
            version=item["version"],
            published_at=item["published_at"],
            signing=item["signing"],
            bucket=item["bucket"],
            artifacts=tuple(
                ReleaseArtifact(**{k: a.get(k) for k in ReleaseArtifact.__dataclass_fields__})
                for a in item["artifacts"]
            ),
            template=dict(item.get("template") or {}),
        )

    def manifest(
        self, *, activation_id: str, account_id: str, stack_id: str, request_nonce: str, issued_at: datetime
    ) -> dict[str, Any]:
        """The signed manifest. Besides the release, it names the one request it answers: the stack
        (`stack_id`) and the request's `X-Vs-Nonce` (`request_nonce`), with `issued_at`, so the
        custom resource can refuse an answer given to another stack, to an earlier request, or long
        ago (additive to docs/protocol.md §4.1)."""
        return {
            "product": self.product,
            "version": self.version,
            "issued_at": format_timestamp(issued_at),
            "activation_id": activation_id,
            "account_id": account_id,
            "stack_id": stack_id,
            "request_nonce": request_nonce,
            "artifacts": [{"name": a.name, "sha256": a.sha256, "size": int(a.size)} for a in self.artifacts],
        }


@dataclass(frozen=True)
class Activation:
    activation_id: str
    customer_id: str
    access_key: str
    account_id: str
    region: str
    stack_id: str
    product: str
    version: str
    issued_at: str
    last_request_type: str
    created_at: str
    updated_at: str
    status: str
    deactivated_at: str | None = None
    last_usage_at: str | None = None  # the last `POST /v1/usage` signed with its key (silence)

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> Activation:
        item = _plain(item)
        return cls(**{k: item.get(k) for k in cls.__dataclass_fields__})  # type: ignore[arg-type]

    def document(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}
