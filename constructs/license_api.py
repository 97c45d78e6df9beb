"""The license API: calls from customer stacks, authenticated by VS1 request signatures.

API Gateway cannot check an HMAC over the body, so these routes reach the function without
an authorizer and the function verifies every request before doing anything else.
"""

from __future__ import annotations

from constructs import Construct
from constructs.artifact_store import ArtifactStore
from constructs.audit_log import AuditLog
from constructs.key_vault import KeyVault
from constructs.platform_api import PlatformApi
from constructs.platform_data import PlatformData
from constructs.platform_function import PlatformFunction

ROUTES = [
    ("GET", "/v1/whoami"),
    ("POST", "/v1/activations"),
    ("DELETE", "/v1/activations/{activation_id}"),
    ("POST", "/v1/usage"),
    ("POST", "/v1/license-token"),
]


class LicenseApi(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        api: PlatformApi,
        vault: KeyVault,
        audit: AuditLog,
        data: PlatformData,
        artifacts: ArtifactStore,
        environment: dict[str, str],
        layer_version: int,
    ) -> None:
        super().__init__(scope, construct_id)
        self.handler = PlatformFunction(
            self,
            "Api",
            handler="apis.signed_api.handler",
            service="license",
            description="vendstack license API: signed requests from customer stacks",
            environment=environment,
            powertools_layer_version=layer_version,
        )
        fn = self.handler.function
        vault.grant_items(fn, "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem")
        audit.grant_write(fn)
        vault.grant_secret_derivation(fn)
        # PutItem/UpdateItem also authorise the usage transaction (TransactWriteItems).
        data.grant_items(fn, "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", index=True)
        artifacts.grant_release_downloads(fn)
        artifacts.grant_manifest_signing(fn)
        api.add_routes(fn, ROUTES, developer_auth=False)
