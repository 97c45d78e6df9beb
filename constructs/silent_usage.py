"""Silent usage: an hourly job that counts active customer stacks whose usage stopped arriving
(`runtime/activations/handlers/silence_job.py`), and an alarm for the vendor when any is silent
for longer than `cdk.json` → `silent_usage.after_hours`."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_events as events

from constructs import Construct
from constructs.alarms import hourly_count_alarm
from constructs.platform_data import PlatformData
from constructs.platform_function import PYTHON_RUNTIME
from constructs.scheduled_job import ScheduledJob
from constructs.sdk_layer import sdk_layer


class SilentUsage(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        data: PlatformData,
        environment: dict[str, str],
        layer_version: int,
    ) -> None:
        super().__init__(scope, construct_id)
        self.job = ScheduledJob(
            self,
            "Hourly",
            handler="activations.handlers.silence_job.handler",
            service="activations",
            description="vendstack: counts active customer stacks that stopped reporting usage",
            schedule=events.Schedule.rate(Duration.hours(1)),
            environment=environment,
            layer_version=layer_version,
            timeout_seconds=300,
            memory_size=512,
        )
        # Every vendor function lists the pinned-SDK layer last (on a path both layers hold, the later
        # one wins: constructs/platform_function.py); this function's rendering came out reversed,
        # so its order is stated explicitly.
        self.job.function.node.default_child.add_property_override(
            "Layers",
            [
                self.job.handler.node.find_child("Powertools").layer_version_arn,
                sdk_layer(self, PYTHON_RUNTIME).layer_version_arn,
            ],
        )
        # A Scan of the platform-data table filtered to active activations (no index lists every
        # customer's activations); once an hour, it reads the table once.
        data.grant_items(self.job.function, "dynamodb:Scan")
        self.alarm = hourly_count_alarm(
            self,
            "SilentActivations",
            service="activations",
            metric_name="SilentActivations",
            statistic="Maximum",  # the job reports how many are silent now, once per run
            description=(
                "Active customer stacks reported no usage for longer than silent_usage.after_hours "
                "(reporter stopped, queue repointed, or idle): see the job's log and the usage report"
            ),
        )
