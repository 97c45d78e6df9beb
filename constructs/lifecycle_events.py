"""Customer lifecycle events on an EventBridge bus, for the vendor's own systems (CRM, billing).

A translator function reads the streams of the platform-data and key-vault tables (new and old
images) and publishes what each committed write means: subscribed, approved, activated, key
created, key revoked, suspended, resumed, entered grace, hour metered, metering failed
(`runtime/events/logic/translate.py`; schemas in docs/protocol.md §8). One place, no publish in
any feature, exactly the committed transitions (AWS docs: "Change data capture for DynamoDB
Streams"). A vendor system subscribes with a rule on the bus (`source: vendstack.platform`).

The event source retries a failed batch, bisects it to isolate a bad record, and sends what still
fails to a dead-letter queue with an alarm (AWS docs: "Using AWS Lambda with Amazon DynamoDB",
`BisectBatchOnFunctionError`, `MaximumRetryAttempts`, on-failure destination).
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources

from constructs import Construct
from constructs.key_vault import KeyVault
from constructs.platform_data import PlatformData
from constructs.platform_function import PlatformFunction
from constructs.queues import dead_letter_alarm, private_queue

SOURCE = "vendstack.platform"


class LifecycleEvents(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        data: PlatformData,
        vault: KeyVault,
        environment: dict[str, str],
        layer_version: int,
    ) -> None:
        super().__init__(scope, construct_id)
        self.bus = events.EventBus(self, "Bus", description="vendstack customer lifecycle events")
        self.dead_letters = private_queue(self, "DeadLetters")
        self.handler = PlatformFunction(
            self,
            "Translator",
            handler="events.handlers.stream.handler",
            service="events",
            description="vendstack lifecycle events: table streams to the event bus",
            environment={**environment, "VS_EVENT_BUS": self.bus.event_bus_name},
            powertools_layer_version=layer_version,
            timeout_seconds=60,
        )
        fn = self.handler.function
        self.bus.grant_put_events_to(fn)
        for table in (data.table, vault.table):
            fn.add_event_source(
                sources.DynamoEventSource(
                    table,
                    starting_position=lambda_.StartingPosition.TRIM_HORIZON,
                    batch_size=100,
                    max_batching_window=Duration.seconds(1),
                    retry_attempts=10,
                    bisect_batch_on_error=True,
                    on_failure=sources.SqsDlq(self.dead_letters),
                )
            )
        self.dead_letter_alarm = dead_letter_alarm(
            self,
            "DeadLetterAlarm",
            self.dead_letters,
            "Lifecycle events could not be published: stream batches are described in the queue",
        )
