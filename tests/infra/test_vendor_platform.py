"""Intent of the vendor platform template: each security property the product promises."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from aws_cdk.assertions import Template


@pytest.fixture(scope="module")
def template(vendor_template) -> Template:
    from aws_cdk.assertions import Template

    return Template.from_json(vendor_template)


def test_key_vault_table_is_protected(template: Template):
    from aws_cdk.assertions import Match

    template.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "KeySchema": [
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            "BillingMode": "PAY_PER_REQUEST",
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
            "DeletionProtectionEnabled": True,
            "SSESpecification": {"SSEEnabled": True, "SSEType": "KMS", "KMSMasterKeyId": Match.any_value()},
            "TimeToLiveSpecification": {"AttributeName": "ttl", "Enabled": True},
            "GlobalSecondaryIndexes": [Match.object_like({"IndexName": "by-owner"})],
        },
    )


def test_every_table_has_pitr_deletion_protection_and_cmk(template: Template):
    tables = template.find_resources("AWS::DynamoDB::Table")
    assert len(tables) >= 2
    for name, table in tables.items():
        props = table["Properties"]
        assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True, name
        assert props["DeletionProtectionEnabled"] is True, name
        assert props["SSESpecification"]["SSEType"] == "KMS", name
        assert table["DeletionPolicy"] == "Retain", name


def test_symmetric_keys_rotate_and_special_keys_have_their_spec(template: Template):
    keys = template.find_resources("AWS::KMS::Key")
    specs = sorted(k["Properties"].get("KeySpec", "SYMMETRIC_DEFAULT") for k in keys.values())
    assert specs.count("HMAC_256") == 1 and specs.count("RSA_2048") == 1
    for name, key in keys.items():
        if key["Properties"].get("KeySpec", "SYMMETRIC_DEFAULT") == "SYMMETRIC_DEFAULT":
            assert key["Properties"]["EnableKeyRotation"] is True, name
    template.has_resource_properties("AWS::KMS::Key", {"KeySpec": "RSA_2048", "KeyUsage": "SIGN_VERIFY"})
    template.has_resource_properties(
        "AWS::KMS::Key", {"KeySpec": "HMAC_256", "KeyUsage": "GENERATE_VERIFY_MAC"}
    )


def test_buckets_are_encrypted_private_and_ssl_only(template: Template):
    buckets = template.find_resources("AWS::S3::Bucket")
    assert len(buckets) == 4  # artifacts, templates, access logs, developer page
    for name, bucket in buckets.items():
        props = bucket["Properties"]
        assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"], name
        assert props["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }, name
        assert props["VersioningConfiguration"] == {"Status": "Enabled"}, name
    policies = template.find_resources("AWS::S3::BucketPolicy")
    assert len(policies) == 4
    for policy in policies.values():
        statements = policy["Properties"]["PolicyDocument"]["Statement"]
        assert any(
            s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
            for s in statements
        )


def test_artifact_bucket_uses_kms_access_logs_and_lifecycle(template: Template):
    from aws_cdk.assertions import Match

    template.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "BucketEncryption": {
                "ServerSideEncryptionConfiguration": [
                    Match.object_like(
                        {"ServerSideEncryptionByDefault": Match.object_like({"SSEAlgorithm": "aws:kms"})}
                    )
                ]
            },
            "LoggingConfiguration": Match.object_like({"LogFilePrefix": "artifacts/"}),
            "LifecycleConfiguration": {
                "Rules": [
                    Match.object_like({"NoncurrentVersionExpiration": Match.any_value(), "Status": "Enabled"})
                ]
            },
        },
    )


def test_signing_profile_is_lambda_ecdsa(template: Template):
    template.has_resource_properties("AWS::Signer::SigningProfile", {"PlatformId": "AWSLambda-SHA384-ECDSA"})


def test_user_pool_email_sign_up_with_strong_passwords(template: Template):
    from aws_cdk.assertions import Match

    template.has_resource_properties(
        "AWS::Cognito::UserPool",
        {
            "UsernameAttributes": ["email"],
            "AutoVerifiedAttributes": ["email"],
            "AdminCreateUserConfig": {"AllowAdminCreateUserOnly": False},
            "Policies": {
                "PasswordPolicy": Match.object_like(
                    {
                        "MinimumLength": 12,
                        "RequireLowercase": True,
                        "RequireUppercase": True,
                        "RequireNumbers": True,
                        "RequireSymbols": True,
                    }
                )
            },
            "UserPoolTier": "PLUS",
            "DeletionProtection": "ACTIVE",
        },
    )
    template.has_resource_properties(
        "AWS::Cognito::UserPoolClient",
        {
            "GenerateSecret": False,
            "AllowedOAuthFlows": ["code"],
            "ExplicitAuthFlows": Match.array_with(["ALLOW_USER_SRP_AUTH"]),
            # accepting a team invitation reads the ID token's email_verified claim
            "ReadAttributes": Match.array_with(["email", "email_verified"]),
        },
    )


def test_api_stage_has_access_logs_throttling_and_tracing(template: Template):
    from aws_cdk.assertions import Match

    template.has_resource_properties(
        "AWS::ApiGateway::Stage",
        {
            "StageName": "prod",
            "AccessLogSetting": Match.object_like({"DestinationArn": Match.any_value()}),
            "TracingEnabled": True,
            "MethodSettings": Match.array_with(
                [
                    Match.object_like(
                        {"HttpMethod": "*", "ThrottlingRateLimit": 50, "ThrottlingBurstLimit": 100}
                    )
                ]
            ),
        },
    )


def test_developer_routes_require_cognito_and_public_routes_do_not(template: Template):
    methods = template.find_resources("AWS::ApiGateway::Method")
    by_type = {}
    for method in methods.values():
        props = method["Properties"]
        if props["HttpMethod"] == "OPTIONS":
            continue
        by_type.setdefault(props["AuthorizationType"], 0)
        by_type[props["AuthorizationType"]] += 1
    # keys (3), marketplace registration, subscription, usage history, launch link, team (4)
    assert by_type.get("COGNITO_USER_POOLS") == 11
    assert by_type.get("NONE", 0) >= 3  # health, product, whoami (signed requests)


def test_functions_use_own_roles_without_managed_policies(template: Template):
    for name, role in template.find_resources("AWS::IAM::Role").items():
        assert "ManagedPolicyArns" not in role["Properties"], name
    for name, fn in template.find_resources("AWS::Lambda::Function").items():
        props = fn["Properties"]
        assert props["TracingConfig"] == {"Mode": "Active"}, name
        assert props["Runtime"].startswith("python3."), name
        assert "LoggingConfig" in props, name


def test_no_iam_statement_allows_everything(template: Template):
    for name, policy in template.find_resources("AWS::IAM::Policy").items():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            assert not any(a == "*" or a.endswith(":*") for a in actions), (name, actions)
            if statement["Resource"] == "*":  # only actions without resource-level permissions
                unscoped = ("xray:", "aws-marketplace:", "dynamodb:ListStreams")
                assert all(a.startswith(unscoped) for a in actions), (name, actions)
