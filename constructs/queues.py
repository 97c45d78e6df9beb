"""Queues the same way everywhere: SSE-SQS, TLS only, retained; and the one alarm every
dead-letter queue gets (anything visible in it for five minutes)."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_sqs as sqs

from constructs import Construct


def private_queue(scope: Construct, construct_id: str, *, retention_days: int = 14, **props) -> sqs.Queue:
    return sqs.Queue(
        scope,
        construct_id,
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        retention_period=Duration.days(retention_days),
        removal_policy=RemovalPolicy.RETAIN,
        **props,
    )


def dead_letter_alarm(
    scope: Construct, construct_id: str, queue: sqs.IQueue, description: str
) -> cloudwatch.Alarm:
    return cloudwatch.Alarm(
        scope,
        construct_id,
        alarm_description=description,
        metric=queue.metric_approximate_number_of_messages_visible(period=Duration.minutes(5)),
        threshold=1,
        evaluation_periods=1,
        treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
    )
