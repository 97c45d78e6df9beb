"""The developer page: a static web app in a private S3 bucket behind CloudFront, and the AWS
Marketplace fulfillment endpoint that leads buyers to it.

- The bucket is private; CloudFront reads it through origin access control (AWS docs:
  "Restricting access to an Amazon S3 origin",
  https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/private-content-restricting-access-to-s3.html).
- Viewers are redirected to HTTPS; every response carries the security headers of
  `web/security-headers.json` through a response headers policy (AWS docs: "Understand response
  headers policies", https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/understanding-response-headers-policies.html).
  The same file is what the sandbox serves, so both add the same headers.
- `config.json` (API URL, region, user pool, app client, the user pool's endpoint) is written at
  deploy time by `BucketDeployment` from the stack's own values.
- `POST /v1/marketplace/fulfillment` answers `303` to this page with the token in the fragment
  (docs/protocol.md §3.1), so the listing's fulfillment URL is the platform API, not the static site.
"""

from __future__ import annotations

import json
from pathlib import Path

from aws_cdk import CfnResource, Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_deployment as s3deploy

from constructs import Construct
from constructs.platform_api import PlatformApi
from constructs.platform_function import PlatformFunction, function_role

WEB_DIR = Path(__file__).resolve().parent.parent / "web"
HEADERS_FILE = WEB_DIR / "security-headers.json"
FULFILLMENT_ROUTES = [("POST", "/v1/marketplace/fulfillment")]
# Set by CloudFront from the response headers policy's own fields, not as custom headers.
_SECURITY_FIELDS = {
    "content-security-policy",
    "strict-transport-security",
    "x-content-type-options",
    "x-frame-options",
    "referrer-policy",
}


def security_headers(api_origin: str, user_pool_origin: str) -> dict[str, str]:
    """The page's response headers with the two origins the page may call filled in."""
    headers = json.loads(HEADERS_FILE.read_text())
    csp = headers["Content-Security-Policy"]
    headers["Content-Security-Policy"] = csp.replace("{api_origin}", api_origin).replace(
        "{user_pool_origin}", user_pool_origin
    )
    return headers


def _max_age(hsts: str) -> int:
    for part in hsts.split(";"):
        name, _, value = part.strip().partition("=")
        if name.lower() == "max-age":
            return int(value)
    raise ValueError(f"Strict-Transport-Security without max-age: {hsts!r}")


class DeveloperPage(Construct):
    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        headers = security_headers("{api_origin}", "{user_pool_origin}")
        self.bucket = s3.Bucket(
            self,
            "Site",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            enforce_ssl=True,
            versioned=True,
            removal_policy=RemovalPolicy.RETAIN,
        )
        hsts = headers["Strict-Transport-Security"]
        self.headers_policy = cloudfront.ResponseHeadersPolicy(
            self,
            "Headers",
            comment="vendstack developer page: security headers (web/security-headers.json)",
            security_headers_behavior=cloudfront.ResponseSecurityHeadersBehavior(
                # The API's origin is known once the API exists: `connect` puts it in.
                content_security_policy=cloudfront.ResponseHeadersContentSecurityPolicy(
                    content_security_policy=headers["Content-Security-Policy"], override=True
                ),
                content_type_options=cloudfront.ResponseHeadersContentTypeOptions(override=True),
                frame_options=cloudfront.ResponseHeadersFrameOptions(
                    frame_option=cloudfront.HeadersFrameOption.DENY, override=True
                ),
                referrer_policy=cloudfront.ResponseHeadersReferrerPolicy(
                    referrer_policy=cloudfront.HeadersReferrerPolicy.NO_REFERRER, override=True
                ),
                strict_transport_security=cloudfront.ResponseHeadersStrictTransportSecurity(
                    access_control_max_age=Duration.seconds(_max_age(hsts)),
                    include_subdomains="includesubdomains" in hsts.lower().replace(" ", ""),
                    override=True,
                ),
            ),
            custom_headers_behavior=cloudfront.ResponseCustomHeadersBehavior(
                custom_headers=[
                    cloudfront.ResponseCustomHeader(header=name, value=value, override=True)
                    for name, value in headers.items()
                    if name.lower() not in _SECURITY_FIELDS
                ]
            ),
        )
        self.distribution = cloudfront.Distribution(
            self,
            "Distribution",
            comment="vendstack developer page",
            default_root_object="index.html",
            http_version=cloudfront.HttpVersion.HTTP2_AND_3,
            price_class=cloudfront.PriceClass.PRICE_CLASS_100,
            default_behavior=cloudfront.BehaviorOptions(
                origin=origins.S3BucketOrigin.with_origin_access_control(self.bucket),
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                allowed_methods=cloudfront.AllowedMethods.ALLOW_GET_HEAD,
                cache_policy=cloudfront.CachePolicy(
                    self,
                    "Cache",
                    comment="vendstack developer page: a new deployment shows within five minutes",
                    default_ttl=Duration.minutes(5),
                    min_ttl=Duration.seconds(0),
                    max_ttl=Duration.hours(1),
                    enable_accept_encoding_gzip=True,
                    enable_accept_encoding_brotli=True,
                ),
                response_headers_policy=self.headers_policy,
                compress=True,
            ),
        )

    def _trace(self, role: iam.Role) -> None:
        """X-Ray tracing on CDK's deployment function, like every other function of the stack."""
        stack = Stack.of(self)
        handler = next(
            c for c in stack.node.children if c.node.id.startswith("Custom::CDKBucketDeployment")
        ).node.default_child
        if not isinstance(handler, lambda_.CfnFunction):
            raise TypeError("the BucketDeployment function has no CloudFormation resource")
        handler.tracing_config = lambda_.CfnFunction.TracingConfigProperty(mode="Active")
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["xray:PutTraceSegments", "xray:PutTelemetryRecords"], resources=["*"]
            )
        )

    @property
    def url(self) -> str:
        """The page's origin (`https://<id>.cloudfront.net`), also an allowed CORS origin of the API."""
        return f"https://{self.distribution.distribution_domain_name}"

    def connect(
        self,
        *,
        api: PlatformApi,
        user_pool: cognito.IUserPool,
        client: cognito.IUserPoolClient,
        environment: dict[str, str],
        layer_version: int,
    ) -> None:
        """Write the page and its configuration, and add the fulfillment route to the API."""
        stack = Stack.of(self)
        api_origin = f"https://{api.rest_api.rest_api_id}.execute-api.{stack.region}.{stack.url_suffix}"
        user_pool_endpoint = f"https://cognito-idp.{stack.region}.{stack.url_suffix}/"
        csp = security_headers(api_origin, user_pool_endpoint.rstrip("/"))["Content-Security-Policy"]
        policy = self.headers_policy.node.default_child
        if not isinstance(policy, CfnResource):
            raise TypeError("the response headers policy has no CloudFormation resource")
        policy.add_property_override(
            "ResponseHeadersPolicyConfig.SecurityHeadersConfig.ContentSecurityPolicy.ContentSecurityPolicy",
            csp,
        )
        # The deployment function gets this construct's own role and log group (no managed policy)
        # and no CloudFront invalidation (whose permission has no resource scope in CDK's grant):
        # the cache policy's five-minute TTL brings a new page out instead.
        logs_group = logs.LogGroup(
            self, "DeployLogs", retention=logs.RetentionDays.ONE_YEAR, removal_policy=RemovalPolicy.RETAIN
        )
        role = function_role(self, "DeployRole", logs_group)
        s3deploy.BucketDeployment(
            self,
            "Content",
            destination_bucket=self.bucket,
            sources=[
                s3deploy.Source.asset(str(WEB_DIR), exclude=[HEADERS_FILE.name]),
                s3deploy.Source.json_data(
                    "config.json",
                    {
                        "api_url": api.url,
                        "region": stack.region,
                        "user_pool_id": user_pool.user_pool_id,
                        "user_pool_client_id": client.user_pool_client_id,
                        "cognito_endpoint": user_pool_endpoint,
                    },
                ),
            ],
            memory_limit=256,
            prune=True,
            role=role,
            log_group=logs_group,
        )
        self._trace(role)
        self.fulfillment = PlatformFunction(
            self,
            "Fulfillment",
            handler="subscriptions.handlers.fulfillment.handler",
            service="marketplace-fulfillment",
            description="vendstack AWS Marketplace fulfillment URL: 303 to the developer page",
            environment={**environment, "VS_DEVELOPER_PAGE_URL": f"{self.url}/"},
            powertools_layer_version=layer_version,
            memory_size=256,
        )
        api.add_routes(self.fulfillment.function, FULFILLMENT_ROUTES, developer_auth=False)
