"""The resource types of the customer template, created in an emulated customer account.

Each type is created, updated and deleted through the emulator's own API in the customer's
account (moto keeps one state per account), the way CloudFormation's resource handlers call the
services, and answers CloudFormation's `Ref` and `Fn::GetAtt` values (AWS docs: "AWS resource and
property types reference", the "Return values" section of each type). Types the emulator cannot
hold, or that change nothing the sandbox runs (API Gateway's methods and deployments, Lambda
permissions, the code-signing config), are *recorded*: they get a physical id and their return
values, and the sandbox applies what they mean itself (it serves the API from the template, and
checks the code-signing config when a function is created: see `customer_account.py`).

Lambda functions are not created here: the stack engine creates them, because a function also
needs its code checked and an execution environment (a worker process).
"""

from __future__ import annotations

import json
import secrets
import string
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

Created = tuple[str, dict[str, Any]]  # (physical id, attributes for Fn::GetAtt)


class ResourceFailed(RuntimeError):
    """A resource handler failed; the message is what CloudFormation's event would show."""


@dataclass
class ResourceContext:
    account_id: str
    region: str
    stack_name: str
    client: Callable[[str], Any]  # boto3 client of the customer's account

    def name(self, logical: str, *, lower: bool = False, limit: int = 64) -> str:
        """CloudFormation's generated names: `<stack>-<logical id>-<random suffix>`."""
        suffix = "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(12))
        text = f"{self.stack_name}-{logical[: max(1, limit - len(self.stack_name) - 15)]}-{suffix}"[:limit]
        return text.lower() if lower else text

    def arn(self, service: str, resource: str) -> str:
        return f"arn:aws:{service}:{self.region}:{self.account_id}:{resource}"


def _failed(action: str, exc: ClientError) -> ResourceFailed:
    error = exc.response.get("Error", {})
    return ResourceFailed(f"{error.get('Message') or error.get('Code') or action}")


class Provider:
    """Create / update / delete of one type. The default update applies the new properties again."""

    def create(self, ctx: ResourceContext, logical: str, props: dict) -> Created:
        raise NotImplementedError

    def update(self, ctx: ResourceContext, logical: str, physical: str, props: dict, old: dict) -> Created:
        return self.create_again(ctx, logical, physical, props)

    def create_again(self, ctx: ResourceContext, logical: str, physical: str, props: dict) -> Created:
        return physical, self.attributes(ctx, physical, props)

    def attributes(self, ctx: ResourceContext, physical: str, props: dict) -> dict[str, Any]:
        return {}

    def delete(self, ctx: ResourceContext, physical: str, props: dict) -> None:
        return None


class Secret(Provider):
    def create(self, ctx: ResourceContext, logical: str, props: dict) -> Created:
        sm = ctx.client("secretsmanager")
        args: dict[str, Any] = {"Name": props.get("Name") or ctx.name(logical)}
        if "Description" in props:
            args["Description"] = props["Description"]
        if "SecretString" in props:
            args["SecretString"] = props["SecretString"]
        elif "GenerateSecretString" in props:
            args["SecretString"] = secrets.token_urlsafe(24)
        try:
            arn = sm.create_secret(**args)["ARN"]
        except ClientError as exc:
            raise _failed("CreateSecret", exc) from None
        return arn, {"Id": arn}

    def update(self, ctx, logical, physical, props, old):
        if props.get("SecretString") != old.get("SecretString") and "SecretString" in props:
            ctx.client("secretsmanager").put_secret_value(
                SecretId=physical, SecretString=props["SecretString"]
            )
        return physical, {"Id": physical}

    def delete(self, ctx, physical, props):
        sm = ctx.client("secretsmanager")
        try:
            sm.delete_secret(SecretId=physical, ForceDeleteWithoutRecovery=True)
        except ClientError:
            pass  # already gone: a delete succeeds


class Bucket(Provider):
    def create(self, ctx: ResourceContext, logical: str, props: dict) -> Created:
        s3 = ctx.client("s3")
        name = props.get("BucketName") or ctx.name(logical, lower=True, limit=63)
        try:
            s3.create_bucket(Bucket=name)
        except ClientError as exc:
            raise _failed("CreateBucket", exc) from None
        self._configure(s3, name, props)
        return name, self.attributes(ctx, name, props)

    def _configure(self, s3: Any, name: str, props: dict) -> None:
        if props.get("VersioningConfiguration"):
            s3.put_bucket_versioning(
                Bucket=name, VersioningConfiguration={"Status": props["VersioningConfiguration"]["Status"]}
            )
        if props.get("BucketEncryption"):
            s3.put_bucket_encryption(
                Bucket=name,
                # CloudFormation's ServerSideEncryptionByDefault is the API's Apply… one.
                ServerSideEncryptionConfiguration={
                    "Rules": [
                        {
                            (
                                "ApplyServerSideEncryptionByDefault"
                                if k == "ServerSideEncryptionByDefault"
                                else k
                            ): v
                            for k, v in rule.items()
                        }
                        for rule in props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
                    ]
                },
            )
        if props.get("PublicAccessBlockConfiguration"):
            s3.put_public_access_block(
                Bucket=name, PublicAccessBlockConfiguration=props["PublicAccessBlockConfiguration"]
            )

    def update(self, ctx, logical, physical, props, old):
        self._configure(ctx.client("s3"), physical, props)
        return physical, self.attributes(ctx, physical, props)

    def attributes(self, ctx, physical, props):
        return {
            "Arn": f"arn:aws:s3:::{physical}",
            "DomainName": f"{physical}.s3.amazonaws.com",
            "RegionalDomainName": f"{physical}.s3.{ctx.region}.amazonaws.com",
        }

    def delete(self, ctx, physical, props):
        try:
            ctx.client("s3").delete_bucket(Bucket=physical)
        except ClientError as exc:
            # CloudFormation cannot delete a bucket that still holds objects.
            raise _failed("DeleteBucket", exc) from None


def over_http(document: dict) -> dict:
    """The policy without its statements that deny requests not made over TLS. The sandbox reaches
    the emulator over plain HTTP on 127.0.0.1, so moto evaluates `aws:SecureTransport` as false for
    every call and such a statement would refuse all of them; on AWS every SDK call is HTTPS. The
    SSL-only statement itself is a template assertion (tests/infra)."""
    statements = document.get("Statement", [])
    statements = [statements] if isinstance(statements, dict) else statements
    kept = [
        st
        for st in statements
        if not (st.get("Effect") == "Deny" and "aws:SecureTransport" in json.dumps(st.get("Condition", {})))
    ]
    return {**document, "Statement": kept}


class BucketPolicy(Provider):
    def _put(self, ctx: ResourceContext, props: dict) -> None:
        document = over_http(props["PolicyDocument"])
        s3 = ctx.client("s3")
        if document["Statement"]:
            s3.put_bucket_policy(Bucket=props["Bucket"], Policy=json.dumps(document))

    def create(self, ctx: ResourceContext, logical: str, props: dict) -> Created:
        self._put(ctx, props)
        return ctx.name(logical), {}

    def create_again(self, ctx, logical, physical, props):
        self._put(ctx, props)
        return physical, {}

    def delete(self, ctx, physical, props):
        try:
            ctx.client("s3").delete_bucket_policy(Bucket=props["Bucket"])
        except ClientError:
            pass


class LogGroup(Provider):
    def create(self, ctx: ResourceContext, logical: str, props: dict) -> Created:
        logs = ctx.client("logs")
        name = props.get("LogGroupName") or ctx.name(logical, limit=512)
        try:
            logs.create_log_group(logGroupName=name)
            if "RetentionInDays" in props:
                logs.put_retention_policy(logGroupName=name, retentionInDays=int(props["RetentionInDays"]))
        except ClientError as exc:
            raise _failed("CreateLogGroup", exc) from None
        return name, self.attributes(ctx, name, props)

    def attributes(self, ctx, physical, props):
        return {"Arn": ctx.arn("logs", f"log-group:{physical}:*")}

    def delete(self, ctx, physical, props):
        try:
            ctx.client("logs").delete_log_group(logGroupName=physical)
        except ClientError:
            pass


class Role(Provider):
    def create(self, ctx: ResourceContext, logical: str, props: dict) -> Created:
        name = props.get("RoleName") or ctx.name(logical)
        iam = ctx.client("iam")
        try:
            role = iam.create_role(
                RoleName=name, AssumeRolePolicyDocument=json.dumps(props["AssumeRolePolicyDocument"])
            )["Role"]
        except ClientError as exc:
            raise _failed("CreateRole", exc) from None
        return name, {"Arn": role["Arn"], "RoleId": role["RoleId"]}

    def create_again(self, ctx, logical, physical, props):
        role = ctx.client("iam").get_role(RoleName=physical)["Role"]
        return physical, {"Arn": role["Arn"], "RoleId": role["RoleId"]}

    def delete(self, ctx, physical, props):
        iam = ctx.client("iam")
        try:
            for name in iam.list_role_policies(RoleName=physical)["PolicyNames"]:
                iam.delete_role_policy(RoleName=physical, PolicyName=name)
            iam.delete_role(RoleName=physical)
        except ClientError:
            pass


class Policy(Provider):
    def create(self, ctx: ResourceContext, logical: str, props: dict) -> Created:
        self._put(ctx, props)
        return ctx.name(logical), {}

    def _put(self, ctx: ResourceContext, props: dict) -> None:
        iam = ctx.client("iam")
        for role in props.get("Roles", []):
            iam.put_role_policy(
                RoleName=role,
                PolicyName=props["PolicyName"],
                PolicyDocument=json.dumps(props["PolicyDocument"]),
            )

    def create_again(self, ctx, logical, physical, props):
        self._put(ctx, props)
        return physical, {}

    def delete(self, ctx, physical, props):
        iam = ctx.client("iam")
        for role in props.get("Roles", []):
            try:
                iam.delete_role_policy(RoleName=role, PolicyName=props["PolicyName"])
            except ClientError:
                pass


class Queue(Provider):
    _ATTRIBUTES = (
        "MessageRetentionPeriod",
        "VisibilityTimeout",
        "SqsManagedSseEnabled",
        "DelaySeconds",
        "ReceiveMessageWaitTimeSeconds",
    )

    def _attributes_of(self, props: dict) -> dict[str, str]:
        out = {
            k: str(props[k]).lower() if isinstance(props[k], bool) else str(props[k])
            for k in self._ATTRIBUTES
            if k in props
        }
        if "RedrivePolicy" in props:
            out["RedrivePolicy"] = json.dumps(props["RedrivePolicy"])
        return out

    def create(self, ctx: ResourceContext, logical: str, props: dict) -> Created:
        name = props.get("QueueName") or ctx.name(logical, limit=80)
        try:
            url = ctx.client("sqs").create_queue(QueueName=name, Attributes=self._attributes_of(props))[
                "QueueUrl"
            ]
        except ClientError as exc:
            raise _failed("CreateQueue", exc) from None
        return url, self.attributes(ctx, url, props)

    def update(self, ctx, logical, physical, props, old):
        ctx.client("sqs").set_queue_attributes(QueueUrl=physical, Attributes=self._attributes_of(props))
        return physical, self.attributes(ctx, physical, props)

    def attributes(self, ctx, physical, props):
        name = physical.rsplit("/", 1)[-1]
        return {"Arn": ctx.arn("sqs", name), "QueueName": name, "QueueUrl": physical}

    def delete(self, ctx, physical, props):
        try:
            ctx.client("sqs").delete_queue(QueueUrl=physical)
        except ClientError:
            pass


class QueuePolicy(Provider):
    def create(self, ctx: ResourceContext, logical: str, props: dict) -> Created:
        self._put(ctx, props)
        return ctx.name(logical), {}

    def _put(self, ctx: ResourceContext, props: dict) -> None:
        for url in props.get("Queues", []):
            ctx.client("sqs").set_queue_attributes(
                QueueUrl=url, Attributes={"Policy": json.dumps(props["PolicyDocument"])}
            )

    def create_again(self, ctx, logical, physical, props):
        self._put(ctx, props)
        return physical, {}


class Rule(Provider):
    def create(self, ctx: ResourceContext, logical: str, props: dict) -> Created:
        name = props.get("Name") or ctx.name(logical)
        return self._put(ctx, name, props)

    def _put(self, ctx: ResourceContext, name: str, props: dict) -> Created:
        events = ctx.client("events")
        args = {"Name": name, "State": props.get("State", "ENABLED")}
        if "ScheduleExpression" in props:
            args["ScheduleExpression"] = props["ScheduleExpression"]
        if "EventPattern" in props:
            args["EventPattern"] = json.dumps(props["EventPattern"])
        try:
            arn = events.put_rule(**args)["RuleArn"]
            targets = [{"Id": t["Id"], "Arn": t["Arn"]} for t in props.get("Targets", [])]
            if targets:
                events.put_targets(Rule=name, Targets=targets)
        except ClientError as exc:
            raise _failed("PutRule", exc) from None
        return name, {"Arn": arn}

    def create_again(self, ctx, logical, physical, props):
        return self._put(ctx, physical, props)

    def delete(self, ctx, physical, props):
        events = ctx.client("events")
        try:
            ids = [t["Id"] for t in props.get("Targets", [])]
            if ids:
                events.remove_targets(Rule=physical, Ids=ids)
            events.delete_rule(Name=physical)
        except ClientError:
            pass


class Alarm(Provider):
    def create(self, ctx: ResourceContext, logical: str, props: dict) -> Created:
        name = props.get("AlarmName") or ctx.name(logical, limit=255)
        return self._put(ctx, name, props)

    def _put(self, ctx: ResourceContext, name: str, props: dict) -> Created:
        keys = (
            "AlarmDescription",
            "ComparisonOperator",
            "Dimensions",
            "EvaluationPeriods",
            "MetricName",
            "Namespace",
            "Period",
            "Statistic",
            "Threshold",
            "TreatMissingData",
        )
        args = {k: props[k] for k in keys if k in props}
        for number in ("EvaluationPeriods", "Period"):
            if number in args:
                args[number] = int(args[number])
        if "Threshold" in args:
            args["Threshold"] = float(args["Threshold"])
        try:
            ctx.client("cloudwatch").put_metric_alarm(AlarmName=name, **args)
        except ClientError as exc:
            raise _failed("PutMetricAlarm", exc) from None
        return name, {"Arn": ctx.arn("cloudwatch", f"alarm:{name}")}

    def create_again(self, ctx, logical, physical, props):
        return self._put(ctx, physical, props)

    def delete(self, ctx, physical, props):
        try:
            ctx.client("cloudwatch").delete_alarms(AlarmNames=[physical])
        except ClientError:
            pass


class RestApi(Provider):
    def create(self, ctx: ResourceContext, logical: str, props: dict) -> Created:
        api = ctx.client("apigateway")
        try:
            made = api.create_rest_api(
                name=props.get("Name", logical),
                endpointConfiguration={
                    "types": props.get("EndpointConfiguration", {}).get("Types", ["EDGE"])
                },
            )
        except ClientError as exc:
            raise _failed("CreateRestApi", exc) from None
        return made["id"], self.attributes(ctx, made["id"], props)

    def attributes(self, ctx, physical, props):
        resources = ctx.client("apigateway").get_resources(restApiId=physical)["items"]
        root = next(r["id"] for r in resources if r["path"] == "/")
        return {"RootResourceId": root, "RestApiId": physical}

    def delete(self, ctx, physical, props):
        try:
            ctx.client("apigateway").delete_rest_api(restApiId=physical)
        except ClientError:
            pass


class Recorded(Provider):
    """A type the sandbox records without the emulator: a physical id and its return values."""

    def __init__(
        self,
        attributes: Callable[[ResourceContext, str, dict], dict[str, Any]] | None = None,
        ref: Callable[[ResourceContext, str, dict], str] | None = None,
    ) -> None:
        self._attributes = attributes
        self._ref = ref

    def create(self, ctx: ResourceContext, logical: str, props: dict) -> Created:
        physical = self._ref(ctx, logical, props) if self._ref else ctx.name(logical)
        return physical, self.attributes(ctx, physical, props)

    def attributes(self, ctx, physical, props):
        return self._attributes(ctx, physical, props) if self._attributes else {}


def _code_signing_id(ctx: ResourceContext, logical: str, props: dict) -> str:
    return ctx.arn("lambda", f"code-signing-config:csc-{secrets.token_hex(8)}")


PROVIDERS: dict[str, Provider] = {
    "AWS::SecretsManager::Secret": Secret(),
    "AWS::S3::Bucket": Bucket(),
    "AWS::S3::BucketPolicy": BucketPolicy(),
    "AWS::Logs::LogGroup": LogGroup(),
    "AWS::IAM::Role": Role(),
    "AWS::IAM::Policy": Policy(),
    "AWS::SQS::Queue": Queue(),
    "AWS::SQS::QueuePolicy": QueuePolicy(),
    "AWS::Events::Rule": Rule(),
    "AWS::CloudWatch::Alarm": Alarm(),
    "AWS::ApiGateway::RestApi": RestApi(),
    "AWS::Lambda::CodeSigningConfig": Recorded(
        attributes=lambda ctx, physical, props: {
            "CodeSigningConfigArn": physical,
            "CodeSigningConfigId": physical.rsplit(":", 1)[-1],
        },
        ref=_code_signing_id,
    ),
    "AWS::ApiGateway::Resource": Recorded(
        attributes=lambda ctx, physical, props: {"ResourceId": physical},
        ref=lambda ctx, logical, props: secrets.token_hex(3),
    ),
    "AWS::ApiGateway::Method": Recorded(),
    "AWS::ApiGateway::RequestValidator": Recorded(
        ref=lambda ctx, logical, props: secrets.token_hex(3),
        attributes=lambda ctx, physical, props: {"RequestValidatorId": physical},
    ),
    "AWS::ApiGateway::Deployment": Recorded(
        ref=lambda ctx, logical, props: secrets.token_hex(3),
        attributes=lambda ctx, physical, props: {"DeploymentId": physical},
    ),
    "AWS::ApiGateway::Stage": Recorded(ref=lambda ctx, logical, props: str(props.get("StageName", "prod"))),
    "AWS::Lambda::Permission": Recorded(),
    # The license authorizer (ApiAuthorization NONE) and gateway responses: recorded here; the
    # sandbox's solution API runs them (sandbox/lambda_authorizer.py, sandbox/gateway.py).
    "AWS::ApiGateway::Authorizer": Recorded(
        ref=lambda ctx, logical, props: secrets.token_hex(3),
        attributes=lambda ctx, physical, props: {"AuthorizerId": physical},
    ),
    "AWS::ApiGateway::GatewayResponse": Recorded(),
}
