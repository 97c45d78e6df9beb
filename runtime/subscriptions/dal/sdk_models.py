"""Does the SDK this function runs with know `LicenseArn`? Checked once, at the first invocation.

Lambda's runtime-bundled boto3 may predate Concurrent Agreements (AWS docs: "Building Lambda
functions with Python", section "Runtime-included SDK versions": the bundled version is not
fixed and changes with the runtime and Region). With an older botocore, `BatchMeterUsage` refuses
`LicenseArn` client-side (ParamValidationError) and `ResolveCustomer` silently drops it from its
answer (botocore keeps only the members its model names). Both would fail quietly for every
customer, so the metering and Marketplace-events functions refuse to start instead.
AWS docs: "BatchMeterUsage" and "ResolveCustomer" (AWS Marketplace Metering Service API reference).
"""

from __future__ import annotations

from functools import cache
from typing import Any

import botocore

REQUIRED = (
    ("BatchMeterUsage", "UsageRecord", "LicenseArn"),
    ("ResolveCustomer", "ResolveCustomerResult", "LicenseArn"),
)


class SdkTooOld(RuntimeError):
    """botocore's Marketplace Metering model lacks a member the platform depends on."""


def missing_members(model: Any = None) -> list[str]:
    """`Operation: Shape.Member` for each required member the metering model lacks."""
    if model is None:
        import botocore.session  # on first use: botocore's client machinery is most of a cold start

        model = botocore.session.get_session().get_service_model("meteringmarketplace")
    missing = []
    for operation, shape_name, member in REQUIRED:
        try:
            shape = model.shape_for(shape_name)
        except Exception:  # noqa: BLE001 - an unknown shape is a missing member as well
            shape = None
        if shape is None or member not in getattr(shape, "members", {}):
            missing.append(f"{operation}: {shape_name}.{member}")
    return missing


@cache
def _installed_missing() -> tuple[str, ...]:
    return tuple(missing_members())


def require_license_arn(model: Any = None) -> None:
    """Raise `SdkTooOld`, naming botocore's version and what is missing, if anything is."""
    missing = list(_installed_missing()) if model is None else missing_members(model)
    if missing:
        raise SdkTooOld(
            f"botocore {botocore.__version__} lacks {', '.join(missing)} in the Marketplace Metering "
            "model: ship the pinned boto3/botocore with the function (requirements.txt)"
        )
