"""The paid solution in the customer's account: functions whose code comes from the staged,
verified artifacts and which only run code signed by the vendor's signing profile.
"""

from __future__ import annotations

from aws_cdk import Annotations, Aws, CfnCondition, Duration, Fn, RemovalPolicy
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3

from constructs import Construct
from constructs.platform_function import PYTHON_RUNTIME, function_role


class PaidSolution(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        signing_profile_version_arn: str,
        staging_bucket: s3.IBucket,
        artifact_key: str,
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
        self.log_group = logs.LogGroup(
            self, "Logs", retention=logs.RetentionDays.ONE_YEAR, removal_policy=RemovalPolicy.RETAIN
        )
        self.function = lambda_.Function(
            self,
            "Api",
            role=function_role(self, "Role", self.log_group),
            runtime=PYTHON_RUNTIME,
            handler="handler.handler",
            code=lambda_.Code.from_bucket(staging_bucket, artifact_key),
            description="The paid solution's API (code staged by the activation resource)",
            timeout=Duration.seconds(15),
            memory_size=512,
            tracing=lambda_.Tracing.ACTIVE,
            log_group=self.log_group,
        )
        # The staged key names the release version (<product>/<version>/<name>.zip), so a new
        # release is a new key and CloudFormation updates the function; no object version needed.
        Annotations.of(staging_bucket).acknowledge_warning(
            "@aws-cdk/aws-lambda:codeFromBucketObjectVersionNotSpecified",
            "staged object keys carry the release version",
        )
        cfn_function = self.function.node.default_child
        cfn_function.add_property_override(
            "CodeSigningConfigArn", self.code_signing.attr_code_signing_config_arn
        )

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
        stage = self.api.deployment_stage.node.default_child
        stage.access_log_setting = Fn.condition_if(
            condition.logical_id,
            {"DestinationArn": self.access_logs.log_group_arn, "Format": log_format.to_string()},
            Aws.NO_VALUE,
        )
