"""The platform's operational data: releases, activations, usage, subscriptions, metering.

One table, items prefixed by feature (`RELEASE#`, `ACT#`, `USAGE#`, …; each feature's
README section lists its layout), with one generic index `gsi1` for the second access path
each feature needs (e.g. a customer's activations).
"""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms

from constructs import Construct

INDEX = "gsi1"


class PlatformData(Construct):
    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.key = kms.Key(
            self,
            "TableKey",
            description="Encrypts the vendstack platform-data table",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.table = dynamodb.Table(
            self,
            "Table",
            partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="sk", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED,
            encryption_key=self.key,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            deletion_protection=True,
            time_to_live_attribute="ttl",
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.table.add_global_secondary_index(
            index_name=INDEX,
            partition_key=dynamodb.Attribute(name="gsi1pk", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="gsi1sk", type=dynamodb.AttributeType.STRING),
            projection_type=dynamodb.ProjectionType.ALL,
        )

    def grant_items(self, grantee: iam.IGrantable, *actions: str, index: bool = False) -> None:
        """Item actions on the table (and, with `index`, Query on gsi1), with use of its KMS key."""
        iam.Grant.add_to_principal(
            grantee=grantee, actions=list(actions), resource_arns=[self.table.table_arn]
        )
        if index:
            iam.Grant.add_to_principal(
                grantee=grantee,
                actions=["dynamodb:Query"],
                resource_arns=[f"{self.table.table_arn}/index/{INDEX}"],
            )
        self.key.grant(grantee, "kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey")
