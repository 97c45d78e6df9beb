"""The developer page's delivery in the vendor template: private bucket behind CloudFront with
origin access control, HTTPS only, the headers of `web/security-headers.json` with a strict CSP,
configuration written at deploy, and the public fulfillment route."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from aws_cdk.assertions import Template

HEADERS = json.loads((Path(__file__).resolve().parents[2] / "web" / "security-headers.json").read_text())


@pytest.fixture(scope="module")
def template(vendor_template) -> Template:
    from aws_cdk.assertions import Template

    return Template.from_json(vendor_template)


def _one(template: Template, type_name: str) -> tuple[str, dict]:
    found = template.find_resources(type_name)
    assert len(found) == 1, sorted(found)
    return next(iter(found.items()))


def _text(node) -> str:
    """A CloudFormation string value with its intrinsics written out, for pattern checks."""
    return json.dumps(node)


def test_bucket_is_private_encrypted_and_read_by_cloudfront_only(template: Template):
    from aws_cdk.assertions import Match

    template.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "PublicAccessBlockConfiguration": {
                "BlockPublicAcls": True,
                "BlockPublicPolicy": True,
                "IgnorePublicAcls": True,
                "RestrictPublicBuckets": True,
            },
            "BucketEncryption": Match.any_value(),
            "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
            "WebsiteConfiguration": Match.absent(),
        },
    )
    policies = [
        p["Properties"]["PolicyDocument"]["Statement"]
        for name, p in template.find_resources("AWS::S3::BucketPolicy").items()
        if name.startswith("DeveloperPageSite")
    ]
    assert len(policies) == 1
    allows = [s for s in policies[0] if s["Effect"] == "Allow"]
    assert len(allows) == 1
    assert allows[0]["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    assert allows[0]["Action"] == "s3:GetObject"
    assert "DeveloperPageDistribution" in _text(allows[0]["Condition"]["StringEquals"]["AWS:SourceArn"])
    assert any(
        s["Effect"] == "Deny" and "aws:SecureTransport" in _text(s.get("Condition")) for s in policies[0]
    )


def test_distribution_uses_origin_access_control_and_https_only(template: Template):
    _, oac = _one(template, "AWS::CloudFront::OriginAccessControl")
    config = oac["Properties"]["OriginAccessControlConfig"]
    assert config["OriginAccessControlOriginType"] == "s3" and config["SigningBehavior"] == "always"
    _, distribution = _one(template, "AWS::CloudFront::Distribution")
    props = distribution["Properties"]["DistributionConfig"]
    behavior = props["DefaultCacheBehavior"]
    assert behavior["ViewerProtocolPolicy"] == "redirect-to-https"
    assert behavior["AllowedMethods"] == ["GET", "HEAD"]
    assert "ResponseHeadersPolicyId" in behavior
    (origin,) = props["Origins"]
    assert "OriginAccessControlId" in origin and origin["S3OriginConfig"] == {"OriginAccessIdentity": ""}
    assert props["DefaultRootObject"] == "index.html"


def test_response_headers_are_the_shared_definition_with_a_strict_csp(template: Template):
    _, policy = _one(template, "AWS::CloudFront::ResponseHeadersPolicy")
    config = policy["Properties"]["ResponseHeadersPolicyConfig"]
    security = config["SecurityHeadersConfig"]
    csp = _text(security["ContentSecurityPolicy"]["ContentSecurityPolicy"])
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    for directive in (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "frame-ancestors 'none'",
    ):
        assert directive in csp
    # connect-src: the page's origin, this stack's API and the user pool's endpoint, nothing else.
    connect = re.search(r"connect-src ([^;]*);", csp).group(1)
    assert "ApiRestApi" in connect and "https://cognito-idp." in connect and "*" not in connect
    assert "{api_origin}" not in csp and "{user_pool_origin}" not in csp
    assert security["FrameOptions"] == {"FrameOption": "DENY", "Override": True}
    assert security["ContentTypeOptions"] == {"Override": True}
    assert security["ReferrerPolicy"]["ReferrerPolicy"] == HEADERS["Referrer-Policy"]
    assert security["StrictTransportSecurity"]["AccessControlMaxAgeSec"] == 63072000
    custom = {h["Header"]: h["Value"] for h in config["CustomHeadersConfig"]["Items"]}
    assert custom == {k: HEADERS[k] for k in ("Permissions-Policy", "Cross-Origin-Opener-Policy")}


def test_configuration_is_written_at_deploy_from_the_stack(template: Template):
    _, deployment = _one(template, "Custom::CDKBucketDeployment")
    markers = _text(deployment["Properties"]["SourceMarkers"])
    for reference in ("ApiRestApi", "IdentityUserPool", "IdentityUserPoolDeveloperPage", "cognito-idp."):
        assert reference in markers, reference
    # No invalidation (CDK's grant for it is unscoped): a short cache TTL brings a new page out.
    assert "DistributionId" not in deployment["Properties"]
    _, cache = _one(template, "AWS::CloudFront::CachePolicy")
    assert cache["Properties"]["CachePolicyConfig"]["DefaultTTL"] == 300


def test_fulfillment_route_is_public_and_redirects_to_the_distribution(template: Template):
    functions = {
        name: f
        for name, f in template.find_resources("AWS::Lambda::Function").items()
        if f["Properties"].get("Handler") == "subscriptions.handlers.fulfillment.handler"
    }
    assert len(functions) == 1
    name, function = next(iter(functions.items()))
    env = function["Properties"]["Environment"]["Variables"]
    assert "DeveloperPageDistribution" in _text(env["VS_DEVELOPER_PAGE_URL"])
    assert "DeveloperPageDistribution" in _text(env["VS_CORS_ORIGINS"])
    methods = [
        m["Properties"]
        for m in template.find_resources("AWS::ApiGateway::Method").values()
        if m["Properties"]["HttpMethod"] == "POST"
        and name in _text(m["Properties"]["Integration"].get("Uri"))
    ]
    assert len(methods) == 1 and methods[0]["AuthorizationType"] == "NONE"
    resources = template.find_resources("AWS::ApiGateway::Resource")
    assert resources[methods[0]["ResourceId"]["Ref"]]["Properties"]["PathPart"] == "fulfillment"


def test_page_client_allows_password_and_srp_sign_in_only(template: Template):
    from aws_cdk.assertions import Match

    template.has_resource_properties(
        "AWS::Cognito::UserPoolClient",
        {
            "GenerateSecret": False,
            "ExplicitAuthFlows": Match.array_equals(
                ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
            ),
        },
    )


def test_page_origin_is_an_allowed_cors_origin_of_the_api(template: Template):
    preflights = [
        m["Properties"]["Integration"]
        for m in template.find_resources("AWS::ApiGateway::Method").values()
        if m["Properties"]["HttpMethod"] == "OPTIONS"
    ]
    assert preflights
    for integration in preflights:
        assert "DeveloperPageDistribution" in _text(integration["IntegrationResponses"])
