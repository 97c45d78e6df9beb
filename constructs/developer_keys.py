"""The developer API: a customer's team creates, lists and revokes its API keys and manages its
members (Cognito ID token)."""

from __future__ import annotations

from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3

from constructs import Construct
from constructs.audit_log import AuditLog
from constructs.key_vault import KeyVault
from constructs.notices import allow_sending
from constructs.platform_api import PlatformApi
from constructs.platform_data import PlatformData
from constructs.platform_function import PlatformFunction

ROUTES = [
    ("POST", "/v1/keys"),
    ("GET", "/v1/keys"),
    ("DELETE", "/v1/keys/{access_key}"),
    ("POST", "/v1/marketplace/registrations"),
    ("GET", "/v1/subscription"),
    ("GET", "/v1/usage"),
    ("GET", "/v1/launch"),
    ("GET", "/v1/team"),
    ("POST", "/v1/team/invitations"),
    ("POST", "/v1/team/invitations/{invitation_id}/accept"),
    ("DELETE", "/v1/team/members/{sub}"),
]


class DeveloperKeys(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        api: PlatformApi,
        vault: KeyVault,
        audit: AuditLog,
        data: PlatformData,
        environment: dict[str, str],
        layer_version: int,
        contract_pricing: bool,
        notices_sender: str,
    ) -> None:
        super().__init__(scope, construct_id)
        self.handler = PlatformFunction(
            self,
            "Api",
            handler="apis.developer_api.handler",
            service="developer-keys",
            description="vendstack developer API: API keys of the signed-in customer",
            environment=environment,
            powertools_layer_version=layer_version,
        )
        fn = self.handler.function
        vault.grant_items(
            fn,
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
            "dynamodb:Query",
            "dynamodb:ConditionCheckItem",
        )
        vault.grant_owner_index_query(fn)
        audit.grant_write(fn)
        vault.grant_secret_derivation(fn)
        data.grant_items(
            fn,
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
            "dynamodb:DeleteItem",
            "dynamodb:Query",
            "dynamodb:ConditionCheckItem",  # accepting an invitation checks the person's own team
            index=True,
        )
        # Marketplace has no resource-level permissions for these; entitlements exist for
        # contract pricing only.
        marketplace_actions = ["aws-marketplace:ResolveCustomer"]
        if contract_pricing:
            marketplace_actions.append("aws-marketplace:GetEntitlements")
        fn.add_to_role_policy(iam.PolicyStatement(actions=marketplace_actions, resources=["*"]))
        allow_sending(fn, notices_sender)  # team invitations go out through the notices sender
        api.add_routes(fn, ROUTES, developer_auth=True)

    def allow_launch_links(self, templates: s3.IBucket, bucket_key: kms.IKey) -> None:
        """`GET /v1/launch` presigns a GET of the released customer template: the URL is only as
        good as the signer's own right to read that object (and decrypt it)."""
        fn = self.handler.function
        fn.add_to_role_policy(
            iam.PolicyStatement(
                actions=["s3:GetObject", "s3:GetObjectVersion"],
                resources=[templates.arn_for_objects("*")],
            )
        )
        bucket_key.grant(fn, "kms:Decrypt")
