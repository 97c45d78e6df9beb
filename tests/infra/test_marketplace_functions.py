"""Deploy-time facts of the Marketplace metering and subscription functions."""

from __future__ import annotations

import json

SANDBOX_ONLY_VARIABLES = ("VS_SANDBOX_EVENT_CLOCK", "VS_SANDBOX_SNS_CERTS")


def _functions(template: dict) -> dict[str, dict]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == "AWS::Lambda::Function"}


def test_no_function_carries_a_sandbox_only_trust_setting(vendor_template: dict) -> None:
    """The metering job trusts its event's clock, and the events function trusts the sandbox's SNS
    certificate, only with a variable the sandbox's workers alone get: never in the template."""
    text = json.dumps(vendor_template)
    for name in SANDBOX_ONLY_VARIABLES:
        assert name not in text
    for resource in _functions(vendor_template).values():
        variables = resource["Properties"].get("Environment", {}).get("Variables", {})
        assert not any(key.startswith("VS_SANDBOX") for key in variables)
