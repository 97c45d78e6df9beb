"""The customer stack's activation custom resource.

Its code is inlined into the template (no asset bucket, so the file deploys in any account,
and the customer can read exactly what runs with their keys): `index.py` is assembled by
`customer_stack/activation/assemble.py` from the project's one signing module, the customer
side's vendor client and the activation modules (common, manifest, staging, cfn_response,
handler), all stdlib + boto3 only, in dependency order, without docstrings and comments.

The vendor's URL and public key reach the function as its own environment variables, never as
resource properties: the function reads nothing that decides where it connects or whom it trusts
from its invoking event. The one property is `ReleaseVersion`, because CloudFormation sends an
Update to a custom resource only when its properties change (AWS docs: "Update request for
CloudFormation custom resources",
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/crpg-ref-requesttypes-update.html):
a newer published template names a newer release, and that change is what delivers it.
"""

from __future__ import annotations

from aws_cdk import CustomResource, Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager

from constructs import Construct
from constructs.platform_function import PYTHON_RUNTIME, function_role
from customer_stack.activation.assemble import inline_code

FUNCTION_TIMEOUT = Duration.minutes(5)
# CloudFormation gives up on the resource after this; the function always answers first.
SERVICE_TIMEOUT = Duration.minutes(7)


class Activation(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        secret: secretsmanager.ISecret,
        staging_bucket: s3.IBucket,
        vendor_api_url: str,
        vendor_public_key: str,
        release_version: str,
    ) -> None:
        super().__init__(scope, construct_id)
        self.log_group = logs.LogGroup(
            self, "Logs", retention=logs.RetentionDays.ONE_YEAR, removal_policy=RemovalPolicy.RETAIN
        )
        self.function = lambda_.Function(
            self,
            "Function",
            role=function_role(self, "Role", self.log_group),
            runtime=PYTHON_RUNTIME,
            tracing=lambda_.Tracing.ACTIVE,
            handler="index.handler",
            code=lambda_.Code.from_inline(inline_code()),
            description="Activates the product with the vendor and stages its signed artifacts",
            timeout=FUNCTION_TIMEOUT,
            memory_size=256,
            log_group=self.log_group,
            environment={
                "SECRET_ARN": secret.secret_arn,
                "STAGING_BUCKET": staging_bucket.bucket_name,
                "VENDOR_API_URL": vendor_api_url,
                "VENDOR_PUBLIC_KEY": vendor_public_key,
            },
        )
        secret.grant_read(self.function)
        self.function.add_to_role_policy(
            iam.PolicyStatement(
                # GetObject: on Update the handler reads the staged objects' metadata (HeadObject)
                # to keep the physical id when nothing changed. It never deletes anything.
                actions=["s3:PutObject", "s3:AbortMultipartUpload", "s3:GetObject"],
                resources=[staging_bucket.arn_for_objects("*")],
            )
        )
        self.resource = CustomResource(
            self,
            "Resource",
            service_token=self.function.function_arn,
            resource_type="Custom::VendstackActivation",
            service_timeout=SERVICE_TIMEOUT,
            properties={"ReleaseVersion": release_version},
        )
