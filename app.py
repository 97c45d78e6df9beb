"""Builds the vendstack CDK app from `cdk.json` configuration: no network, no AWS calls."""

from __future__ import annotations

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks, ServerlessChecks

from stacks.config import CONTEXT_KEY, ConfigError, parse_config
from stacks.customer import CustomerStack
from stacks.nag import acknowledge_customer_findings, acknowledge_vendor_findings
from stacks.vendor_platform import VendorPlatformStack

VENDOR_STACK = "VendstackVendorPlatform"
CUSTOMER_STACK = "VendstackCustomer"


def build_app(app: cdk.App | None = None) -> cdk.App:
    app = app or cdk.App()
    try:
        config = parse_config(app.node.try_get_context(CONTEXT_KEY))
    except ConfigError as exc:
        raise SystemExit(f"vendstack: invalid configuration: {exc}") from None
    vendor = VendorPlatformStack(
        app, VENDOR_STACK, config=config, description="vendstack vendor platform", analytics_reporting=False
    )
    customer = CustomerStack(
        app,
        CUSTOMER_STACK,
        config=config,
        synthesizer=cdk.BootstraplessSynthesizer(),
        analytics_reporting=False,
    )
    acknowledge_vendor_findings(vendor)
    acknowledge_customer_findings(customer)
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app), ServerlessChecks(app))
    return app


if __name__ == "__main__":
    build_app().synth()
