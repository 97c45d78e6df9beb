"""One alarm shape for the platform's own counters: any count of a metric the jobs emit in the
`Vendstack` namespace, within an hour, alarms; no data (nothing happened) is not an alarm."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch

from constructs import Construct


def hourly_count_alarm(
    scope: Construct,
    construct_id: str,
    *,
    service: str,
    metric_name: str,
    description: str,
    statistic: str = "Sum",
) -> cloudwatch.Alarm:
    """An alarm when the hour's `statistic` of `Vendstack/metric_name` (dimension `service`) is 1
    or more."""
    return cloudwatch.Alarm(
        scope,
        construct_id,
        alarm_description=description,
        metric=cloudwatch.Metric(
            namespace="Vendstack",
            metric_name=metric_name,
            dimensions_map={"service": service},
            statistic=statistic,
            period=Duration.hours(1),
        ),
        threshold=1,
        evaluation_periods=1,
        comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
    )
