"""Key policies that separate managing a KMS key from using it.

Without a policy, CDK (like KMS) gives the account root `kms:*`, which lets every IAM identity
that an administrator allows use the key: any admin or CI role could derive every customer's
secret (`GenerateMac`) or sign a manifest (`Sign`). Here the account keeps key *management*
(IAM administrators can describe, tag, rotate, disable, schedule deletion and change the
policy), and key *use* is named in the policy:

- the two sensitive keys (secret derivation, manifest signing) admit exactly the function roles
  that need them (`grant_key_use`); the manifest key's public half stays readable by the
  account (the publish step and the sandbox read it; a public key is not a secret);
- the data keys of tables and buckets may be used by the account's identities only through
  DynamoDB or S3 (`kms:ViaService`), never directly: whoever may read the table or bucket in
  IAM reads its data, and nobody can call Decrypt on the key outside those services.

Anyone who may call `kms:PutKeyPolicy` can still rewrite a policy; that is an administrator
action, recorded by CloudTrail, and the only way to keep the key manageable at all.

AWS docs: "Key policies in AWS KMS" (https://docs.aws.amazon.com/kms/latest/developerguide/key-policies.html),
"Default key policy" (.../key-policy-default.html: the root statement "enables IAM policies" for
every KMS operation), "kms:ViaService" (.../conditions-kms.html#conditions-kms-via-service),
"How Amazon DynamoDB uses AWS KMS" (.../services-dynamodb.html: the key policy for a customer
managed table key, through DynamoDB, with `kms:CreateGrant`), and "Protecting data with
server-side encryption using AWS KMS keys (SSE-KMS)" in the Amazon S3 User Guide.
"""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms

from constructs import Construct

# Management only: none of these encrypts, decrypts, signs, MACs or creates a grant.
# `kms:PutKeyPolicy` must stay, or KMS refuses the policy (the lockout safety check).
MANAGEMENT_ACTIONS = (
    "kms:CancelKeyDeletion",
    "kms:CreateAlias",
    "kms:DeleteAlias",
    "kms:DescribeKey",
    "kms:DisableKey",
    "kms:DisableKeyRotation",
    "kms:EnableKey",
    "kms:EnableKeyRotation",
    "kms:GetKeyPolicy",
    "kms:GetKeyRotationStatus",
    "kms:ListAliases",
    "kms:ListGrants",
    "kms:ListKeyPolicies",
    "kms:ListKeyRotations",
    "kms:ListResourceTags",
    "kms:PutKeyPolicy",
    "kms:RevokeGrant",
    "kms:RotateKeyOnDemand",
    "kms:ScheduleKeyDeletion",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:UpdateAlias",
    "kms:UpdateKeyDescription",
)
# What DynamoDB and S3 ask KMS for on the caller's behalf.
DATA_KEY_SERVICE_ACTIONS = (
    "kms:Decrypt",
    "kms:DescribeKey",
    "kms:Encrypt",
    "kms:GenerateDataKey*",
    "kms:ReEncrypt*",
)


def _management(extra: tuple[str, ...] = ()) -> iam.PolicyStatement:
    return iam.PolicyStatement(
        sid="KeyManagementByAccountAdministrators",
        principals=[iam.AccountRootPrincipal()],
        actions=[*MANAGEMENT_ACTIONS, *extra],
        resources=["*"],
    )


def sensitive_key_policy(*, public_key_readable: bool = False) -> iam.PolicyDocument:
    """Management for the account; use only by roles named later with `grant_key_use`."""
    extra = ("kms:GetPublicKey",) if public_key_readable else ()
    return iam.PolicyDocument(statements=[_management(extra)])


def data_key_policy(scope: Construct, service: str) -> iam.PolicyDocument:
    """Management for the account; use by the account's identities only through `service`."""
    stack = Stack.of(scope)
    via = {
        "StringEquals": {
            "kms:ViaService": f"{service}.{stack.region}.amazonaws.com",
            "kms:CallerAccount": stack.account,
        }
    }
    statements = [
        _management(),
        iam.PolicyStatement(
            sid=f"UseThrough{service.title()}Only",
            principals=[iam.AccountRootPrincipal()],
            actions=list(DATA_KEY_SERVICE_ACTIONS),
            resources=["*"],
            conditions=via,
        ),
    ]
    if service == "dynamodb":
        # DynamoDB keeps a grant on the table's key (backups, PITR, indexes), made through DynamoDB
        # and only for an AWS resource.
        statements.append(
            iam.PolicyStatement(
                sid="GrantsForDynamoDbOnly",
                principals=[iam.AccountRootPrincipal()],
                actions=["kms:CreateGrant"],
                resources=["*"],
                conditions={**via, "Bool": {"kms:GrantIsForAWSResource": "true"}},
            )
        )
    return iam.PolicyDocument(statements=statements)


def grant_key_use(key: kms.Key, grantee: iam.IGrantable, *actions: str) -> None:
    """Name the grantee's role in the key policy for `actions` (and in the role's own policy)."""
    role_arn = getattr(grantee.grant_principal, "role_arn", None)
    if role_arn is None:
        raise TypeError("key use is granted to a role, named in the key policy by its ARN")
    key.add_to_resource_policy(
        iam.PolicyStatement(principals=[iam.ArnPrincipal(role_arn)], actions=list(actions), resources=["*"])
    )
    key.grant(grantee, *actions)
