"""Provision the synthesized vendor template into the AWS emulator, as `cdk deploy` would.

1. Publish the stack's file assets into the emulated bootstrap bucket.
2. Create, through the emulator's API and from the template's own definitions, the
   resources that moto's CloudFormation skips or gets wrong: Cognito user pools and clients,
   the Signer profile, and KMS keys with a non-default key spec (moto's CloudFormation
   makes every key symmetric). References to them are replaced by their real values.
3. Create everything else with the emulator's CloudFormation (`create_stack`).

Nothing here lists resources by hand: every name, key spec and setting comes from the template.
Not emulated at all: API Gateway (the sandbox serves the template's routes itself, see
`gateway.py`), bucket policies (moto neither creates nor enforces them), log delivery, the WAF
web ACL and its association (moto's CloudFormation has no WAFv2; only `CFN_TYPES` are
provisioned), and Lambda layers: the pinned-SDK layer is neither uploaded nor created, because
each emulated function runs in a worker of the sandbox's own virtualenv, whose boto3 and botocore
are the same `requirements.txt` pins the layer is built from; functions name it by a stand-in ARN.
Nor the developer page's delivery: CloudFront (moto's CloudFormation has no distributions,
origin access controls or response headers policies) and CDK's BucketDeployment (a custom
resource whose function needs the AWS CLI layer). Those resources, and whatever refers only to
them, are skipped and listed in `Provisioned.skipped`; the sandbox serves the page itself and
gives `stand_ins` for the attributes others read (the distribution's domain name).
"""

from __future__ import annotations

import io
import json
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ACCOUNT = "123456789012"
# Types moto's CloudFormation creates faithfully enough for the platform's handlers.
CFN_TYPES = {
    "AWS::DynamoDB::Table",
    "AWS::KMS::Key",
    "AWS::S3::Bucket",
    "AWS::Logs::LogGroup",
    "AWS::IAM::Role",
    "AWS::IAM::Policy",
    "AWS::Lambda::Function",
    "AWS::SQS::Queue",
    "AWS::SNS::Topic",
}


# service name -> a boto3 client of the emulator (the caller decides endpoint and credentials)
Clients = Callable[[str], Any]


class ProvisionError(RuntimeError):
    pass


@dataclass
class Provisioned:
    stack_name: str
    template: dict[str, Any]
    region: str
    physical: dict[str, str] = field(default_factory=dict)
    attributes: dict[tuple[str, str], str] = field(default_factory=dict)
    skipped: tuple[str, ...] = ()

    def resources_of_type(self, type_name: str) -> dict[str, dict]:
        return {k: v for k, v in self.template["Resources"].items() if v["Type"] == type_name}

    def resolve(self, node: Any) -> Any:
        """Evaluate Ref / Fn::GetAtt / Fn::Join against what was provisioned; None if unknown."""
        if isinstance(node, dict) and len(node) == 1:
            ((key, value),) = node.items()
            if key == "Ref":
                return self.physical.get(
                    value, {"AWS::Region": self.region, "AWS::AccountId": ACCOUNT}.get(value)
                )
            if key == "Fn::GetAtt":
                return self.attributes.get((value[0], value[1]))
            if key == "Fn::Join":
                parts = [self.resolve(v) for v in value[1]]
                return None if any(p is None for p in parts) else value[0].join(parts)
            return None
        return node

    def outputs(self) -> dict[str, str]:
        """The stack's outputs that the emulator can answer (API URLs are the sandbox's own)."""
        out = {}
        for name, output in self.template.get("Outputs", {}).items():
            value = self.resolve(output["Value"])
            if value is not None:
                out[name] = value
        return out

    def first_of_type(self, type_name: str) -> str:
        found = sorted(self.resources_of_type(type_name))
        if not found:
            raise ProvisionError(f"the vendor template has no {type_name}")
        return found[0]


def _substitute(node: Any, values: dict[str, str], attributes: dict[tuple[str, str], str]) -> Any:
    if isinstance(node, dict):
        if set(node) == {"Ref"} and node["Ref"] in values:
            return values[node["Ref"]]
        if set(node) == {"Fn::GetAtt"}:
            logical, attr = node["Fn::GetAtt"]
            if (logical, attr) in attributes:
                return attributes[(logical, attr)]
        return {k: _substitute(v, values, attributes) for k, v in node.items()}
    if isinstance(node, list):
        return [_substitute(v, values, attributes) for v in node]
    return node


def _references(node: Any) -> set[str]:
    """Logical ids that `node` refers to with Ref or Fn::GetAtt."""
    if isinstance(node, dict):
        if set(node) == {"Ref"} and isinstance(node["Ref"], str):
            return {node["Ref"]}
        if set(node) == {"Fn::GetAtt"}:
            return {node["Fn::GetAtt"][0]}
        return set().union(*(_references(v) for v in node.values())) if node else set()
    if isinstance(node, list):
        return set().union(*(_references(v) for v in node)) if node else set()
    return set()


def _without_dangling(emulated: dict[str, Any], template: dict) -> tuple[dict[str, Any], tuple[str, ...]]:
    """Drop, repeatedly, every resource that refers to a template resource nobody creates."""
    declared = set(template["Resources"])
    kept = dict(emulated)
    while True:
        dangling = {
            logical
            for logical, resource in kept.items()
            if (_references(resource.get("Properties", {})) & declared) - set(kept)
        }
        if not dangling:
            break
        for logical in dangling:
            del kept[logical]
    return kept, tuple(sorted(set(emulated) - set(kept)))


def publish_assets(
    cdk_out: Path, stack_name: str, region: str, clients: Clients, *, skip: frozenset[str] = frozenset()
) -> None:
    """Upload the stack's file assets, except those whose object key is in `skip`."""
    manifest = json.loads((cdk_out / f"{stack_name}.assets.json").read_text())
    s3 = clients("s3")
    for asset in manifest.get("files", {}).values():
        if all(d["objectKey"] in skip for d in asset["destinations"].values()):
            continue
        source = cdk_out / asset["source"]["path"]
        if source.is_dir():
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
                for path in sorted(source.rglob("*")):
                    if path.is_file():
                        archive.write(path, path.relative_to(source).as_posix())
            body = buffer.getvalue()
        else:
            body = source.read_bytes()
        for destination in asset["destinations"].values():
            bucket = (
                destination["bucketName"]
                .replace("${AWS::AccountId}", ACCOUNT)
                .replace("${AWS::Region}", region)
            )
            if bucket not in {b["Name"] for b in s3.list_buckets()["Buckets"]}:
                s3.create_bucket(Bucket=bucket)
            s3.put_object(Bucket=bucket, Key=destination["objectKey"], Body=body)


def _create_special(
    template: dict, region: str, clients: Clients
) -> tuple[dict[str, str], dict[tuple[str, str], str]]:
    """Create what moto's CloudFormation skips, from the template's own properties."""
    made = _SpecialResources(template["Resources"], region, clients)
    made.asymmetric_keys()
    made.event_buses()
    made.signing_profiles()
    made.user_pools()
    made.user_pool_clients()  # after their pools
    return made.values, made.attributes


class _SpecialResources:
    """Creates what moto's CloudFormation skips, from the template's own properties, and collects
    their physical ids (`values`) and attributes."""

    def __init__(self, resources: dict, region: str, clients: Clients) -> None:
        self.resources = resources
        self.region = region
        self.clients = clients
        self.values: dict[str, str] = {}
        self.attributes: dict[tuple[str, str], str] = {}

    def of_type(self, kind: str) -> list[tuple[str, dict]]:
        return [(k, r) for k, r in sorted(self.resources.items()) if r["Type"] == kind]

    def asymmetric_keys(self) -> None:
        """KMS keys other than symmetric ones."""
        kms = self.clients("kms")
        for logical, resource in self.of_type("AWS::KMS::Key"):
            props = resource.get("Properties", {})
            if props.get("KeySpec", "SYMMETRIC_DEFAULT") != "SYMMETRIC_DEFAULT":
                # The key policy names the account through intrinsics; moto enforces none anyway.
                meta = kms.create_key(
                    KeySpec=props["KeySpec"],
                    KeyUsage=props.get("KeyUsage", "ENCRYPT_DECRYPT"),
                    Description=props.get("Description", logical),
                )["KeyMetadata"]
                self.values[logical] = meta["KeyId"]
                self.attributes[(logical, "Arn")] = meta["Arn"]
                self.attributes[(logical, "KeyId")] = meta["KeyId"]

    def event_buses(self) -> None:
        """Event buses (moto's CloudFormation creates one but reports no physical id)."""
        events = self.clients("events")
        for logical, resource in self.of_type("AWS::Events::EventBus"):
            name = resource.get("Properties", {}).get("Name") or f"{logical}sandbox"
            arn = events.create_event_bus(Name=name)["EventBusArn"]
            self.values[logical] = name
            self.attributes.update({(logical, "Arn"): arn, (logical, "Name"): name})

    def signing_profiles(self) -> None:
        """AWS Signer signing profiles."""
        signer = self.clients("signer")
        for logical, resource in self.of_type("AWS::Signer::SigningProfile"):
            props = resource.get("Properties", {})
            name = props.get("ProfileName") or f"{logical}sandbox"
            made = signer.put_signing_profile(profileName=name, platformId=props["PlatformId"])
            self.values[logical] = made["arn"]
            self.attributes.update(
                {
                    (logical, "Arn"): made["arn"],
                    (logical, "ProfileName"): name,
                    (logical, "ProfileVersion"): made["profileVersion"],
                    (logical, "ProfileVersionArn"): made["profileVersionArn"],
                }
            )

    def user_pools(self) -> None:
        """Cognito user pools."""
        cognito = self.clients("cognito-idp")
        for logical, resource in self.of_type("AWS::Cognito::UserPool"):
            props = resource.get("Properties", {})
            args: dict[str, Any] = {"PoolName": props.get("UserPoolName", logical)}
            for key in (
                "Policies",
                "AutoVerifiedAttributes",
                "UsernameAttributes",
                "UsernameConfiguration",
                "MfaConfiguration",
                "AccountRecoverySetting",
                "AdminCreateUserConfig",
                "Schema",
                "VerificationMessageTemplate",
                "DeletionProtection",
                "UserPoolTier",
            ):
                if key in props:
                    args[key] = props[key]
            if "Schema" in args:
                args["Schema"] = [_schema_attribute(a) for a in args["Schema"]]
            pool = cognito.create_user_pool(**args)["UserPool"]
            self.values[logical] = pool["Id"]
            self.attributes.update(
                {
                    (logical, "Arn"): pool["Arn"],
                    (logical, "ProviderName"): f"cognito-idp.{self.region}.amazonaws.com/{pool['Id']}",
                    (logical, "ProviderURL"): f"https://cognito-idp.{self.region}.amazonaws.com/{pool['Id']}",
                    (logical, "UserPoolId"): pool["Id"],
                }
            )

    def user_pool_clients(self) -> None:
        """Cognito user pool clients (after their pools)."""
        cognito = self.clients("cognito-idp")
        for logical, resource in self.of_type("AWS::Cognito::UserPoolClient"):
            props = _substitute(resource.get("Properties", {}), self.values, self.attributes)
            args = {"UserPoolId": props["UserPoolId"], "ClientName": props.get("ClientName", logical)}
            for key in (
                "GenerateSecret",
                "ExplicitAuthFlows",
                "AllowedOAuthFlows",
                "AllowedOAuthScopes",
                "CallbackURLs",
                "LogoutURLs",
                "PreventUserExistenceErrors",
                "SupportedIdentityProviders",
                "AllowedOAuthFlowsUserPoolClient",
                "EnableTokenRevocation",
                "ReadAttributes",  # which attributes the ID token carries (email, email_verified)
                "WriteAttributes",
            ):
                if key in props:
                    args[key] = props[key]
            client = cognito.create_user_pool_client(**args)["UserPoolClient"]
            self.values[logical] = client["ClientId"]
            self.attributes[(logical, "ClientId")] = client["ClientId"]


def _schema_attribute(attribute: dict) -> dict:
    out = dict(attribute)
    if "StringAttributeConstraints" in out:
        out["StringAttributeConstraints"] = {k: str(v) for k, v in out["StringAttributeConstraints"].items()}
    return out


def provision(
    cdk_out: Path,
    stack_name: str,
    region: str,
    clients: Clients,
    *,
    timeout_s: float = 60,
    stand_ins: dict[tuple[str, str], str] | None = None,
) -> Provisioned:
    """`stand_ins` gives values for attributes of resources the emulator does not create."""
    template = json.loads((cdk_out / f"{stack_name}.template.json").read_text())
    layers = {
        logical: resource
        for logical, resource in template["Resources"].items()
        if resource["Type"] == "AWS::Lambda::LayerVersion"
    }
    layer_keys = frozenset(r["Properties"]["Content"]["S3Key"] for r in layers.values())
    publish_assets(cdk_out, stack_name, region, clients, skip=layer_keys)
    values, attributes = _create_special(template, region, clients)
    for logical in layers:
        values[logical] = f"arn:aws:lambda:{region}:{ACCOUNT}:layer:{logical}:1"
    known = {**(stand_ins or {}), **attributes}
    emulated = {
        logical: _substitute(resource, values, known)
        for logical, resource in template["Resources"].items()
        if resource["Type"] in CFN_TYPES and logical not in values
    }
    emulated, skipped = _without_dangling(emulated, template)
    for resource in emulated.values():
        depends = resource.get("DependsOn")
        if depends:
            depends = [depends] if isinstance(depends, str) else depends
            resource["DependsOn"] = [d for d in depends if d in emulated]
    body = {"AWSTemplateFormatVersion": "2010-09-09", "Resources": emulated}
    cfn = clients("cloudformation")
    cfn.create_stack(StackName=stack_name, TemplateBody=json.dumps(body), Capabilities=["CAPABILITY_IAM"])
    deadline = time.monotonic() + timeout_s
    while True:
        stack = cfn.describe_stacks(StackName=stack_name)["Stacks"][0]
        if not stack["StackStatus"].endswith("IN_PROGRESS"):
            break
        if time.monotonic() > deadline:
            raise ProvisionError(f"stack {stack_name} still {stack['StackStatus']} after {timeout_s:.0f} s")
        time.sleep(0.1)
    if stack["StackStatus"] != "CREATE_COMPLETE":
        raise ProvisionError(
            f"stack {stack_name}: {stack['StackStatus']} {stack.get('StackStatusReason', '')}"
        )
    result = Provisioned(stack_name, template, region, dict(values), dict(known), skipped)
    for item in cfn.describe_stack_resources(StackName=stack_name)["StackResources"]:
        result.physical[item["LogicalResourceId"]] = item["PhysicalResourceId"]
    # moto's CloudFormation drops VersioningConfiguration; releases name exact object versions.
    s3 = clients("s3")
    for logical, resource in result.resources_of_type("AWS::S3::Bucket").items():
        status = resource.get("Properties", {}).get("VersioningConfiguration", {}).get("Status")
        if status == "Enabled":
            s3.put_bucket_versioning(
                Bucket=result.physical[logical], VersioningConfiguration={"Status": "Enabled"}
            )
    return result
