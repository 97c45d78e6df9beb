"""Builds the vendstack CDK app from `cdk.json` configuration: no network, no AWS calls.

The vendor platform is pinned to us-east-1, because what it subscribes to and calls exists
only there:
- AWS Marketplace sends agreement and licence events to EventBridge in us-east-1 (AWS docs:
  "Amazon EventBridge events", AWS Marketplace Seller Guide,
  https://docs.aws.amazon.com/marketplace/latest/userguide/notifications-eventbridge.html);
- the Entitlement Service (GetEntitlements) has only a us-east-1 endpoint (AWS docs: "Supported
  AWS Regions for the AWS Marketplace Entitlement API",
  https://docs.aws.amazon.com/marketplace/latest/developerguide/entitlement-regions.html), as has
  the Agreement Service (".../agreement-regions.html");
- the SaaS SNS topics are `arn:aws:sns:us-east-1:<AWS Marketplace account>:aws-mp-*-notification-<code>`
  (AWS docs: "Amazon SNS notifications for SaaS products", AWS Marketplace Seller Guide,
  https://docs.aws.amazon.com/marketplace/latest/userguide/saas-notification.html).
The customer stack stays region-agnostic: buyers run it wherever they like.
"""

from __future__ import annotations

import os

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks, ServerlessChecks

from stacks.config import CONTEXT_KEY, SANDBOX_CONTEXT_KEY, ConfigError, check_deployable, parse_config
from stacks.customer import CustomerStack
from stacks.nag import acknowledge_customer_findings, acknowledge_vendor_findings
from stacks.vendor_platform import VendorPlatformStack

VENDOR_STACK = "VendstackVendorPlatform"
CUSTOMER_STACK = "VendstackCustomer"
VENDOR_REGION = "us-east-1"
REGION_CONTEXT_KEY = "vendstack:region"


def requested_region(app: cdk.App) -> str | None:
    """The region this synth was asked for: `-c vendstack:region=…`, else the CDK CLI's default."""
    return app.node.try_get_context(REGION_CONTEXT_KEY) or os.environ.get("CDK_DEFAULT_REGION") or None


def check_region(region: str | None) -> None:
    if region and region != VENDOR_REGION:
        raise SystemExit(
            f"vendstack: the vendor platform deploys to {VENDOR_REGION} only, and this synth asks for "
            f"{region!r}. AWS Marketplace sends agreement and licence events to EventBridge in "
            f"{VENDOR_REGION}, GetEntitlements and the Agreement API have {VENDOR_REGION} endpoints only, "
            f"and the Marketplace SNS topics live in {VENDOR_REGION}. Run with AWS_REGION={VENDOR_REGION} "
            f"(or `-c {REGION_CONTEXT_KEY}={VENDOR_REGION}`); the customer template deploys in any region."
        )


def is_sandbox(app: cdk.App) -> bool:
    return app.node.try_get_context(SANDBOX_CONTEXT_KEY) in (True, "true")


def build_app(
    app: cdk.App | None = None, *, stacks: tuple[str, ...] = (VENDOR_STACK, CUSTOMER_STACK)
) -> cdk.App:
    """The app: configuration checked, then the stacks named in `stacks` (both unless told), each
    with its cdk-nag acknowledgements, and the cdk-nag gate over the app.

    `stacks` exists for the tests of one stack's variant: they build that stack alone through this
    same path (checks, stack, acknowledgements, gate) instead of synthesizing both."""
    app = app or cdk.App()
    check_region(requested_region(app))
    try:
        config = parse_config(app.node.try_get_context(CONTEXT_KEY))
        if not is_sandbox(app):
            check_deployable(config)
    except ConfigError as exc:
        raise SystemExit(f"vendstack: invalid configuration: {exc}") from None
    vendor = customer = None
    if VENDOR_STACK in stacks:
        vendor = VendorPlatformStack(
            app,
            VENDOR_STACK,
            config=config,
            env=cdk.Environment(region=VENDOR_REGION),
            description="vendstack vendor platform",
            analytics_reporting=False,
        )
    if CUSTOMER_STACK in stacks:
        customer = CustomerStack(
            app,
            CUSTOMER_STACK,
            config=config,
            synthesizer=cdk.BootstraplessSynthesizer(),
            analytics_reporting=False,
        )
    if vendor is not None:
        acknowledge_vendor_findings(vendor)
    if customer is not None:
        acknowledge_customer_findings(customer)
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app), ServerlessChecks(app))
    return app


if __name__ == "__main__":
    build_app().synth()
