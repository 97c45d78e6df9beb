"""Hourly AWS Marketplace metering: closed hours of accepted usage, per customer and dimension,
sent with BatchMeterUsage exactly once (runtime/metering/), with a dead-letter queue and alarms
on job errors and on records Marketplace refused."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam

from constructs import Construct
from constructs.alarms import hourly_count_alarm
from constructs.platform_data import PlatformData
from constructs.scheduled_job import ScheduledJob


class MarketplaceMetering(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        data: PlatformData,
        schedule_minutes: int,
        environment: dict[str, str],
        layer_version: int,
    ) -> None:
        super().__init__(scope, construct_id)
        self.job = ScheduledJob(
            self,
            "Hourly",
            handler="metering.handlers.job.handler",
            service="metering",
            description="vendstack: meters closed hours of usage to AWS Marketplace (BatchMeterUsage)",
            schedule=events.Schedule.rate(Duration.minutes(schedule_minutes)),
            environment=environment,
            layer_version=layer_version,
            timeout_seconds=900,
            memory_size=1024,
        )
        fn = self.job.function
        data.grant_items(
            fn, "dynamodb:BatchGetItem", "dynamodb:BatchWriteItem", "dynamodb:UpdateItem", index=True
        )
        # BatchMeterUsage has no resource-level permissions.
        fn.add_to_role_policy(
            iam.PolicyStatement(actions=["aws-marketplace:BatchMeterUsage"], resources=["*"])
        )
        self.failures_alarm = self._count_alarm(
            "MeteringFailures", "Usage records could not be metered (refused, expired or not subscribed)"
        )
        # botocore refused a record client-side (ParamValidationError): a bug in the function's
        # SDK or code, never retried; the records are flagged `failed` for the vendor.
        self.sdk_refused_alarm = self._count_alarm(
            "MeteringSdkRefused",
            "The SDK refused usage records before sending them (ParamValidationError): "
            "a bug, the records are flagged failed",
        )

    def _count_alarm(self, metric_name: str, description: str) -> cloudwatch.Alarm:
        """An alarm on any count of the job's own metric `metric_name` within an hour."""
        return hourly_count_alarm(
            self, metric_name, service="metering", metric_name=metric_name, description=description
        )
