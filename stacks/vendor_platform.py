"""The vendor platform: what the vendor deploys with `cdk deploy`."""

from __future__ import annotations

from aws_cdk import CfnOutput, Stack
from aws_cdk import aws_sqs as sqs

from constructs import Construct
from constructs.admin_api import AdminApi
from constructs.api_firewall import ApiFirewall
from constructs.artifact_store import ArtifactStore
from constructs.audit_log import AuditLog
from constructs.customer_identity import CustomerIdentity
from constructs.developer_keys import DeveloperKeys
from constructs.developer_page import DeveloperPage
from constructs.key_vault import KeyVault
from constructs.license_api import LicenseApi
from constructs.lifecycle_events import LifecycleEvents
from constructs.marketplace_subscriptions import MarketplaceSubscriptions
from constructs.metering import MarketplaceMetering
from constructs.notices import CustomerNotices
from constructs.operations_dashboard import OperationsDashboard
from constructs.platform_api import PlatformApi
from constructs.platform_data import PlatformData
from constructs.product_catalog import ProductCatalog
from constructs.quick_launch import QuickLaunchKeys
from constructs.silent_usage import SilentUsage
from stacks.config import VendstackConfig


class VendorPlatformStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, config: VendstackConfig, **kwargs) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.config = config
        identity = CustomerIdentity(self, "Identity", callback_origins=config.developer_page_origins)
        vault = KeyVault(self, "KeyVault")
        audit = AuditLog(self, "AuditLog")
        data = PlatformData(self, "Data")
        self.artifacts = ArtifactStore(self, "Artifacts")
        self.page = DeveloperPage(self, "DeveloperPage")
        page_origins = (*config.developer_page_origins, self.page.url)
        self.api = PlatformApi(
            self,
            "Api",
            user_pool=identity.user_pool,
            throttle_rate=config.throttle_rate,
            throttle_burst=config.throttle_burst,
            cors_origins=page_origins,
            route_throttles={
                (t.method, t.path): (t.rate_per_second, t.burst) for t in config.route_throttles
            },
        )
        self.firewall = (
            ApiFirewall(
                self,
                "Firewall",
                stage=self.api.rest_api.deployment_stage,
                requests_per_5_minutes=config.waf_requests_per_5_minutes,
            )
            if config.waf_enabled
            else None
        )
        product_env = {
            "VS_PRODUCT": config.runtime_product_json(),
            "VS_CORS_ORIGINS": ",".join(page_origins),
        }
        keys_env = {
            **product_env,
            "VS_TABLE_KEYS": vault.table.table_name,
            "VS_TABLE_AUDIT": audit.table.table_name,
            "VS_KEY_SECRETS": vault.secret_key.key_arn,
        }
        layer = config.powertools_layer_version
        ProductCatalog(self, "Product", api=self.api, environment=product_env, layer_version=layer)
        self.page.connect(
            api=self.api,
            user_pool=identity.user_pool,
            client=identity.client,
            environment=product_env,
            layer_version=layer,
        )
        data_env = {"VS_TABLE_DATA": data.table.table_name}
        developer = DeveloperKeys(
            self,
            "DeveloperKeys",
            api=self.api,
            vault=vault,
            audit=audit,
            data=data,
            environment={
                **keys_env,
                **data_env,
                "VS_NOTICES_SENDER": config.notices_sender,
                "VS_DEVELOPER_PAGE_URL": config.developer_page_url,
            },
            layer_version=layer,
            contract_pricing=config.contract_pricing,
            notices_sender=config.notices_sender,
        )
        developer.allow_launch_links(self.artifacts.templates, self.artifacts.bucket_key)
        license_env = {
            **keys_env,
            **data_env,
            "VS_BUCKET_ARTIFACTS": self.artifacts.bucket.bucket_name,
            "VS_KEY_MANIFEST": self.artifacts.manifest_key.key_arn,
        }
        LicenseApi(
            self,
            "License",
            api=self.api,
            vault=vault,
            audit=audit,
            data=data,
            artifacts=self.artifacts,
            environment=license_env,
            layer_version=layer,
        )

        AdminApi(
            self,
            "Admin",
            api=self.api,
            vault=vault,
            audit=audit,
            data=data,
            principals=config.admin_principals,
            environment={**keys_env, **data_env},
            layer_version=layer,
        )
        subscriptions = MarketplaceSubscriptions(
            self,
            "Marketplace",
            product_code=config.product_code,
            sns_topic_account=config.marketplace_sns_account,
            contract_pricing=config.contract_pricing,
            environment={**product_env, **data_env},
            layer_version=layer,
        )
        data.grant_items(
            subscriptions.function,
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
            "dynamodb:DeleteItem",
            "dynamodb:Query",
            index=True,
        )
        QuickLaunchKeys(
            self,
            "QuickLaunch",
            vault=vault,
            data=data,
            product_id=config.product_id,
            environment={**keys_env, **data_env},
            layer_version=layer,
        )
        MarketplaceMetering(
            self,
            "Metering",
            data=data,
            schedule_minutes=config.metering_schedule_minutes,
            environment={**product_env, **data_env},
            layer_version=layer,
        )
        CustomerNotices(
            self,
            "Notices",
            vault=vault,
            data=data,
            sender=config.notices_sender,
            environment={
                **product_env,
                **data_env,
                "VS_TABLE_KEYS": vault.table.table_name,
                "VS_NOTICES_SENDER": config.notices_sender,
                "VS_DEVELOPER_PAGE_URL": config.developer_page_url,
            },
            layer_version=layer,
        )
        # After the other functions: the silent-usage job (constructs/silent_usage.py).
        SilentUsage(
            self, "SilentUsage", data=data, environment={**product_env, **data_env}, layer_version=layer
        )
        self.lifecycle = LifecycleEvents(
            self, "Lifecycle", data=data, vault=vault, environment=product_env, layer_version=layer
        )
        self.dashboard = OperationsDashboard(
            self,
            "Operations",
            api=self.api,
            dead_letter_queues=[
                queue
                for queue in self.node.find_all()
                if isinstance(queue, sqs.Queue) and queue.node.id == "DeadLetters"
            ],
        )
        CfnOutput(
            self, "ApiUrl", value=self.api.url, description="Base URL of the platform API (VendorApiUrl)"
        )
        CfnOutput(
            self, "DeveloperPageUrl", value=self.page.url, description="The developer page (CloudFront)"
        )
        CfnOutput(self, "UserPoolId", value=identity.user_pool.user_pool_id)
        CfnOutput(self, "UserPoolClientId", value=identity.client.user_pool_client_id)
        CfnOutput(self, "ArtifactBucket", value=self.artifacts.bucket.bucket_name)
        CfnOutput(self, "TemplatesBucket", value=self.artifacts.templates.bucket_name)
        CfnOutput(self, "DataTable", value=data.table.table_name)
        CfnOutput(
            self,
            "LifecycleEventBus",
            value=self.lifecycle.bus.event_bus_name,
            description="Customer lifecycle events (source vendstack.platform): subscribe with a rule",
        )
        CfnOutput(self, "OperationsDashboard", value=self.dashboard.dashboard.dashboard_name)
        CfnOutput(self, "SigningProfileName", value=self.artifacts.signing_profile.signing_profile_name)
        CfnOutput(self, "ManifestKeyArn", value=self.artifacts.manifest_key.key_arn)
        CfnOutput(
            self, "SigningProfileVersionArn", value=self.artifacts.signing_profile.signing_profile_version_arn
        )
