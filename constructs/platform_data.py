"""The platform's operational data: releases, activations, usage, subscriptions, metering.

One table, items prefixed by feature (`RELEASE#`, `ACT#`, `USAGE#`, …; each feature's
README section lists its layout), with one generic index `gsi1` for the second access path
each feature needs (e.g. a customer's activations).
"""

from __future__ import annotations

from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam

from constructs import Construct
from constructs.encrypted_table import encrypted_table, grant_table_items

INDEX = "gsi1"


class PlatformData(Construct):
    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.key, self.table = encrypted_table(
            self, "Encrypts the vendstack platform-data table", stream=True
        )
        self.table.add_global_secondary_index(
            index_name=INDEX,
            partition_key=dynamodb.Attribute(name="gsi1pk", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="gsi1sk", type=dynamodb.AttributeType.STRING),
            projection_type=dynamodb.ProjectionType.ALL,
        )

    def grant_items(self, grantee: iam.IGrantable, *actions: str, index: bool = False) -> None:
        """Item actions on the table (and, with `index`, Query on gsi1), with use of its KMS key."""
        grant_table_items(grantee, self.table, self.key, actions, INDEX if index else None)
