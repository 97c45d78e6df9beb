"""AWS Marketplace subscription state: agreement and license events from EventBridge, and the
legacy SNS notifications (subscription and entitlement topics, owned by AWS Marketplace)
through a queue, into one function that keeps each customer's subscription current."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs

from constructs import Construct
from constructs.platform_function import PlatformFunction
from constructs.queues import dead_letter_alarm, private_queue

AGREEMENT_SOURCE = "aws.agreement-marketplace"
DETAIL_TYPES = [
    "Purchase Agreement Created - Proposer",
    "Purchase Agreement Created - Manufacturer",
    "Purchase Agreement Amended - Proposer",
    "Purchase Agreement Amended - Manufacturer",
    "Purchase Agreement Ended - Proposer",
    "Purchase Agreement Ended - Manufacturer",
    "License Updated - Manufacturer",
    "License Deprovisioned - Manufacturer",
]


class MarketplaceSubscriptions(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        product_code: str,
        sns_topic_account: str,
        contract_pricing: bool,
        environment: dict[str, str],
        layer_version: int,
    ) -> None:
        super().__init__(scope, construct_id)
        self.dead_letters = private_queue(self, "DeadLetters")
        self.queue = private_queue(
            self,
            "Notifications",
            visibility_timeout=Duration.seconds(180),
            dead_letter_queue=sqs.DeadLetterQueue(max_receive_count=5, queue=self.dead_letters),
        )
        self.handler = PlatformFunction(
            self,
            "Events",
            handler="subscriptions.handlers.events.handler",
            service="marketplace-events",
            description="vendstack: Marketplace agreement, license and SNS events into subscription state",
            environment=environment,
            powertools_layer_version=layer_version,
            timeout_seconds=30,
            dead_letter_queue=self.dead_letters,
        )
        fn = self.handler.function
        fn.add_event_source(
            sources.SqsEventSource(self.queue, batch_size=10, report_batch_item_failures=True)
        )
        # The Marketplace topics live in AWS Marketplace's own account, in us-east-1. The
        # entitlement topic exists only for contract pricing: subscribing to it for a usage-priced
        # product fails the deployment (AWS docs: "Amazon SNS notifications for SaaS products",
        # https://docs.aws.amazon.com/marketplace/latest/userguide/saas-notification.html).
        topic_kinds = ("subscription", "entitlement") if contract_pricing else ("subscription",)
        for topic_kind in topic_kinds:
            topic = sns.Topic.from_topic_arn(
                self,
                f"{topic_kind.title()}Topic",
                f"arn:aws:sns:us-east-1:{sns_topic_account}:aws-mp-{topic_kind}-notification-{product_code}",
            )
            topic.add_subscription(
                subscriptions.SqsSubscription(
                    self.queue, raw_message_delivery=False, dead_letter_queue=self.dead_letters
                )
            )
        self.rule = events.Rule(
            self,
            "AgreementEvents",
            event_pattern=events.EventPattern(source=[AGREEMENT_SOURCE], detail_type=DETAIL_TYPES),
            targets=[targets.LambdaFunction(fn, retry_attempts=4, dead_letter_queue=self.dead_letters)],
        )
        # No resource-level permissions for these (Service Authorization Reference, "Actions,
        # resources, and condition keys for AWS Marketplace"). DescribeAgreement tells this
        # product's agreement events from the seller's others (they name no product).
        actions = ["aws-marketplace:DescribeAgreement"]
        if contract_pricing:
            # Entitlements exist for contract pricing only (AWS docs: "Checking entitlements
            # using the AWS Marketplace Entitlement Service").
            actions.append("aws-marketplace:GetEntitlements")
        fn.add_to_role_policy(iam.PolicyStatement(actions=actions, resources=["*"]))
        self.dead_letter_alarm = dead_letter_alarm(
            self,
            "DeadLetterAlarm",
            self.dead_letters,
            "Marketplace events could not be applied; they wait in the dead-letter queue",
        )

    @property
    def function(self):
        return self.handler.function
