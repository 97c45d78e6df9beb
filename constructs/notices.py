"""Customer notices: a daily job that emails keys about to expire (30 and 7 days) and
subscriptions in grace, once each (what was sent is recorded), to each team's owner and admins."""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_

from constructs import Construct
from constructs.key_vault import KeyVault
from constructs.platform_data import PlatformData
from constructs.scheduled_job import ScheduledJob


class CustomerNotices(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        vault: KeyVault,
        data: PlatformData,
        sender: str,
        environment: dict[str, str],
        layer_version: int,
    ) -> None:
        super().__init__(scope, construct_id)
        self.job = ScheduledJob(
            self,
            "Daily",
            handler="notices.handlers.job.handler",
            service="notices",
            description="vendstack: emails customers about expiring keys and subscriptions in grace",
            schedule=events.Schedule.cron(minute="0", hour="8"),
            environment=environment,
            layer_version=layer_version,
        )
        fn = self.job.function
        vault.grant_items(fn, "dynamodb:Scan")
        data.grant_items(
            fn,
            "dynamodb:Scan",
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
            "dynamodb:DeleteItem",
        )
        data.grant_items(fn, "dynamodb:Query", index=True)  # a team's owner and admins (gsi1)
        allow_sending(fn, sender)


def allow_sending(fn: lambda_.IFunction, sender: str) -> None:
    """`ses:SendEmail` from the notices sender only (its address or its domain identity): the
    notices job and the developer API (team invitations) send through it, nobody else."""
    stack = Stack.of(fn)
    domain = sender.split("@", 1)[1]
    fn.add_to_role_policy(
        iam.PolicyStatement(
            actions=["ses:SendEmail"],
            resources=[
                stack.format_arn(service="ses", resource="identity", resource_name=sender),
                stack.format_arn(service="ses", resource="identity", resource_name=domain),
            ],
            conditions={"StringEquals": {"ses:FromAddress": sender}},
        )
    )
