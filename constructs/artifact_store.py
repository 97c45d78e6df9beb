"""Where the paid code lives: a versioned, KMS-encrypted bucket, the AWS Signer profile that
signs each Lambda artifact, and the asymmetric KMS key that signs release manifests and
license tokens (customers verify with its public key, which the published template carries).
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_signer as signer

from constructs import Construct
from constructs.key_policies import data_key_policy, grant_key_use, sensitive_key_policy


class ArtifactStore(Construct):
    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.bucket_key = kms.Key(
            self,
            "BucketKey",
            description="Encrypts vendstack release artifacts",
            enable_key_rotation=True,
            policy=data_key_policy(self, "s3"),
            removal_policy=RemovalPolicy.RETAIN,
        )
        # S3 server access logs can only be delivered to an SSE-S3 bucket.
        self.access_logs = s3.Bucket(
            self,
            "AccessLogs",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-access-logs",
                    expiration=Duration.days(400),
                    noncurrent_version_expiration=Duration.days(30),
                )
            ],
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.bucket = self._release_bucket(
            "Bucket", "artifacts", "expire-old-artifact-versions", noncurrent_versions_to_retain=10
        )
        # Rendered customer templates, one per release; CloudFormation reads them by presigned URL.
        self.templates = self._release_bucket("Templates", "templates", "expire-old-template-versions")
        self.signing_profile = signer.SigningProfile(
            self,
            "SigningProfile",
            platform=signer.Platform.AWS_LAMBDA_SHA384_ECDSA,
            signature_validity=Duration.days(365 * 3),
        )
        # Customers' code-signing configs trust this profile's version ARN: deleting the vendor
        # stack must not revoke what they run (AWS docs: "Configuring code signing for Lambda").
        self.signing_profile.apply_removal_policy(RemovalPolicy.RETAIN)
        self.manifest_key = kms.Key(
            self,
            "ManifestSigningKey",
            description="Signs vendstack release manifests and license tokens (RSASSA_PKCS1_V1_5_SHA_256)",
            key_spec=kms.KeySpec.RSA_2048,
            key_usage=kms.KeyUsage.SIGN_VERIFY,
            policy=sensitive_key_policy(public_key_readable=True),
            removal_policy=RemovalPolicy.RETAIN,
        )

    def _release_bucket(self, construct_id: str, log_prefix: str, rule_id: str, **lifecycle) -> s3.Bucket:
        """Versioned (releases name exact object versions), KMS-encrypted, private, SSL only, logged."""
        return s3.Bucket(
            self,
            construct_id,
            versioned=True,
            encryption=s3.BucketEncryption.KMS,
            encryption_key=self.bucket_key,
            bucket_key_enabled=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix=f"{log_prefix}/",
            lifecycle_rules=[
                s3.LifecycleRule(
                    id=rule_id,
                    noncurrent_version_expiration=Duration.days(365),
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                    **lifecycle,
                )
            ],
            removal_policy=RemovalPolicy.RETAIN,
        )

    def grant_release_downloads(self, grantee: iam.IGrantable) -> None:
        """Read released (signed) artifacts, so presigned GETs made with the grantee's credentials work."""
        iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["s3:GetObject", "s3:GetObjectVersion"],
            resource_arns=[self.bucket.arn_for_objects("releases/*")],
        )
        self.bucket_key.grant(grantee, "kms:Decrypt")

    def grant_manifest_signing(self, grantee: iam.IGrantable) -> None:
        grant_key_use(self.manifest_key, grantee, "kms:Sign")
