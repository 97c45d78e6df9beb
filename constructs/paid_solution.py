"""The paid solution in the customer's account: the vendor's configured functions
(`vendstack.solution.functions`), whose code comes from the staged, verified artifacts and which
only run code signed by the vendor's signing profile. The function with `"api": true`, if any, is
served by a REST API under IAM authorization.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aws_cdk import Annotations, Aws, CfnCondition, Duration, Fn, RemovalPolicy
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3

from constructs import Construct
from constructs.platform_function import function_role
from customer_stack.solution.config import SolutionFunction


class PaidSolution(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        signing_profile_version_arn: str,
        staging_bucket: s3.IBucket,
        functions: Sequence[SolutionFunction],
        artifact_keys: Mapping[str, str],
        authorization: str,
        access_logging: CfnCondition,
    ) -> None:
        super().__init__(scope, construct_id)
        self.code_signing = lambda_.CfnCodeSigningConfig(
            self,
            "CodeSigning",
            description="Only code signed by the vendor's signing profile may run",
            allowed_publishers=lambda_.CfnCodeSigningConfig.AllowedPublishersProperty(
                signing_profile_version_arns=[signing_profile_version_arn]
            ),
            code_signing_policies=lambda_.CfnCodeSigningConfig.CodeSigningPoliciesProperty(
                untrusted_artifact_on_deployment="Enforce"
            ),
        )
        # The staged keys name the release version (<product>/<version>/<name>.zip), so a new
        # release is a new key and CloudFormation updates the functions; no object version needed.
        Annotations.of(staging_bucket).acknowledge_warning(
            "@aws-cdk/aws-lambda:codeFromBucketObjectVersionNotSpecified",
            "staged object keys carry the release version",
        )
        self.functions: dict[str, lambda_.Function] = {
            function.name: self._function(function, staging_bucket, artifact_keys[function.name])
            for function in functions
        }
        api_function = next((f for f in functions if f.api), None)
        self.function = self.functions[api_function.name] if api_function else None
        self.api: apigw.LambdaRestApi | None = None
        if self.function is None:
            return

        self.api = apigw.LambdaRestApi(
            self,
            "RestApi",
            handler=self.function,
            proxy=True,
            cloud_watch_role=False,
            endpoint_types=[apigw.EndpointType.REGIONAL],
            default_method_options=apigw.MethodOptions(authorization_type=apigw.AuthorizationType.IAM),
            deploy_options=apigw.StageOptions(
                stage_name="prod",
                tracing_enabled=True,
                throttling_rate_limit=100,
                throttling_burst_limit=200,
            ),
        )
        self._access_logs_if(access_logging)
        self.api.add_request_validator(
            "Validator", validate_request_parameters=True, validate_request_body=True
        )
        # "AWS_IAM" by default; a customer may choose "NONE" for a private test deployment.
        for method in self.api.methods:
            method.node.default_child.add_property_override("AuthorizationType", authorization)

    def _access_logs_if(self, condition: CfnCondition) -> None:
        """Stage access logs only when the buyer opts in (`condition`).

        API Gateway writes any stage log, access logs included, through the account-level
        CloudWatch Logs role (`AWS::ApiGateway::Account` `CloudWatchRoleArn`); a brand-new account
        has none, and the stage then fails to deploy. AWS docs: "Set up CloudWatch logging for
        REST APIs in API Gateway"
        (https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-logging.html).
        """
        self.access_logs = logs.LogGroup(
            self, "ApiAccessLogs", retention=logs.RetentionDays.ONE_YEAR, removal_policy=RemovalPolicy.RETAIN
        )
        self.access_logs.node.default_child.cfn_options.condition = condition
        log_format = apigw.AccessLogFormat.json_with_standard_fields(
            caller=True,
            http_method=True,
            ip=True,
            protocol=True,
            request_time=True,
            resource_path=True,
            response_length=True,
            status=True,
            user=True,
        )
        stage = self.api.deployment_stage.node.default_child  # type: ignore[union-attr]  # deploy=True
        stage.access_log_setting = Fn.condition_if(
            condition.logical_id,
            {"DestinationArn": self.access_logs.log_group_arn, "Format": log_format.to_string()},
            Aws.NO_VALUE,
        )

    def _function(self, function: SolutionFunction, bucket: s3.IBucket, key: str) -> lambda_.Function:
        """One configured function under the code-signing config. The sample's `api` keeps the
        construct ids it always had, so existing customer stacks update in place."""
        prefix = "" if function.name == "api" else f"Fn{function.attribute}"
        log_group = logs.LogGroup(
            self, f"{prefix}Logs", retention=logs.RetentionDays.ONE_YEAR, removal_policy=RemovalPolicy.RETAIN
        )
        if function.name == "api":
            self.log_group = log_group
        created = lambda_.Function(
            self,
            prefix or "Api",
            role=function_role(self, f"{prefix}Role", log_group),
            runtime=lambda_.Runtime(function.runtime, lambda_.RuntimeFamily.PYTHON),
            handler=function.handler,
            code=lambda_.Code.from_bucket(bucket, key),
            description=(
                "The paid solution's API (code staged by the activation resource)"
                if function.api
                else f"The paid solution's {function.name} function (code staged by the activation resource)"
            ),
            timeout=Duration.seconds(function.timeout_s),
            memory_size=function.memory_mb,
            tracing=lambda_.Tracing.ACTIVE,
            log_group=log_group,
            environment=dict(function.environment) or None,
        )
        created.node.default_child.add_property_override(
            "CodeSigningConfigArn", self.code_signing.attr_code_signing_config_arn
        )
        return created
