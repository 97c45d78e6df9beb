"""The one way the platform makes a DynamoDB table: `pk`/`sk` strings, on demand, encrypted
with its own rotating customer-managed key, point-in-time recovery, deletion protection, a
`ttl` attribute, retained on stack deletion; and item grants that include the key. The key is
usable only through DynamoDB (`constructs/key_policies.py`)."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms

from constructs import Construct
from constructs.key_policies import data_key_policy

KEY_ACTIONS = ("kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey")


def encrypted_table(
    scope: Construct, description: str, *, stream: bool = False
) -> tuple[kms.Key, dynamodb.Table]:
    """Adds `TableKey` and `Table` to `scope` (their construct ids, hence logical ids, are fixed).
    `stream` turns on a stream of new and old images (the lifecycle events read it)."""
    key = kms.Key(
        scope,
        "TableKey",
        description=description,
        enable_key_rotation=True,
        policy=data_key_policy(scope, "dynamodb"),
        removal_policy=RemovalPolicy.RETAIN,
    )
    table = dynamodb.Table(
        scope,
        "Table",
        partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING),
        sort_key=dynamodb.Attribute(name="sk", type=dynamodb.AttributeType.STRING),
        billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
        encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED,
        encryption_key=key,
        point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
            point_in_time_recovery_enabled=True
        ),
        deletion_protection=True,
        time_to_live_attribute="ttl",
        removal_policy=RemovalPolicy.RETAIN,
        stream=dynamodb.StreamViewType.NEW_AND_OLD_IMAGES if stream else None,
    )
    return key, table


def grant_table_items(
    grantee: iam.IGrantable,
    table: dynamodb.Table,
    key: kms.IKey,
    actions: tuple[str, ...],
    index: str | None = None,
) -> None:
    """Item actions on the table itself (and, with `index`, Query on that index), plus use of its key."""
    iam.Grant.add_to_principal(grantee=grantee, actions=list(actions), resource_arns=[table.table_arn])
    if index:
        iam.Grant.add_to_principal(
            grantee=grantee, actions=["dynamodb:Query"], resource_arns=[f"{table.table_arn}/index/{index}"]
        )
    key.grant(grantee, *KEY_ACTIONS)
