"""The operators' CloudWatch dashboard: the platform per hour, for people who would rather look.

Widgets (every metric summed, or averaged for latency, per hour):

- per route of the API: requests (`Count`), errors (`4XXError`, `5XXError`) and latency (`Latency`
  p50 and p99), from API Gateway's per-method metrics, which the stage enables for every route
  (`MetricsEnabled` in each MethodSetting). AWS docs: "Amazon API Gateway dimensions and metrics"
  (https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-metrics-and-dimensions.html):
  per-method metrics carry the dimensions ApiName, Method, Resource and Stage;
- activations (`Vendstack/Activations`, license service);
- usage ingested (`UsageRecordsAccepted`) and usage metered (`MeteringRecordsMetered`);
- metering failures and flagged records (`MeteringRecordFailed`, `MeteringSdkRefused`,
  `MeteringExpired`, `MeteringCustomerNotSubscribed`, `MeteringDuplicateRecord`);
- dead-letter queue depths (`ApproximateNumberOfMessagesVisible`, maximum per hour);
- silent stacks (`Vendstack/SilentActivations`, activations service, maximum per hour): active
  customer stacks that reported no usage for `silent_usage.after_hours` (constructs/silent_usage.py).
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_sqs as sqs

from constructs import Construct
from constructs.platform_api import STAGE, PlatformApi

HOUR = Duration.hours(1)
NAMESPACE = "Vendstack"
WIDTH = 12
HEIGHT = 6


def _own(name: str, service: str, label: str | None = None) -> cloudwatch.Metric:
    return cloudwatch.Metric(
        namespace=NAMESPACE,
        metric_name=name,
        dimensions_map={"service": service},
        statistic="Sum",
        period=HOUR,
        label=label or name,
    )


class OperationsDashboard(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        api: PlatformApi,
        dead_letter_queues: list[sqs.IQueue],
    ) -> None:
        super().__init__(scope, construct_id)
        self.dashboard = cloudwatch.Dashboard(self, "Dashboard", default_interval=Duration.days(2))
        routes = sorted(api.routes)

        def per_route(metric: str, statistic: str) -> list[cloudwatch.IMetric]:
            return [
                cloudwatch.Metric(
                    namespace="AWS/ApiGateway",
                    metric_name=metric,
                    dimensions_map={
                        "ApiName": api.rest_api.rest_api_name,
                        "Method": method,
                        "Resource": path,
                        "Stage": STAGE,
                    },
                    statistic=statistic,
                    period=HOUR,
                    label=f"{method} {path}",
                )
                for method, path in routes
            ]

        def graph(title: str, metrics: list[cloudwatch.IMetric]) -> cloudwatch.GraphWidget:
            return cloudwatch.GraphWidget(title=title, left=metrics, width=WIDTH, height=HEIGHT, period=HOUR)

        self.dashboard.add_widgets(
            graph("Requests per route (per hour)", per_route("Count", "Sum")),
            graph("Server errors (5XX) per route (per hour)", per_route("5XXError", "Sum")),
        )
        self.dashboard.add_widgets(
            graph("Client errors (4XX) per route (per hour)", per_route("4XXError", "Sum")),
            graph("Latency p99 per route (ms)", per_route("Latency", "p99")),
        )
        self.dashboard.add_widgets(
            graph("Latency p50 per route (ms)", per_route("Latency", "p50")),
            graph("Activations (per hour)", [_own("Activations", "license")]),
        )
        self.dashboard.add_widgets(
            graph(
                "Usage records ingested and metered (per hour)",
                [
                    _own("UsageRecordsAccepted", "license", "ingested"),
                    _own("MeteringRecordsMetered", "metering", "metered"),
                ],
            ),
            graph(
                "Metering failures and flagged records (per hour)",
                [
                    _own("MeteringRecordFailed", "metering", "failed"),
                    _own("MeteringSdkRefused", "metering", "refused by the SDK"),
                    _own("MeteringExpired", "metering", "expired (flagged)"),
                    _own("MeteringCustomerNotSubscribed", "metering", "not subscribed (flagged)"),
                    _own("MeteringDuplicateRecord", "metering", "duplicate (flagged)"),
                ],
            ),
        )
        self.dashboard.add_widgets(
            graph(
                "Dead-letter queue depths (max per hour)",
                [
                    queue.metric_approximate_number_of_messages_visible(
                        period=HOUR, statistic="Maximum", label=queue.node.path.rsplit("/", 1)[0]
                    )
                    for queue in dead_letter_queues
                ],
            ),
            graph(
                "Silent stacks: active, no usage for silent_usage.after_hours (max per hour)",
                [
                    cloudwatch.Metric(
                        namespace=NAMESPACE,
                        metric_name="SilentActivations",
                        dimensions_map={"service": "activations"},
                        statistic="Maximum",
                        period=HOUR,
                        label="silent stacks",
                    )
                ],
            ),
        )
