"""The vendor admin API (`/v1/admin/…`): the vendor's operators list customers, approve,
suspend and resume them, and read usage, with their own AWS credentials.

Two gates, both API Gateway's, before the function runs:

- every admin method has `AWS_IAM` authorization: the request must be signed with SigV4
  (service `execute-api`) by an IAM identity, so no customer key or ID token gets in;
- the API's resource policy denies `execute-api:Invoke` on `/v1/admin/*` to every principal
  whose `aws:PrincipalArn` is not one of `admin.principals` (cdk.json, validated at synth). For
  a role session, `aws:PrincipalArn` is the role's ARN (AWS docs: "AWS global condition context
  keys", aws:PrincipalArn). A resource policy on an API also needs an explicit Allow for every
  other route, public and Cognito ones included, or API Gateway denies them (AWS docs: "How API
  Gateway resource policies affect authorization workflow",
  https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-authorization-flow.html);
  so the policy allows `Invoke` on the whole API and adds the explicit Deny, which wins over any
  Allow. Abbreviated `execute-api:/…` resources are expanded by API Gateway to the API's ARN
  (AWS docs: "Access policy language overview for Amazon API Gateway").
"""

from __future__ import annotations

from aws_cdk import aws_iam as iam

from constructs import Construct
from constructs.audit_log import AuditLog
from constructs.key_vault import KeyVault
from constructs.platform_api import PlatformApi
from constructs.platform_data import PlatformData
from constructs.platform_function import PlatformFunction

ROUTES = [
    ("GET", "/v1/admin/customers"),
    ("POST", "/v1/admin/customers/{team_id}/approve"),
    ("POST", "/v1/admin/customers/{team_id}/suspend"),
    ("POST", "/v1/admin/customers/{team_id}/resume"),
    ("GET", "/v1/admin/customers/{team_id}/dispute"),
    ("GET", "/v1/admin/usage"),
]
ADMIN_RESOURCE = "execute-api:/*/*/v1/admin/*"


def admin_resource_policy(principals: tuple[str, ...]) -> list[iam.PolicyStatement]:
    """The API's resource policy: everyone may invoke, except `/v1/admin/*`, which is denied to
    every principal that is not named."""
    if not principals:
        raise ValueError("the admin API needs at least one principal (cdk.json admin.principals)")
    return [
        iam.PolicyStatement(
            sid="InvokeApi",
            effect=iam.Effect.ALLOW,
            principals=[iam.AnyPrincipal()],
            actions=["execute-api:Invoke"],
            resources=["execute-api:/*"],
        ),
        iam.PolicyStatement(
            sid="AdminOnlyForOperators",
            effect=iam.Effect.DENY,
            principals=[iam.AnyPrincipal()],
            actions=["execute-api:Invoke"],
            resources=[ADMIN_RESOURCE],
            conditions={"StringNotEquals": {"aws:PrincipalArn": list(principals)}},
        ),
    ]


class AdminApi(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        api: PlatformApi,
        vault: KeyVault,
        audit: AuditLog,
        data: PlatformData,
        principals: tuple[str, ...],
        environment: dict[str, str],
        layer_version: int,
    ) -> None:
        super().__init__(scope, construct_id)
        self.handler = PlatformFunction(
            self,
            "Api",
            handler="admin.handlers.api.handler",
            service="admin",
            description="vendstack admin API: the vendor's operators (IAM)",
            environment=environment,
            powertools_layer_version=layer_version,
        )
        fn = self.handler.function
        data.grant_items(
            fn, "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:Scan", index=False
        )
        vault.grant_items(fn, "dynamodb:GetItem", "dynamodb:Scan")
        audit.grant_write(fn)
        audit.grant_read(fn)
        api.add_routes(fn, ROUTES, developer_auth=False, iam_auth=True)
        for statement in admin_resource_policy(principals):
            api.rest_api.add_to_resource_policy(statement)
