"""The platform's REST API: one API Gateway with access logs, throttling, tracing and a
Cognito authorizer that developer routes use. Features attach their routes with
`add_routes`, so the API construct knows nothing of what each feature does.

Every route gets throttle settings of its own (stage `MethodSettings` per method), so a flood on
one route is throttled on that route and `POST /v1/usage` keeps its own budget; and the routes'
rates together stay within the account's regional API Gateway quota, so floods on the other
routes cannot use up the account-level bucket that every route shares. AWS docs: "Throttle
requests to your REST APIs for better throughput in API Gateway"
(https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-request-throttling.html:
per-API, per-stage limits apply per method; the account-level limit applies across all APIs of
the account in a region) and "Amazon API Gateway quotas" (10,000 requests per second by default).
"""

from __future__ import annotations

import jsii
from aws_cdk import Aspects, IAspect, RemovalPolicy
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs

from constructs import Construct

STAGE = "prod"
# The default account-level throttle of API Gateway per region (Service Quotas can raise it).
ACCOUNT_RATE_QUOTA = 10_000


def resource_path(path: str) -> str:
    """A route's path as MethodSettings names it: every `/` of the path written `~1`, after a `/`
    (AWS docs: AWS::ApiGateway::Stage MethodSetting, `ResourcePath`)."""
    return "/" + path.replace("/", "~1")


@jsii.implements(IAspect)
class _MethodSettings:
    """Writes the stage's MethodSettings before synthesis, once every feature has added its routes."""

    def __init__(self, api: PlatformApi) -> None:
        self._api = api

    def visit(self, node) -> None:
        if node.node.path == self._api.rest_api.deployment_stage.node.default_child.node.path:
            node.method_settings = self._api.method_settings()


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
        route_throttles: dict[tuple[str, str], tuple[int, int]] | None = None,
    ) -> None:
        """`route_throttles` maps `(METHOD, /path)` to `(rate per second, burst)`; other routes get
        `throttle_rate`/`throttle_burst` as their own limits."""
        super().__init__(scope, construct_id)
        self._default_throttle = (throttle_rate, throttle_burst)
        self._route_throttles = dict(route_throttles or {})
        self._routes: list[tuple[str, str]] = []
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
        Aspects.of(self).add(_MethodSettings(self))
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

    @property
    def routes(self) -> tuple[tuple[str, str], ...]:
        """Every `(METHOD, /path)` the features attached (CORS preflights excluded)."""
        return tuple(self._routes)

    def add_routes(
        self,
        function: lambda_.IFunction,
        routes: list[tuple[str, str]],
        *,
        developer_auth: bool,
        iam_auth: bool = False,
    ) -> None:
        """Attach `(METHOD, /path)` routes to `function`; `developer_auth` puts the Cognito check in
        front, `iam_auth` API Gateway's SigV4 check (`AWS_IAM`: the caller's IAM identity)."""
        integration = apigw.LambdaIntegration(function, proxy=True)
        self._routes.extend(routes)
        for method, path in routes:
            resource = self.rest_api.root.resource_for_path(path)
            if iam_auth:
                resource.add_method(
                    method,
                    integration,
                    authorization_type=apigw.AuthorizationType.IAM,
                    request_validator=self.validator,
                )
            elif developer_auth:
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

    def method_settings(self) -> list[apigw.CfnStage.MethodSettingProperty]:
        """The stage default (`*` on `/*`) and one entry per route with that route's own limits."""
        unknown = set(self._route_throttles) - set(self._routes)
        if unknown:
            raise ValueError(f"throttles configured for routes the API does not have: {sorted(unknown)}")
        rate, burst = self._default_throttle
        settings = [_setting("*", "/*", rate, burst)]
        for method, path in sorted(self._routes):
            route_rate, route_burst = self._route_throttles.get((method, path), self._default_throttle)
            settings.append(_setting(method, resource_path(path), route_rate, route_burst))
        total = sum(s.throttling_rate_limit for s in settings[1:])
        if total > ACCOUNT_RATE_QUOTA:
            raise ValueError(
                f"the routes' throttles add up to {total} requests per second, over API Gateway's default "
                f"account quota of {ACCOUNT_RATE_QUOTA} per region: lower api.throttle_rate_per_second or "
                "api.route_throttles"
            )
        return settings


def _setting(method: str, path: str, rate: int, burst: int) -> apigw.CfnStage.MethodSettingProperty:
    return apigw.CfnStage.MethodSettingProperty(
        http_method=method,
        resource_path=path,
        throttling_rate_limit=rate,
        throttling_burst_limit=burst,
        metrics_enabled=True,
        data_trace_enabled=False,
    )
