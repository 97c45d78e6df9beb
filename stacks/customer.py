"""The customer stack: the CloudFormation template a customer launches in their own account.

It stands alone (no CDK bootstrap, no asset bucket, no metadata): the activation function is
inline and the solution's code arrives through the activation resource. The vendor values
(`VendorApiUrl`, `VendorPublicKey`, `SigningProfileVersionArn`, `ReleaseVersion`) get their
defaults from the render step (`customer_stack/render.py`), not from the synth.

One template serves both ways of giving the key (README "Quick Launch"): the key pair pasted as
`AccessKey` + `SecretKey`, or AWS Marketplace Quick Launch's deployment parameter, whose name is the
template parameter `DeploymentKey` (AWS docs: "DeploymentParameterInput", Marketplace Deployment
Service API reference: to be used through Quick Launch the parameter's name "must match a parameter
defined in the CloudFormation template provided to buyers"). That parameter holds a reference to the
`marketplace-deployment…!…` secret in the buyer's account (never the key itself: its pattern
refuses anything else), and the stack's own key secret copies the value through a dynamic reference
(`{{resolve:secretsmanager:…}}`). The reference sits in the `AWS::SecretsManager::Secret`, not in
the activation custom resource, because CloudFormation does not resolve secure dynamic references in
custom resources, and not in a Lambda environment, where the resolved key would be readable in the
function's configuration (AWS docs: "Get values stored in other services using dynamic
references", CloudFormation User Guide,
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/dynamic-references.html). The
functions read the stack's secret as before, so the activation code is the same in both forms.
"""

from __future__ import annotations

from aws_cdk import (
    CfnCondition,
    CfnOutput,
    CfnParameter,
    CfnRule,
    CfnRuleAssertion,
    Fn,
    RemovalPolicy,
    SecretValue,
    Stack,
)
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager

from constructs import Construct
from constructs.activation import Activation
from constructs.entitlement_check import EntitlementCheck
from constructs.paid_solution import PaidSolution
from constructs.quick_launch import DEPLOYMENT_PARAMETER_NAME
from constructs.usage_reporting import UsageReporting
from stacks.config import VendstackConfig

ACCESS_KEY_PATTERN = "^$|^VSAK[A-Z2-7]{16}$"
SECRET_KEY_PATTERN = "^$|^[A-Za-z0-9_-]{40,128}$"  # noqa: S105 - a pattern, not a secret
# The Quick Launch deployment parameter's name: the platform's PutDeploymentParameter uses the same.
DEPLOYMENT_KEY_PARAMETER = DEPLOYMENT_PARAMETER_NAME
# A reference to AWS Marketplace's managed secret (name or ARN; the service-linked role manages only
# `marketplace-deployment*!*` names: AWS managed policy AWSMarketplaceDeploymentServiceRolePolicy).
DEPLOYMENT_KEY_PATTERN = (
    "^$|^(arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:)?"
    "marketplace-deployment[A-Za-z0-9/_+=.@!-]*$"
)
# X.Y.Z as the vendor publishes it (runtime/activations/models.py VERSION_RE).
RELEASE_VERSION_PATTERN = "^(0|[1-9][0-9]{0,5})\\.(0|[1-9][0-9]{0,5})\\.(0|[1-9][0-9]{0,5})$"


class CustomerStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, config: VendstackConfig, **kwargs) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.template_options.description = (
            f"{config.product_name} {config.product_version}: {config.product_description} "
            "(vendstack customer stack)"
        )
        access_key = CfnParameter(
            self,
            "AccessKey",
            type="String",
            allowed_pattern=ACCESS_KEY_PATTERN,
            default="",
            constraint_description="an access key from the developer page: VSAK and 16 of A-Z, 2-7",
            description="Access key created on the vendor's developer page (empty with Quick Launch)",
        )
        secret_key = CfnParameter(
            self,
            "SecretKey",
            type="String",
            no_echo=True,
            allowed_pattern=SECRET_KEY_PATTERN,
            default="",
            constraint_description="the secret key shown once next to the access key (40-128 characters)",
            description="Secret key shown once when the access key was created (empty with Quick Launch)",
        )
        deployment_key = CfnParameter(
            self,
            DEPLOYMENT_KEY_PARAMETER,
            type="String",
            default="",
            allowed_pattern=DEPLOYMENT_KEY_PATTERN,
            constraint_description="the marketplace-deployment secret AWS Marketplace Quick Launch created",
            description=(
                "Filled in by AWS Marketplace Quick Launch: the secret that holds your deployment key "
                "(leave empty when you paste an access key and secret key)"
            ),
        )
        quick_launch = CfnCondition(
            self,
            "QuickLaunch",
            expression=Fn.condition_not(Fn.condition_equals(deployment_key.value_as_string, "")),
        )
        CfnRule(
            self,
            "OneKeySource",
            assertions=[
                CfnRuleAssertion(
                    assert_=Fn.condition_or(
                        Fn.condition_and(
                            Fn.condition_equals(deployment_key.value_as_string, ""),
                            Fn.condition_not(Fn.condition_equals(access_key.value_as_string, "")),
                            Fn.condition_not(Fn.condition_equals(secret_key.value_as_string, "")),
                        ),
                        Fn.condition_and(
                            Fn.condition_not(Fn.condition_equals(deployment_key.value_as_string, "")),
                            Fn.condition_equals(access_key.value_as_string, ""),
                            Fn.condition_equals(secret_key.value_as_string, ""),
                        ),
                    ),
                    assert_description=(
                        "Give either an access key and its secret key, or the DeploymentKey that "
                        "Quick Launch fills in, not both"
                    ),
                )
            ],
        )
        vendor_api_url = CfnParameter(
            self,
            "VendorApiUrl",
            type="String",
            allowed_pattern="^https?://[^\\s]+[^/\\s]$",
            constraint_description="the vendor's license API base URL, without a trailing slash",
            description="Vendor license API base URL (set by the vendor; leave as is)",
        )
        vendor_public_key = CfnParameter(
            self,
            "VendorPublicKey",
            type="String",
            allowed_pattern="^[A-Za-z0-9+/=]{200,1000}$",
            constraint_description="base64 of the vendor's DER public key",
            description="Vendor public key that verifies release manifests (set by the vendor; leave as is)",
        )
        signing_profile = CfnParameter(
            self,
            "SigningProfileVersionArn",
            type="String",
            allowed_pattern="^arn:aws[a-z-]*:signer:[a-z0-9-]+:\\d{12}:/signing-profiles/[A-Za-z0-9_]+/[A-Za-z0-9]+$",
            constraint_description="an AWS Signer signing profile version ARN",
            description="The only signing profile whose code may run (set by the vendor; leave as is)",
        )
        release_version = CfnParameter(
            self,
            "ReleaseVersion",
            type="String",
            allowed_pattern=RELEASE_VERSION_PATTERN,
            constraint_description="a released version X.Y.Z",
            description=(
                "Release of the solution this stack runs (set by the vendor; leave as is). Updating the "
                "stack with a newer published template delivers that template's release"
            ),
        )
        api_auth = CfnParameter(
            self,
            "ApiAuthorization",
            type="String",
            default="AWS_IAM",
            allowed_values=["AWS_IAM", "NONE"],
            description="Who may call the solution API (AWS_IAM: SigV4 with IAM credentials)",
        )
        api_access_logging = CfnParameter(
            self,
            "ApiAccessLogging",
            type="String",
            default="Disabled",
            allowed_values=["Enabled", "Disabled"],
            description=(
                "Access logs of the solution API in CloudWatch Logs. Enable only if this account and "
                "region already have the API Gateway CloudWatch Logs role set (API Gateway console, "
                "Settings, CloudWatch log role ARN): a new account has none, and the stack would fail."
            ),
        )
        access_logging = CfnCondition(
            self, "ApiAccessLoggingEnabled", expression=Fn.condition_equals(api_access_logging, "Enabled")
        )
        self.template_options.metadata = {
            "AWS::CloudFormation::Interface": {
                "ParameterGroups": [
                    {
                        "Label": {"default": "Your API key (from the developer page)"},
                        "Parameters": ["AccessKey", "SecretKey"],
                    },
                    {
                        "Label": {"default": "Or: AWS Marketplace Quick Launch (filled in for you)"},
                        "Parameters": [DEPLOYMENT_KEY_PARAMETER],
                    },
                    {
                        "Label": {"default": "Solution options"},
                        "Parameters": ["ApiAuthorization", "ApiAccessLogging"],
                    },
                    {
                        "Label": {"default": "Vendor settings (pre-filled, leave as they are)"},
                        "Parameters": [
                            "ReleaseVersion",
                            "VendorApiUrl",
                            "VendorPublicKey",
                            "SigningProfileVersionArn",
                        ],
                    },
                ],
                "ParameterLabels": {
                    "AccessKey": {"default": "Access key"},
                    "SecretKey": {"default": "Secret key"},
                    DEPLOYMENT_KEY_PARAMETER: {"default": "Quick Launch deployment key"},
                    "ApiAuthorization": {"default": "API authorization"},
                    "ApiAccessLogging": {"default": "API access logs"},
                    "VendorApiUrl": {"default": "Vendor API URL"},
                    "VendorPublicKey": {"default": "Vendor public key"},
                    "SigningProfileVersionArn": {"default": "Signing profile version ARN"},
                    "ReleaseVersion": {"default": "Release version"},
                },
            }
        }

        self.secret = secretsmanager.Secret(
            self,
            "ApiKeySecret",
            description=f"{config.product_name} API key pair used by the activation resource",
            # The access key is not secret (it names the key); only the NoEcho secret key is.
            secret_object_value={
                "access_key": SecretValue.unsafe_plain_text(access_key.value_as_string),
                "secret_key": SecretValue.cfn_parameter(secret_key),
            },
        )
        # Quick Launch: the same JSON, copied from Marketplace's secret by a dynamic reference.
        cfn_secret = self.secret.node.default_child
        cfn_secret.secret_string = Fn.condition_if(
            quick_launch.logical_id,
            Fn.sub("{{resolve:secretsmanager:${" + DEPLOYMENT_KEY_PARAMETER + "}:SecretString}}"),
            cfn_secret.secret_string,
        ).to_string()
        self.staging_bucket = s3.Bucket(
            self,
            "StagingBucket",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            removal_policy=RemovalPolicy.RETAIN,
        )
        activation = Activation(
            self,
            "Activation",
            secret=self.secret,
            staging_bucket=self.staging_bucket,
            vendor_api_url=vendor_api_url.value_as_string,
            vendor_public_key=vendor_public_key.value_as_string,
            release_version=release_version.value_as_string,
        )
        solution = PaidSolution(
            self,
            "Solution",
            signing_profile_version_arn=signing_profile.value_as_string,
            staging_bucket=self.staging_bucket,
            # One artifact per configured function; the activation resource answers `<Name>Key`.
            functions=config.solution,
            artifact_keys={
                f.name: activation.resource.get_att_string(f"{f.attribute}Key") for f in config.solution
            },
            authorization=api_auth.value_as_string,
            access_logging=access_logging,
        )
        usage = UsageReporting(
            self,
            "Usage",
            staging_bucket=self.staging_bucket,
            artifact_key=activation.resource.get_att_string("UsageReporterKey"),
            code_signing_config_arn=solution.code_signing.attr_code_signing_config_arn,
            secret=self.secret,
            vendor_api_url=vendor_api_url.value_as_string,
            usage_window_hours=config.usage_window_hours,
        )
        for function in solution.functions.values():  # every vendor function may record usage
            usage.grant_record(function)
        api_function = next((f for f in config.solution if f.api), None)
        EntitlementCheck(
            self,
            "License",
            functions=solution.functions,
            secret=self.secret,
            vendor_api_url=vendor_api_url.value_as_string,
            vendor_public_key=vendor_public_key.value_as_string,
            settings=config.license_tokens,
            api=solution.api,
            api_function=solution.function,
            api_artifact_key=activation.resource.get_att_string(f"{api_function.attribute}Key")
            if api_function
            else None,
            staging_bucket=self.staging_bucket,
            code_signing_config_arn=solution.code_signing.attr_code_signing_config_arn,
            authorization=api_auth.value_as_string,
        )
        if solution.api is not None:
            CfnOutput(self, "SolutionApiUrl", value=solution.api.url, description="Call the solution here")
        CfnOutput(self, "ActivationId", value=activation.resource.ref)
