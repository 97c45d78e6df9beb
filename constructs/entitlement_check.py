"""The license check in the customer's account: every solution function can fetch and verify
license tokens, and, when the buyer turns IAM authorization off, a Lambda REQUEST authorizer
makes the same check in front of the solution's API.

**In the functions** (always): each configured function gets the settings of
`customer_stack/solution/entitlement.py` as environment variables (the vendor URL and public key
from the template's parameters, the key pair's secret ARN, and `cdk.json` → `license_tokens`)
and may read the key pair's secret; the sample handler is wrapped in `@entitled()`, and the
vendor's own functions use the same decorator.

**The authorizer** (`ApiAuthorization=NONE` only): API Gateway gives a method one authorization
type, and `AWS_IAM` stays the buyer's own access control; with `NONE` the methods use this
authorizer instead (`CUSTOM`). Its code is the API function's own signed artifact (handler
`entitlement.authorizer`), under the same code-signing config, so no unsigned code decides.
Results are cached by API Gateway for `license_tokens.authorizer_cache_seconds`, keyed by the
request's method and path (context variables as identity sources), since the decision depends
on the route and the stack's token, not on the caller.

How a decision reaches the caller (AWS docs: "Gateway response types for API Gateway",
https://docs.aws.amazon.com/apigateway/latest/developerguide/supported-gateway-response-types.html,
and "Use API Gateway Lambda authorizers"): an Allow policy lets the integration run; a Deny
policy is the `ACCESS_DENIED` gateway response (default 403), whose status code this template
sets to **402** and whose body carries the authorizer's `context.code` and `context.message`
in the error shape; an authorizer that raises `Unauthorized` is the `UNAUTHORIZED` response
(401, with a fixed body: its message cannot come from the authorizer); any other failure of the
authorizer is `AUTHORIZER_FAILURE` / `AUTHORIZER_CONFIGURATION_ERROR` (500).
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from aws_cdk import Aws, CfnCondition, Duration, Fn, RemovalPolicy
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager

from constructs import Construct
from constructs.platform_function import function_role
from stacks.license_tokens import LicenseTokens

AUTHORIZER_HANDLER = "entitlement.authorizer"
# The error shape of docs/protocol.md §1; `$context.authorizer.*` are the Deny's context values.
DENIED_BODY = '{"error":{"code":"$context.authorizer.code","message":"$context.authorizer.message"}}'
# API Gateway's own default body of a gateway response (kept under AWS_IAM).
DEFAULT_BODY = '{"message":$context.error.messageString}'
UNAUTHORIZED_BODY = json.dumps(
    {
        "error": {
            "code": "LicenseUnavailable",
            "message": "No license token could be obtained from the vendor; calls are refused until one can.",
        }
    },
    separators=(",", ":"),
)


def license_environment(
    *, vendor_api_url: str, vendor_public_key: str, secret_arn: str, settings: LicenseTokens
) -> dict[str, str]:
    """What `customer_stack/solution/entitlement.py` reads."""
    return {
        "VS_LICENSE_URL": vendor_api_url,
        "VS_LICENSE_PUBLIC_KEY": vendor_public_key,
        "VS_LICENSE_SECRET_ARN": secret_arn,
        "VS_LICENSE_GRACE_SECONDS": str(settings.offline_grace_seconds),
        "VS_LICENSE_REFRESH_SECONDS": str(settings.refresh_ahead_seconds),
        "VS_LICENSE_ROUTES": json.dumps(settings.routes, separators=(",", ":"), sort_keys=True),
    }


class EntitlementCheck(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        functions: Mapping[str, lambda_.Function],
        secret: secretsmanager.ISecret,
        vendor_api_url: str,
        vendor_public_key: str,
        settings: LicenseTokens,
        api: apigw.LambdaRestApi | None,
        api_function: lambda_.Function | None,
        api_artifact_key: str | None,
        staging_bucket: s3.IBucket,
        code_signing_config_arn: str,
        authorization: str,
    ) -> None:
        super().__init__(scope, construct_id)
        self.environment = license_environment(
            vendor_api_url=vendor_api_url,
            vendor_public_key=vendor_public_key,
            secret_arn=secret.secret_arn,
            settings=settings,
        )
        for function in functions.values():
            for name, value in self.environment.items():
                function.add_environment(name, value)
            secret.grant_read(function)
        self.authorizer_function: lambda_.Function | None = None
        if api is None or api_function is None or api_artifact_key is None:
            return
        self.uses_authorizer = CfnCondition(
            self, "UsesLicenseAuthorizer", expression=Fn.condition_equals(authorization, "NONE")
        )
        log_group = logs.LogGroup(
            self, "AuthorizerLogs", retention=logs.RetentionDays.ONE_YEAR, removal_policy=RemovalPolicy.RETAIN
        )
        self.authorizer_function = lambda_.Function(
            self,
            "Authorizer",
            role=function_role(self, "AuthorizerRole", log_group),
            runtime=api_function.runtime,
            handler=AUTHORIZER_HANDLER,
            code=lambda_.Code.from_bucket(staging_bucket, api_artifact_key),
            description="License check in front of the solution API when ApiAuthorization is NONE",
            timeout=Duration.seconds(10),
            memory_size=256,
            tracing=lambda_.Tracing.ACTIVE,
            log_group=log_group,
            environment=dict(self.environment),
        )
        self.authorizer_function.node.default_child.add_property_override(
            "CodeSigningConfigArn", code_signing_config_arn
        )
        secret.grant_read(self.authorizer_function)
        self.authorizer = apigw.CfnAuthorizer(
            self,
            "LicenseAuthorizer",
            rest_api_id=api.rest_api_id,
            name="license-check",
            type="REQUEST",
            authorizer_uri=(
                f"arn:{Aws.PARTITION}:apigateway:{Aws.REGION}:lambda:path/2015-03-31/functions/"
                f"{self.authorizer_function.function_arn}/invocations"
            ),
            identity_source="context.httpMethod,context.path",
            authorizer_result_ttl_in_seconds=settings.authorizer_cache_seconds,
        )
        self.authorizer_function.add_permission(
            "ApiGatewayInvokesAuthorizer",
            principal=iam.ServicePrincipal("apigateway.amazonaws.com"),
            source_arn=Fn.join(
                "",
                [
                    f"arn:{Aws.PARTITION}:execute-api:{Aws.REGION}:{Aws.ACCOUNT_ID}:",
                    api.rest_api_id,
                    "/authorizers/",
                    self.authorizer.ref,
                ],
            ),
        )
        for method in api.methods:
            cfn = method.node.default_child
            cfn.add_property_override(
                "AuthorizationType", Fn.condition_if(self.uses_authorizer.logical_id, "CUSTOM", "AWS_IAM")
            )
            cfn.add_property_override(
                "AuthorizerId",
                Fn.condition_if(self.uses_authorizer.logical_id, self.authorizer.ref, Aws.NO_VALUE),
            )
        # A Deny is ACCESS_DENIED: 402 with the authorizer's reason in the error shape; a raised
        # `Unauthorized` is UNAUTHORIZED: 401 in the error shape. Only with the authorizer: under
        # AWS_IAM both keep API Gateway's defaults (ACCESS_DENIED is IAM's own 403). Conditional
        # values, not conditional resources: the API's deployment depends on its gateway responses.
        for construct_id, response_type, status, default_status, body in (
            ("LicenseDenied", apigw.ResponseType.ACCESS_DENIED, "402", "403", DENIED_BODY),
            ("LicenseUnavailable", apigw.ResponseType.UNAUTHORIZED, "401", "401", UNAUTHORIZED_BODY),
        ):
            response = api.add_gateway_response(construct_id, type=response_type)
            cfn = response.node.default_child
            cfn.add_property_override(
                "StatusCode", Fn.condition_if(self.uses_authorizer.logical_id, status, default_status)
            )
            cfn.add_property_override(
                "ResponseTemplates",
                {"application/json": Fn.condition_if(self.uses_authorizer.logical_id, body, DEFAULT_BODY)},
            )
