"""AWS Marketplace Quick Launch: the job that issues each agreement's deployment key through the
key vault and delivers it to the buyer's account with PutDeploymentParameter, rotates it when the
agreement is replaced and revokes it when the grace ends (runtime/quicklaunch/). Registration and
Marketplace events mark a customer due; the job runs every few minutes, retries what failed at its
next run, and alarms on failures and on invocations that gave up."""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam

from constructs import Construct
from constructs.alarms import hourly_count_alarm
from constructs.key_vault import KeyVault
from constructs.platform_data import PlatformData
from constructs.scheduled_job import ScheduledJob

# The deployment parameter's name, and the customer template's parameter of the same name: AWS
# docs "DeploymentParameterInput" (Marketplace Deployment Service API reference): to be used
# through Quick Launch, the name "must match a parameter defined in the CloudFormation template".
DEPLOYMENT_PARAMETER_NAME = "DeploymentKey"
SCHEDULE_MINUTES = 5


class QuickLaunchKeys(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        vault: KeyVault,
        data: PlatformData,
        product_id: str,
        environment: dict[str, str],
        layer_version: int,
    ) -> None:
        super().__init__(scope, construct_id)
        self.job = ScheduledJob(
            self,
            "Deliveries",
            handler="quicklaunch.handlers.job.handler",
            service="quicklaunch",
            description="vendstack: issues, delivers (PutDeploymentParameter) and retires Quick Launch keys",
            schedule=events.Schedule.rate(Duration.minutes(SCHEDULE_MINUTES)),
            environment={**environment, "VS_DEPLOYMENT_PARAMETER": DEPLOYMENT_PARAMETER_NAME},
            layer_version=layer_version,
            timeout_seconds=300,
            memory_size=512,
        )
        fn = self.job.function
        # Keys: read the key and key set, write both in one transaction, revoke (keys logic).
        vault.grant_items(fn, "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem")
        vault.grant_secret_derivation(fn)
        # Subscriptions (read), deployment-key records and due markers (gsi1).
        data.grant_items(
            fn,
            "dynamodb:GetItem",
            "dynamodb:Query",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
            "dynamodb:DeleteItem",
            index=True,
        )
        # PutDeploymentParameter takes the DeploymentParameter resource type, so it is scoped to
        # this product's parameters in the seller's account (AWS docs: "Actions, resources, and
        # condition keys for AWS Marketplace Deployment Service", Service Authorization Reference:
        # arn:${Partition}:aws-marketplace:${Region}:${Account}:DeploymentParameter:catalogs/
        # ${CatalogName}/products/${ProductId}/${ResourceId}). No tags are sent, so no TagResource.
        stack = Stack.of(self)
        fn.add_to_role_policy(
            iam.PolicyStatement(
                actions=["aws-marketplace:PutDeploymentParameter"],
                resources=[
                    f"arn:{stack.partition}:aws-marketplace:{stack.region}:{stack.account}:DeploymentParameter:"
                    f"catalogs/AWSMarketplace/products/{product_id}/*"
                ],
            )
        )
        self.failures_alarm = hourly_count_alarm(
            self,
            "DeliveryFailures",
            service="quicklaunch",
            metric_name="QuickLaunch_failed",
            description=(
                "Quick Launch deployment keys could not be delivered (PutDeploymentParameter failed); "
                "the job retries every run, see its log for the agreement and AWS's error code"
            ),
        )

    @property
    def function(self):
        return self.job.function
