"""The key vault: API-key records in DynamoDB under a customer-managed KMS key.

Secrets are not stored at all: each is derived on demand with KMS GenerateMac from an HMAC
key that never leaves KMS (README, "Key vault threat model").
"""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms

from constructs import Construct
from constructs.encrypted_table import encrypted_table, grant_table_items
from constructs.key_policies import grant_key_use, sensitive_key_policy

OWNER_INDEX = "by-owner"


class KeyVault(Construct):
    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.table_key, self.table = encrypted_table(
            self, "Encrypts the vendstack key-vault table", stream=True
        )
        self.secret_key = kms.Key(
            self,
            "SecretDerivationKey",
            description="Derives API secret keys (GenerateMac); the secrets themselves are never stored",
            key_spec=kms.KeySpec.HMAC_256,
            key_usage=kms.KeyUsage.GENERATE_VERIFY_MAC,
            policy=sensitive_key_policy(),
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.table.add_global_secondary_index(
            index_name=OWNER_INDEX,
            partition_key=dynamodb.Attribute(name="owner", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="created_at", type=dynamodb.AttributeType.STRING),
            projection_type=dynamodb.ProjectionType.ALL,
        )

    def grant_items(self, grantee: iam.IGrantable, *actions: str) -> None:
        """Item actions on the table itself (not its indexes), with use of the table's KMS key."""
        grant_table_items(grantee, self.table, self.table_key, actions)

    def grant_secret_derivation(self, grantee: iam.IGrantable) -> None:
        """GenerateMac on the secret-derivation key: the grantee's role is named in the key policy."""
        grant_key_use(self.secret_key, grantee, "kms:GenerateMac")

    def grant_owner_index_query(self, grantee: iam.IGrantable) -> None:
        iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["dynamodb:Query"],
            resource_arns=[f"{self.table.table_arn}/index/{OWNER_INDEX}"],
        )
