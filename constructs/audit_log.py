"""The audit log: one record per developer-API and license-API call, kept for a set time."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms

from constructs import Construct


class AuditLog(Construct):
    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.key = kms.Key(
            self,
            "TableKey",
            description="Encrypts the vendstack audit-log table",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.RETAIN,
        )
        # pk = "<customer>#<YYYY-MM-DD>": a customer's calls of one day are one Query.
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

    def grant_write(self, grantee: iam.IGrantable) -> None:
        """Append-only: functions may add records, never read or change them."""
        iam.Grant.add_to_principal(
            grantee=grantee, actions=["dynamodb:PutItem"], resource_arns=[self.table.table_arn]
        )
        self.key.grant(grantee, "kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey")
