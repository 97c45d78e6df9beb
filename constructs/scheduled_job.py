"""A platform job run on a schedule: the function, its EventBridge rule, a dead-letter queue
for invocations that fail all retries, and alarms on errors and on anything in that queue."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets

from constructs import Construct
from constructs.platform_function import PlatformFunction
from constructs.queues import dead_letter_alarm, private_queue


class ScheduledJob(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        handler: str,
        service: str,
        description: str,
        schedule: events.Schedule,
        environment: dict[str, str],
        layer_version: int,
        timeout_seconds: int = 300,
        memory_size: int = 512,
    ) -> None:
        super().__init__(scope, construct_id)
        self.dead_letters = private_queue(self, "DeadLetters")
        self.handler = PlatformFunction(
            self,
            "Job",
            handler=handler,
            service=service,
            description=description,
            environment=environment,
            powertools_layer_version=layer_version,
            timeout_seconds=timeout_seconds,
            memory_size=memory_size,
            dead_letter_queue=self.dead_letters,
        )
        self.rule = events.Rule(
            self,
            "Schedule",
            schedule=schedule,
            targets=[
                targets.LambdaFunction(
                    self.handler.function, retry_attempts=2, dead_letter_queue=self.dead_letters
                )
            ],
        )
        self.error_alarm = cloudwatch.Alarm(
            self,
            "Errors",
            alarm_description=f"{service} job failed",
            metric=self.handler.function.metric_errors(period=Duration.hours(1)),
            threshold=1,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        self.dead_letter_alarm = dead_letter_alarm(
            self,
            "DeadLetterAlarm",
            self.dead_letters,
            f"{service} job invocations gave up and are waiting in the dead-letter queue",
        )

    @property
    def function(self):
        return self.handler.function
