"""One Lambda function of the vendor platform, configured the same way as all the others.

Every platform function ships the whole `runtime/` folder as its asset (handlers are referred
to by their string path; the CDK code never imports them), runs on the same Python runtime
with the Powertools public layer and the pinned-SDK layer (`constructs/sdk_layer.py`), has
X-Ray tracing and a log group with a retention.
"""

from __future__ import annotations

from pathlib import Path

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs

from constructs import Construct
from constructs.sdk_layer import sdk_layer

RUNTIME_DIR = Path(__file__).resolve().parent.parent / "runtime"
PYTHON_RUNTIME = lambda_.Runtime.PYTHON_3_14
POWERTOOLS_LAYER = (
    "arn:{partition}:lambda:{region}:017000801446:layer:"
    "AWSLambdaPowertoolsPythonV3-python314-x86_64:{version}"
)
RUNTIME_EXCLUDES = ["**/__pycache__", "**/*.pyc", "**/.pytest_cache"]


def function_role(scope: Construct, construct_id: str, log_group: logs.ILogGroup) -> iam.Role:
    """A role that may write to its function's own log group and nothing else yet.

    Used instead of the AWSLambdaBasicExecutionRole managed policy, which allows writing to
    every log group of the account.
    """
    role = iam.Role(scope, construct_id, assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    role.add_to_policy(
        iam.PolicyStatement(
            actions=["logs:CreateLogStream", "logs:PutLogEvents"],
            resources=[log_group.log_group_arn],
        )
    )
    return role


class PlatformFunction(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        handler: str,
        service: str,
        description: str,
        environment: dict[str, str],
        powertools_layer_version: int,
        timeout_seconds: int = 10,
        memory_size: int = 512,
        dead_letter_queue: sqs.IQueue | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        layer_arn = POWERTOOLS_LAYER.format(
            partition=stack.partition, region=stack.region, version=powertools_layer_version
        )
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            retention=logs.RetentionDays.ONE_YEAR,
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.role = function_role(self, "Role", self.log_group)
        self.function = lambda_.Function(
            self,
            "Function",
            role=self.role,
            runtime=PYTHON_RUNTIME,
            architecture=lambda_.Architecture.X86_64,
            handler=handler,
            code=lambda_.Code.from_asset(str(RUNTIME_DIR), exclude=RUNTIME_EXCLUDES),
            description=description,
            timeout=Duration.seconds(timeout_seconds),
            memory_size=memory_size,
            dead_letter_queue=dead_letter_queue,
            tracing=lambda_.Tracing.ACTIVE,
            log_group=self.log_group,
            # The SDK layer comes last: on a path both layers hold, the later layer's file wins.
            layers=[
                lambda_.LayerVersion.from_layer_version_arn(self, "Powertools", layer_arn),
                sdk_layer(self, PYTHON_RUNTIME),
            ],
            environment={
                "POWERTOOLS_SERVICE_NAME": service,
                "POWERTOOLS_METRICS_NAMESPACE": "Vendstack",
                "POWERTOOLS_LOGGER_LOG_EVENT": "false",
                **environment,
            },
        )
