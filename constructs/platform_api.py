"""The platform's REST API: one API Gateway with access logs, throttling, tracing and a
Cognito authorizer that developer routes use. Features attach their routes with
`add_routes`, so the API construct knows nothing of what each feature does.
"""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs

from constructs import Construct

STAGE = "prod"


class PlatformApi(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        user_pool: cognito.IUserPool,
        throttle_rate: int,
        throttle_burst: int,
        cors_origins: tuple[str, ...],
    ) -> None:
        super().__init__(scope, construct_id)
        self.access_logs = logs.LogGroup(
            self, "AccessLogs", retention=logs.RetentionDays.ONE_YEAR, removal_policy=RemovalPolicy.RETAIN
        )
        self.rest_api = apigw.RestApi(
            self,
            "RestApi",
            description="vendstack vendor platform API",
            endpoint_types=[apigw.EndpointType.REGIONAL],
            cloud_watch_role=False,
            deploy_options=apigw.StageOptions(
                stage_name=STAGE,
                access_log_destination=apigw.LogGroupLogDestination(self.access_logs),
                access_log_format=apigw.AccessLogFormat.json_with_standard_fields(
                    caller=False,
                    http_method=True,
                    ip=True,
                    protocol=True,
                    request_time=True,
                    resource_path=True,
                    response_length=True,
                    status=True,
                    user=True,
                ),
                throttling_rate_limit=throttle_rate,
                throttling_burst_limit=throttle_burst,
                tracing_enabled=True,
                metrics_enabled=True,
            ),
            default_cors_preflight_options=apigw.CorsOptions(
                allow_origins=list(cors_origins),
                allow_methods=["GET", "POST", "DELETE", "OPTIONS"],
                allow_headers=["Authorization", "Content-Type"],
            ),
        )
        self.rest_api.add_gateway_response(
            "Unauthorized",
            type=apigw.ResponseType.UNAUTHORIZED,
            status_code="401",
            templates={
                "application/json": '{"error":{"code":"InvalidToken","message":"Sign in again: the ID token '
                'is missing, malformed, expired or not for this API."}}'
            },
        )
        self.rest_api.add_gateway_response(
            "Throttled",
            type=apigw.ResponseType.THROTTLED,
            status_code="429",
            response_headers={"Retry-After": "'1'"},
            templates={
                "application/json": '{"error":{"code":"Throttled",'
                '"message":"Too many requests; retry later."}}'
            },
        )
        self.rest_api.add_gateway_response(
            "TooLarge",
            type=apigw.ResponseType.REQUEST_TOO_LARGE,
            status_code="413",
            templates={
                "application/json": '{"error":{"code":"PayloadTooLarge",'
                '"message":"Request body is over the limit."}}'
            },
        )
        self.validator = self.rest_api.add_request_validator(
            "Validator", validate_request_parameters=True, validate_request_body=True
        )
        self.authorizer = apigw.CognitoUserPoolsAuthorizer(
            self,
            "DeveloperAuthorizer",
            cognito_user_pools=[user_pool],
            identity_source="method.request.header.Authorization",
        )

    @property
    def url(self) -> str:
        return self.rest_api.url

    def add_routes(
        self,
        function: lambda_.IFunction,
        routes: list[tuple[str, str]],
        *,
        developer_auth: bool,
    ) -> None:
        """Attach `(METHOD, /path)` routes to `function`; `developer_auth` puts the Cognito check in front."""
        integration = apigw.LambdaIntegration(function, proxy=True)
        for method, path in routes:
            resource = self.rest_api.root.resource_for_path(path)
            if developer_auth:
                resource.add_method(
                    method,
                    integration,
                    authorizer=self.authorizer,
                    authorization_type=apigw.AuthorizationType.COGNITO,
                    request_validator=self.validator,
                )
            else:
                resource.add_method(
                    method,
                    integration,
                    authorization_type=apigw.AuthorizationType.NONE,
                    request_validator=self.validator,
                )
