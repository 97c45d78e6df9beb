"""Usage reporting in the customer's account: the solution puts usage events on a queue (so
nothing is lost while the vendor is unreachable) and an hourly reporter, itself a signed paid
artifact, aggregates them per dimension and hour and reports them to the vendor's usage API.

The reporter has **no reserved concurrency**: a reservation is taken from the account's
concurrency quota, which is 10 in a new account, and Lambda refuses a reservation that would
leave less than 100 unreserved (so it fails the stack there). AWS docs: AWS Lambda Developer
Guide, "Configuring reserved concurrency for a function"
(https://docs.aws.amazon.com/lambda/latest/dg/configuration-concurrency.html) and "Lambda
quotas" (https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html). Overlapping
runs (an EventBridge redelivery, a retry, a manual invoke) are safe instead: each run owns what
it received through the visibility timeout, record ids are deterministic and idempotent at the
vendor, and what is not acknowledged is checkpointed (customer_stack/usage/README.md).
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
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
from constructs.queues import dead_letter_alarm, private_queue

REPORTER_TIMEOUT = Duration.minutes(5)
# A backstop only: the reporter moves malformed, refused and expired usage to the dead-letter
# queue itself. Each run receives a message about once (more when runs overlap), so this stays
# far above the runs a record gets within the vendor's window (≤ 24 h) and below the queue's
# 4-day retention counted in hourly runs.
MAX_RECEIVE_COUNT = 50


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
        usage_window_hours: int,
    ) -> None:
        super().__init__(scope, construct_id)
        self.dead_letters = private_queue(self, "DeadLetters")
        # Visibility = reporter timeout + 60 s (the reporter sets it per receive anyway).
        self.queue = private_queue(
            self,
            "Queue",
            retention_days=4,
            visibility_timeout=REPORTER_TIMEOUT.plus(Duration.seconds(60)),
            dead_letter_queue=sqs.DeadLetterQueue(
                max_receive_count=MAX_RECEIVE_COUNT, queue=self.dead_letters
            ),
        )
        # Reporter runs that failed every retry (separate from undeliverable usage events).
        self.failed_runs = private_queue(self, "FailedRuns")
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
            dead_letter_queue=self.failed_runs,
            tracing=lambda_.Tracing.ACTIVE,
            log_group=self.log_group,
            environment={
                "USAGE_QUEUE_URL": self.queue.queue_url,
                "VENDOR_API_URL": vendor_api_url,
                "SECRET_ARN": secret.secret_arn,
                "DEAD_LETTER_QUEUE_URL": self.dead_letters.queue_url,
                # How late the vendor still accepts a record (cdk.json metering.usage_window_hours):
                # the reporter retries until then and only then gives a record up.
                "USAGE_WINDOW_HOURS": str(usage_window_hours),
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
        self.function.add_to_role_policy(
            iam.PolicyStatement(actions=["sqs:SendMessage"], resources=[self.dead_letters.queue_arn])
        )
        self.rule = events.Rule(
            self,
            "Hourly",
            schedule=events.Schedule.rate(Duration.hours(1)),
            targets=[
                targets.LambdaFunction(self.function, retry_attempts=2, dead_letter_queue=self.failed_runs)
            ],
        )
        self.backlog_alarm = dead_letter_alarm(
            self,
            "DeadLetterAlarm",
            self.dead_letters,
            "Usage events could not be reported and are waiting in the dead-letter queue",
        )

        self.failed_runs_alarm = dead_letter_alarm(
            self,
            "FailedRunsAlarm",
            self.failed_runs,
            "The usage reporter failed every retry; see its log group",
        )

    def grant_record(self, function: lambda_.IFunction) -> None:
        """Let a solution function put usage events on the queue (the recorder's only need)."""
        function.add_environment("USAGE_QUEUE_URL", self.queue.queue_url)
        function.add_to_role_policy(
            iam.PolicyStatement(actions=["sqs:SendMessage"], resources=[self.queue.queue_arn])
        )
