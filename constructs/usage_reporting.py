"""Usage reporting in the customer's account: the solution puts usage events on a queue (so
nothing is lost while the vendor is unreachable) and an hourly reporter, itself a signed paid
artifact, aggregates them per dimension and hour and reports them to the vendor's usage API."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sqs as sqs

from constructs import Construct
from constructs.platform_function import PYTHON_RUNTIME, function_role

REPORTER_TIMEOUT = Duration.minutes(5)


class UsageReporting(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        staging_bucket: s3.IBucket,
        artifact_key: str,
        code_signing_config_arn: str,
        secret: secretsmanager.ISecret,
        vendor_api_url: str,
    ) -> None:
        super().__init__(scope, construct_id)
        self.dead_letters = sqs.Queue(
            self,
            "DeadLetters",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(14),
            removal_policy=RemovalPolicy.RETAIN,
        )
        # Visibility = reporter timeout + 60 s; an event is received once, a checkpoint once per
        # run, so 10 receives is past the vendor's acceptance window (customer_stack/usage/README.md).
        self.queue = sqs.Queue(
            self,
            "Queue",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            visibility_timeout=REPORTER_TIMEOUT.plus(Duration.seconds(60)),
            retention_period=Duration.days(4),
            dead_letter_queue=sqs.DeadLetterQueue(max_receive_count=10, queue=self.dead_letters),
            removal_policy=RemovalPolicy.RETAIN,
        )
        # Reporter runs that failed every retry (separate from undeliverable usage events).
        self.failed_runs = sqs.Queue(
            self,
            "FailedRuns",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(14),
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.log_group = logs.LogGroup(
            self, "Logs", retention=logs.RetentionDays.ONE_YEAR, removal_policy=RemovalPolicy.RETAIN
        )
        self.function = lambda_.Function(
            self,
            "Reporter",
            role=function_role(self, "Role", self.log_group),
            runtime=PYTHON_RUNTIME,
            handler="reporter.handler",
            code=lambda_.Code.from_bucket(staging_bucket, artifact_key),
            description="Reports aggregated usage to the vendor every hour (code staged by the activation)",
            timeout=REPORTER_TIMEOUT,
            memory_size=512,
            reserved_concurrent_executions=1,
            dead_letter_queue=self.failed_runs,
            tracing=lambda_.Tracing.ACTIVE,
            log_group=self.log_group,
            environment={
                "USAGE_QUEUE_URL": self.queue.queue_url,
                "VENDOR_API_URL": vendor_api_url,
                "SECRET_ARN": secret.secret_arn,
            },
        )
        self.function.node.default_child.add_property_override(
            "CodeSigningConfigArn", code_signing_config_arn
        )
        secret.grant_read(self.function)
        self.function.add_to_role_policy(
            iam.PolicyStatement(
                actions=[
                    "sqs:ReceiveMessage",
                    "sqs:DeleteMessage",
                    "sqs:SendMessage",
                    "sqs:ChangeMessageVisibility",
                ],
                resources=[self.queue.queue_arn],
            )
        )
        self.rule = events.Rule(
            self,
            "Hourly",
            schedule=events.Schedule.rate(Duration.hours(1)),
            targets=[
                targets.LambdaFunction(self.function, retry_attempts=2, dead_letter_queue=self.failed_runs)
            ],
        )
        self.backlog_alarm = cloudwatch.Alarm(
            self,
            "DeadLetterAlarm",
            alarm_description="Usage events could not be reported and are waiting in the dead-letter queue",
            metric=self.dead_letters.metric_approximate_number_of_messages_visible(
                period=Duration.minutes(5)
            ),
            threshold=1,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )

        self.failed_runs_alarm = cloudwatch.Alarm(
            self,
            "FailedRunsAlarm",
            alarm_description="The usage reporter failed every retry; see its log group",
            metric=self.failed_runs.metric_approximate_number_of_messages_visible(period=Duration.minutes(5)),
            threshold=1,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )

    def grant_record(self, function: lambda_.IFunction) -> None:
        """Let a solution function put usage events on the queue (the recorder's only need)."""
        function.add_environment("USAGE_QUEUE_URL", self.queue.queue_url)
        function.add_to_role_policy(
            iam.PolicyStatement(actions=["sqs:SendMessage"], resources=[self.queue.queue_arn])
        )
