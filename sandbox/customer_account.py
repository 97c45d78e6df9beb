"""Customer accounts in the sandbox: a CloudFormation stand-in that launches, updates and deletes
the published customer template in an emulated customer AWS account.

Each customer account is its own account in the emulator: moto 5 in server mode keys every
service's state by account, and takes the account from the `x-moto-account-id` request header or
from the access key (an access key created by IAM in that account). The engine calls the emulator
with the header; the stack's functions run with an access key created in the account, so their
calls land there too.

What CloudFormation does, and the engine does:
- parameters validated against the template's own constraints (`cfn_template.py`);
- conditions, intrinsic functions and `{{resolve:secretsmanager:…}}` dynamic references resolved
  from the account's Secrets Manager; resources created in dependency order;
- a custom resource is sent its request as CloudFormation does (AWS docs: "Custom resource request
  objects", https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/crpg-ref-requests.html):
  `RequestType`, a presigned-style `ResponseURL`, `StackId`, `RequestId`, `ResourceType`,
  `LogicalResourceId`, `ResourceProperties`, plus `PhysicalResourceId` and (Update)
  `OldResourceProperties`. The ResponseURL is served by the sandbox: unguessable, PUT only, single
  use; the body is read as CloudFormation reads it (AWS docs: "Custom resource response objects",
  https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/crpg-ref-responses.html: at most
  4096 bytes, `Status` SUCCESS or FAILED, `Reason` required with FAILED, a non-empty
  `PhysicalResourceId` of at most 1 KB, `StackId`, `RequestId` and `LogicalResourceId` copied from
  the request). A new physical id on Update is a replacement: the old one gets a Delete once the
  update is complete. CloudFormation waits for the answer up to the resource's `ServiceTimeout`
  (AWS docs: "AWS::CloudFormation::CustomResource", ServiceTimeout);
- a failed resource rolls the stack back (`ROLLBACK_COMPLETE`, `UPDATE_ROLLBACK_COMPLETE`) with
  the reason CloudFormation shows; `DeletionPolicy: Retain` resources are kept on delete.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import secrets
import shutil
import threading
import time
import uuid
import zipfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from sandbox.cfn_template import (
    Evaluator,
    TemplateError,
    check_rules,
    creation_order,
    no_echo_parameters,
    resolve_dynamic,
    validate_parameters,
)
from sandbox.customer_api import SolutionApi
from sandbox.customer_resources import PROVIDERS, ResourceContext, ResourceFailed
from sandbox.gateway import ApiGateway, function_of, gateway_responses, routes_from_template
from sandbox.lambda_authorizer import LambdaAuthorizer
from sandbox.triggers import scheduled_event
from sandbox.workers import FunctionError, FunctionSpec, FunctionWorker, base_environment

STACK_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,127}$")
MAX_RESPONSE_BYTES = 4096
MAX_PHYSICAL_ID_BYTES = 1024
DEFAULT_SERVICE_TIMEOUT_S = 3600  # CloudFormation's default for a custom resource
RESPONSE_GRACE_S = 5.0  # after the function returned without answering (see `_await_response`)
CODE_SIGNING_REFUSAL = (
    'Resource handler returned message: "Lambda cannot deploy the function. The function or layer might be '
    "signed using a signature that the client is not configured to accept. Check the provided signature for "
    '{name}." (Service: Lambda, Status Code: 400, HandlerErrorCode: InvalidRequest)'
)


class StackError(ValueError):
    """A request CloudFormation refuses before it changes anything (HTTP 400, `code`)."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


@dataclass
class Resource:
    logical: str
    type: str
    physical: str
    attributes: dict[str, Any]
    props: dict[str, Any]  # resolved
    deletion_policy: str = "Delete"


@dataclass
class Stack:
    name: str
    stack_id: str
    account_id: str
    template: dict
    parameters: dict[str, str]
    given: set[str]
    version: str
    credentials: dict[str, str]
    status: str = "CREATE_IN_PROGRESS"
    reason: str = ""
    resources: dict[str, Resource] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)
    events: list[dict[str, str]] = field(default_factory=list)
    outputs: dict[str, str] = field(default_factory=dict)
    workers: dict[str, FunctionWorker] = field(default_factory=dict)
    api: SolutionApi | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def event(self, logical: str, status: str, reason: str = "") -> None:
        self.events.append(
            {
                "logical_id": logical,
                "status": status,
                "reason": reason,
                "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            }
        )


@dataclass
class _Pending:
    """One custom-resource request waiting for its answer on the ResponseURL."""

    request: dict
    answered: threading.Event = field(default_factory=threading.Event)
    body: bytes | None = None


@dataclass(frozen=True)
class VendorSide:
    """What the customer accounts need from the vendor's sandbox."""

    current_template: Callable[[], tuple[dict, str]]  # (rendered template, release version)
    release_artifacts: Callable[[str], list[dict]]  # artifact name -> every published {sha256, version}
    signing_profile_version_arn: str
    response_base_url: str  # where ResponseURLs are served (the sandbox API)


class CustomerAccounts:
    def __init__(
        self, endpoint_url: str, region: str, vendor: VendorSide, state_dir: Path, log: IO[str]
    ) -> None:
        self.endpoint_url = endpoint_url
        self.region = region
        self.vendor = vendor
        self.state_dir = state_dir
        self.log = log
        self.stacks: dict[str, Stack] = {}
        self._pending: dict[str, _Pending] = {}
        self._lock = threading.Lock()
        self._keys: dict[str, str] = {}  # access key -> secret of every stack's credentials
        self._clients: dict[tuple[str, str], Any] = {}
        self._clients_lock = threading.Lock()
        self._session = boto3.session.Session(
            aws_access_key_id="sandbox",
            aws_secret_access_key="sandbox",  # noqa: S106 - the emulator accepts any credentials
            region_name=region,
        )

    # -- the emulator, as one customer account --------------------------------------------------
    def client(self, account_id: str, service: str) -> Any:
        """A client of the emulator acting in `account_id` (cached: clients are thread-safe, and
        creating one loads the service model, which costs more than most calls)."""
        with self._clients_lock:
            cached = self._clients.get((account_id, service))
            if cached is None:
                cached = self._session.client(service, endpoint_url=self.endpoint_url)

                def to_account(request: Any, **_kwargs: Any) -> None:
                    request.headers["x-moto-account-id"] = account_id

                cached.meta.events.register("before-sign.*.*", to_account)
                self._clients[(account_id, service)] = cached
        return cached

    def secret_for(self, access_key: str) -> str | None:
        return self._keys.get(access_key)

    def _stack_credentials(self, account_id: str, stack_name: str) -> dict[str, str]:
        """An IAM user of the customer account for the stack (its functions and its API callers)."""
        iam = self.client(account_id, "iam")
        user = f"{stack_name}-sandbox-{secrets.token_hex(3)}"[:64]
        iam.create_user(UserName=user)
        key = iam.create_access_key(UserName=user)["AccessKey"]
        self._keys[key["AccessKeyId"]] = key["SecretAccessKey"]
        return {"aws_access_key_id": key["AccessKeyId"], "aws_secret_access_key": key["SecretAccessKey"]}

    # -- launch ---------------------------------------------------------------------------------
    def launch(self, account_id: Any, parameters: Any, stack_name: Any = None) -> Stack:
        if not isinstance(account_id, str) or not re.fullmatch(r"\d{12}", account_id):
            raise StackError("ValidationError", "Field 'aws_account_id' must be 12 digits.")
        if not isinstance(parameters, dict):
            raise StackError("ValidationError", "Field 'parameters' must be an object of parameter values.")
        name = stack_name if stack_name is not None else f"textlens-{secrets.token_hex(3)}"
        if not isinstance(name, str) or not STACK_NAME.fullmatch(name):
            raise StackError(
                "ValidationError",
                "1 validation error detected: Value at 'stackName' failed to satisfy constraint: Member must "
                "satisfy regular expression pattern: [a-zA-Z][-a-zA-Z0-9]*",
            )
        template, version = self.vendor.current_template()
        try:
            values = validate_parameters(template, parameters)
            check_rules(template, values)
        except TemplateError as exc:
            raise StackError("ValidationError", str(exc)) from None
        with self._lock:
            if name in self.stacks:
                raise StackError("AlreadyExistsException", f"Stack [{name}] already exists")
            stack_id = f"arn:aws:cloudformation:{self.region}:{account_id}:stack/{name}/{uuid.uuid4()}"
            stack = Stack(
                name=name,
                stack_id=stack_id,
                account_id=account_id,
                template=template,
                parameters=values,
                given=set(parameters),
                version=values.get("ReleaseVersion", version),
                credentials={},
            )
            self.stacks[name] = stack
        with stack.lock:
            stack.credentials = self._stack_credentials(account_id, name)
            stack.event(name, "CREATE_IN_PROGRESS", "User Initiated")
            self._create(stack)
        return stack

    def _context(self, stack: Stack) -> ResourceContext:
        return ResourceContext(
            stack.account_id, self.region, stack.name, lambda service: self.client(stack.account_id, service)
        )

    def _evaluator(self, stack: Stack, template: dict, parameters: dict[str, str]) -> Evaluator:
        def ref(logical: str) -> str:
            if logical not in stack.resources:
                raise TemplateError(f"Template format error: Unresolved resource dependencies [{logical}]")
            return stack.resources[logical].physical

        def get_att(logical: str, attribute: str) -> Any:
            resource = stack.resources.get(logical)
            if resource is None or attribute not in resource.attributes:
                raise ResourceFailed(
                    f"CustomResource attribute error: Vendor response doesn't contain {attribute} key in "
                    "object "
                    f"{stack.stack_id}|{logical}"
                    if resource is not None and resource.type.startswith("Custom::")
                    else f"Template error: resource {logical} does not support attribute type {attribute}"
                )
            return resource.attributes[attribute]

        pseudo = {
            "AWS::Region": self.region,
            "AWS::AccountId": stack.account_id,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": stack.name,
            "AWS::StackId": stack.stack_id,
        }
        return Evaluator(template, parameters, pseudo, ref, get_att)

    def _resolve(self, stack: Stack, evaluator: Evaluator, logical: str, template: dict) -> dict:
        """The resource's properties, evaluated. Secure dynamic references are resolved except
        in a custom resource, which gets them as the literal text, as CloudFormation sends it
        (AWS docs: "Get values stored in other services using dynamic references": dynamic
        references for secure values are not supported in custom resources)."""
        props = evaluator.evaluate(template["Resources"][logical].get("Properties", {}))
        kind = str(template["Resources"][logical].get("Type", ""))
        if kind.startswith("Custom::") or kind == "AWS::CloudFormation::CustomResource":
            return props
        sm = self.client(stack.account_id, "secretsmanager")

        def secret_value(secret_id: str) -> str:
            try:
                return sm.get_secret_value(SecretId=secret_id)["SecretString"]
            except ClientError:
                raise ResourceFailed(
                    f"Secrets Manager can't find the specified secret. (Dynamic reference to {secret_id})"
                ) from None

        try:
            return resolve_dynamic(props, secret_value)
        except TemplateError as exc:
            raise ResourceFailed(str(exc)) from None

    def _active(self, template: dict, evaluator: Evaluator) -> dict[str, dict]:
        return {k: v for k, v in template["Resources"].items() if evaluator.active(v)}

    def _create(self, stack: Stack) -> None:
        evaluator = self._evaluator(stack, stack.template, stack.parameters)
        resources = self._active(stack.template, evaluator)
        try:
            order = creation_order(resources)
        except TemplateError as exc:
            self._finish(stack, "ROLLBACK_COMPLETE", str(exc))
            return
        for logical in order:
            stack.event(logical, "CREATE_IN_PROGRESS")
            try:
                props = self._resolve(stack, evaluator, logical, stack.template)
                made = self._create_resource(stack, logical, resources[logical], props)
            except (ResourceFailed, TemplateError) as exc:
                failed = getattr(exc, "resource", None)
                if failed is not None:  # a custom resource that failed has a physical id to delete
                    stack.resources[logical] = failed
                    stack.order.append(logical)
                stack.event(logical, "CREATE_FAILED", str(exc))
                stack.status, stack.reason = "ROLLBACK_IN_PROGRESS", str(exc)
                stack.event(
                    stack.name,
                    "ROLLBACK_IN_PROGRESS",
                    f"The following resource(s) failed to create: [{logical}]. Rollback requested by user.",
                )
                self._delete_all(stack, rollback=True)
                self._finish(stack, "ROLLBACK_COMPLETE", str(exc))
                return
            stack.resources[logical] = made
            stack.order.append(logical)
            stack.event(logical, "CREATE_COMPLETE")
        self._serve_api(stack)
        stack.outputs = self._outputs(stack, evaluator)
        self._finish(stack, "CREATE_COMPLETE", "")

    def _finish(self, stack: Stack, status: str, reason: str) -> None:
        stack.status, stack.reason = status, reason
        stack.event(stack.name, status, reason)

    # -- one resource -------------------------------------------------------------------------
    def _create_resource(self, stack: Stack, logical: str, resource: dict, props: dict) -> Resource:
        kind = resource["Type"]
        policy = resource.get("DeletionPolicy", "Delete")
        if kind.startswith("Custom::") or kind == "AWS::CloudFormation::CustomResource":
            physical, data = self._custom(stack, logical, kind, "Create", props)
            return Resource(logical, kind, physical, data, props, policy)
        if kind == "AWS::Lambda::Function":
            physical, attributes = self._function(stack, logical, props)
            return Resource(logical, kind, physical, attributes, props, policy)
        provider = PROVIDERS.get(kind)
        if provider is None:
            raise ResourceFailed(f"Resource type {kind} is not emulated by the sandbox")
        try:
            physical, attributes = provider.create(self._context(stack), logical, props)
        except (ClientError, BotoCoreError) as exc:
            raise ResourceFailed(str(exc)) from None
        return Resource(logical, kind, physical, attributes, props, policy)

    def _update_resource(self, stack: Stack, current: Resource, resource: dict, props: dict) -> Resource:
        kind = resource["Type"]
        policy = resource.get("DeletionPolicy", "Delete")
        if kind.startswith("Custom::") or kind == "AWS::CloudFormation::CustomResource":
            physical, data = self._custom(
                stack, current.logical, kind, "Update", props, physical=current.physical, old=current.props
            )
            return Resource(current.logical, kind, physical, data, props, policy)
        if kind == "AWS::Lambda::Function":
            physical, attributes = self._function(stack, current.logical, props, existing=current.physical)
            return Resource(current.logical, kind, physical, attributes, props, policy)
        provider = PROVIDERS[kind]
        try:
            physical, attributes = provider.update(
                self._context(stack), current.logical, current.physical, props, current.props
            )
        except (ClientError, BotoCoreError) as exc:
            raise ResourceFailed(str(exc)) from None
        return Resource(current.logical, kind, physical, attributes, props, policy)

    def _delete_resource(self, stack: Stack, resource: Resource) -> None:
        if resource.type.startswith("Custom::") or resource.type == "AWS::CloudFormation::CustomResource":
            self._custom(
                stack, resource.logical, resource.type, "Delete", resource.props, physical=resource.physical
            )
            return
        if resource.type == "AWS::Lambda::Function":
            worker = stack.workers.pop(resource.logical, None)
            if worker:
                worker.stop()
            try:
                self.client(stack.account_id, "lambda").delete_function(FunctionName=resource.physical)
            except ClientError:
                pass
            return
        PROVIDERS[resource.type].delete(self._context(stack), resource.physical, resource.props)

    # -- Lambda functions -------------------------------------------------------------------------
    def _function(
        self, stack: Stack, logical: str, props: dict, existing: str | None = None
    ) -> tuple[str, dict]:
        """Creates (or updates) the function in the emulator and its execution environment. Code from
        S3 under a code-signing config is checked against the vendor's release record first: the
        sandbox has no AWS Signer signatures to verify (see the README)."""
        lam = self.client(stack.account_id, "lambda")
        name = existing or self._context(stack).name(logical)
        code_dir = self.state_dir / "customer" / stack.name / logical / secrets.token_hex(4)
        code_dir.mkdir(parents=True, exist_ok=True)
        code = props.get("Code", {})
        if "ZipFile" in code:
            (code_dir / "index.py").write_text(code["ZipFile"], encoding="utf-8")
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, "w") as archive:
                archive.writestr("index.py", code["ZipFile"])
            zipped = buffer.getvalue()
        else:
            s3 = self.client(stack.account_id, "s3")
            try:
                zipped = s3.get_object(Bucket=code["S3Bucket"], Key=code["S3Key"])["Body"].read()
            except ClientError as exc:
                error = exc.response["Error"]
                raise ResourceFailed(
                    f'Resource handler returned message: "Error occurred while GetObject. S3 Error Code: '
                    f'{error.get("Code")}. S3 Error Message: {error.get("Message")}" '
                    "(Service: Lambda, Status Code: 400)"
                ) from None
            if props.get("CodeSigningConfigArn"):
                self._check_code_signing(stack, props, code["S3Key"], zipped, name)
            with zipfile.ZipFile(io.BytesIO(zipped)) as archive:
                archive.extractall(code_dir)
        environment = props.get("Environment", {}).get("Variables", {})
        role = props.get("Role", "")
        try:
            if existing:
                lam.update_function_code(FunctionName=name, ZipFile=zipped)
                lam.update_function_configuration(FunctionName=name, Environment={"Variables": environment})
                arn = lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
            else:
                arn = lam.create_function(
                    FunctionName=name,
                    Runtime=props.get("Runtime", "python3.12"),
                    Role=role,
                    Handler=props["Handler"],
                    Code={"ZipFile": zipped},
                    Timeout=int(props.get("Timeout", 3)),
                    MemorySize=int(props.get("MemorySize", 128)),
                    Environment={"Variables": environment},
                )["FunctionArn"]
        except (ClientError, BotoCoreError) as exc:
            raise ResourceFailed(str(exc)) from None
        old = stack.workers.pop(logical, None)
        if old:
            old.stop()
        base = {
            **base_environment(self.endpoint_url, self.region),
            "AWS_ACCESS_KEY_ID": stack.credentials["aws_access_key_id"],
            "AWS_SECRET_ACCESS_KEY": stack.credentials["aws_secret_access_key"],
            # Lets the activation code talk http to 127.0.0.1 (the sandbox's vendor API, ResponseURL).
            "VS_ACTIVATION_SANDBOX": "1",
        }
        spec = FunctionSpec(
            logical_id=logical,
            name=name,
            handler=props["Handler"],
            asset_dir=code_dir.resolve(),
            environment={k: str(v) for k, v in environment.items()},
            timeout_s=int(props.get("Timeout", 3)),
            memory_mb=int(props.get("MemorySize", 128)),
        )
        stack.workers[logical] = FunctionWorker(spec, base, self.log)
        return name, {"Arn": arn}

    def _check_code_signing(self, stack: Stack, props: dict, key: str, zipped: bytes, name: str) -> None:
        config = next(
            (
                r
                for r in stack.resources.values()
                if r.type == "AWS::Lambda::CodeSigningConfig" and r.physical == props["CodeSigningConfigArn"]
            ),
            None,
        )
        trusted = (
            (config.props if config else {}).get("AllowedPublishers", {}).get("SigningProfileVersionArns", [])
        )
        enforce = (
            (config.props if config else {})
            .get("CodeSigningPolicies", {})
            .get("UntrustedArtifactOnDeployment", "Warn")
        )
        digest = hashlib.sha256(zipped).hexdigest()
        artifact = key.rsplit("/", 1)[-1].removesuffix(".zip")
        published = {a["sha256"] for a in self.vendor.release_artifacts(artifact)}
        ok = self.vendor.signing_profile_version_arn in trusted and digest in published
        if not ok and enforce == "Enforce":
            raise ResourceFailed(CODE_SIGNING_REFUSAL.format(name=name))

    # -- custom resources -------------------------------------------------------------------------
    def _custom(
        self,
        stack: Stack,
        logical: str,
        kind: str,
        request_type: str,
        props: dict,
        *,
        physical: str | None = None,
        old: dict | None = None,
    ) -> tuple[str, dict]:
        token = secrets.token_urlsafe(32)
        request_id = str(uuid.uuid4())
        request = {
            "RequestType": request_type,
            "ServiceToken": props.get("ServiceToken"),
            "ResponseURL": f"{self.vendor.response_base_url}/_sandbox/cloudformation/responses/{token}",
            "StackId": stack.stack_id,
            "RequestId": request_id,
            "LogicalResourceId": logical,
            "ResourceType": kind,
            "ResourceProperties": props,
        }
        if physical is not None:
            request["PhysicalResourceId"] = physical
        if old is not None:
            request["OldResourceProperties"] = old
        function = next(
            (
                r.logical
                for r in stack.resources.values()
                if r.type == "AWS::Lambda::Function" and r.attributes.get("Arn") == props.get("ServiceToken")
            ),
            None,
        )
        if function is None or function not in stack.workers:
            raise ResourceFailed("Invalid service token")
        pending = _Pending(request)
        with self._lock:
            self._pending[token] = pending
        timeout = float(props.get("ServiceTimeout") or DEFAULT_SERVICE_TIMEOUT_S)
        invocation = threading.Thread(
            target=self._invoke_quietly, args=(stack.workers[function], request), daemon=True
        )
        invocation.start()
        body = self._await_response(pending, invocation, timeout)
        with self._lock:
            self._pending.pop(token, None)
        if body is None:
            raise ResourceFailed(
                "CloudFormation did not receive a response from your Custom Resource. Please check your "
                f"logs for requestId [{request_id}]."
            )
        status, new_physical, data, reason = self._read_response(request, body)
        if status == "FAILED":
            failure = ResourceFailed(
                f"Received response status [FAILED] from custom resource. Message returned: {reason} "
                f"(RequestId: {request_id})"
            )
            if request_type == "Create":
                failure.resource = Resource(logical, kind, new_physical, {}, props)  # type: ignore[attr-defined]
            raise failure
        return new_physical, data

    def _invoke_quietly(self, worker: FunctionWorker, request: dict) -> None:
        """CloudFormation invokes the function asynchronously; its result is not the answer."""
        try:
            worker.invoke(request)
        except FunctionError as exc:
            self.log.write(f"customer: custom resource function failed: {str(exc)[:200]}\n")

    @staticmethod
    def _await_response(pending: _Pending, invocation: threading.Thread, timeout: float) -> bytes | None:
        """Waits as CloudFormation does, up to ServiceTimeout. Once the function has returned without
        answering, nothing can answer any more in the sandbox (its worker runs one invocation at a
        time and keeps no thread alive), so the wait ends RESPONSE_GRACE_S later instead."""
        deadline = time.monotonic() + timeout
        returned_at: float | None = None
        while time.monotonic() < deadline:
            if pending.answered.wait(0.05):
                return pending.body
            if not invocation.is_alive():
                returned_at = returned_at or time.monotonic()
                if time.monotonic() - returned_at > RESPONSE_GRACE_S:
                    return None
        return None

    @staticmethod
    def _read_response(request: dict, body: bytes) -> tuple[str, str, dict, str]:
        def invalid(why: str) -> ResourceFailed:
            return ResourceFailed(f"Invalid response object: {why}")

        if len(body) > MAX_RESPONSE_BYTES:
            raise invalid("the response body exceeds 4096 bytes")
        try:
            document = json.loads(body)
        except ValueError:
            raise invalid("the response is not JSON") from None
        if not isinstance(document, dict):
            raise invalid("the response is not a JSON object")
        status = document.get("Status")
        if status not in ("SUCCESS", "FAILED"):
            raise invalid("Status must be SUCCESS or FAILED")
        for name in ("StackId", "RequestId", "LogicalResourceId"):
            if document.get(name) != request[name]:
                raise invalid(f"{name} does not match the request")
        physical = document.get("PhysicalResourceId")
        if not isinstance(physical, str) or not physical or len(physical.encode()) > MAX_PHYSICAL_ID_BYTES:
            raise invalid("PhysicalResourceId must be a non-empty string of at most 1 KB")
        reason = document.get("Reason")
        if status == "FAILED" and not (isinstance(reason, str) and reason):
            raise invalid("Reason is required when Status is FAILED")
        data = document.get("Data") or {}
        if not isinstance(data, dict):
            raise invalid("Data must be a JSON object")
        if request["RequestType"] == "Delete" and status == "SUCCESS":
            physical = request["PhysicalResourceId"]
        return status, physical, data, str(reason or "")

    def respond(self, method: str, token: str, body: bytes) -> tuple[int, str]:
        """The ResponseURL: a PUT of the answer, once. Anything else is refused as S3 refuses a
        request the presigned URL does not allow (403 AccessDenied), and nothing is recorded."""
        with self._lock:
            pending = self._pending.get(token)
            if method != "PUT" or pending is None or pending.answered.is_set():
                return 403, "<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>"
            pending.body = body
            pending.answered.set()
        return 200, ""

    # -- outputs and the solution API ---------------------------------------------------------
    def _serve_api(self, stack: Stack) -> None:
        """Serves the stack's RestApi (after a create, and again after an update, which may switch
        a method between IAM authorization and the Lambda authorizer)."""
        apis = [r for r in stack.resources.values() if r.type == "AWS::ApiGateway::RestApi"]
        if not apis:
            return
        stage = next(
            (r.physical for r in stack.resources.values() if r.type == "AWS::ApiGateway::Stage"), "prod"
        )
        gateway = self._gateway(stack, stage, apis[0].physical)
        if stack.api is not None:
            stack.api.gateway = gateway
            return

        def iam() -> bool:
            methods = [r for r in stack.resources.values() if r.type == "AWS::ApiGateway::Method"]
            return any(m.props.get("AuthorizationType") == "AWS_IAM" for m in methods)

        stack.api = SolutionApi(gateway, stage, iam, self.secret_for, self.region, self.log)
        stack.api.start()

    def _gateway(self, stack: Stack, stage: str, api_id: str) -> ApiGateway:
        """The API as the stack's resolved properties define it: routes from the template, with
        each method's resolved authorization; Lambda authorizers; gateway responses."""
        by_physical = {r.physical: r.logical for r in stack.resources.values()}
        resources: dict[str, dict] = {}
        for logical, raw in stack.template["Resources"].items():
            resource = stack.resources.get(logical)
            if resource is None:
                continue
            if resource.type == "AWS::ApiGateway::Method":
                authorization = resource.props.get("AuthorizationType", "NONE")
                props = {
                    **raw["Properties"],
                    # AWS_IAM is checked by SolutionApi (SigV4 with the stack's credentials)
                    # before the gateway, which itself runs only the Lambda authorizer.
                    "AuthorizationType": "NONE" if authorization == "AWS_IAM" else authorization,
                }
                props.pop("AuthorizerId", None)
                if resource.props.get("AuthorizerId") in by_physical:
                    props["AuthorizerId"] = {"Ref": by_physical[resource.props["AuthorizerId"]]}
                raw = {**raw, "Properties": props}
            resources[logical] = raw
        functions = {r.logical for r in stack.resources.values() if r.type == "AWS::Lambda::Function"}
        authorizers: dict[str, LambdaAuthorizer] = {}
        for resource in stack.resources.values():
            if resource.type != "AWS::ApiGateway::Authorizer" or resource.props.get("Type") != "REQUEST":
                continue
            function = function_of(
                stack.template["Resources"][resource.logical]["Properties"]["AuthorizerUri"], functions
            )

            def invoke(event: dict, function: str | None = function) -> Any:
                worker = stack.workers.get(function or "")
                if worker is None:
                    raise FunctionError("the authorizer's function does not exist")
                return worker.invoke(event)

            sources = [
                s.strip() for s in str(resource.props.get("IdentitySource", "")).split(",") if s.strip()
            ]
            ttl = int(resource.props.get("AuthorizerResultTtlInSeconds", 300))
            authorizers[resource.logical] = LambdaAuthorizer(invoke, sources, ttl)
        responses = gateway_responses(
            {
                "Resources": {
                    r.logical: {"Type": r.type, "Properties": r.props}
                    for r in stack.resources.values()
                    if r.type == "AWS::ApiGateway::GatewayResponse"
                }
            }
        )
        return ApiGateway(
            routes_from_template({"Resources": resources}),
            stack.workers,
            None,  # type: ignore[arg-type]
            responses,
            stage,
            authorizers=authorizers,
            api_identity=(api_id, stack.account_id, self.region),
        )

    def _outputs(self, stack: Stack, evaluator: Evaluator) -> dict[str, str]:
        out = {}
        for name, output in stack.template.get("Outputs", {}).items():
            if not evaluator.active(output):
                continue
            value = str(evaluator.evaluate(output["Value"]))
            if stack.api is not None:
                # The RestApi's execute-api address is served by the sandbox on 127.0.0.1.
                value = re.sub(r"^https://[a-z0-9]+\.execute-api\.[^/]+/[^/]+/", stack.api.url, value)
            out[name] = value
        return out

    # -- update ---------------------------------------------------------------------------------
    def update(self, name: str, parameters: Any, template_choice: Any) -> Stack:
        stack = self.get(name)
        if parameters is not None and not isinstance(parameters, dict):
            raise StackError("ValidationError", "Field 'parameters' must be an object of parameter values.")
        if template_choice not in (None, "current", "previous"):
            raise StackError("ValidationError", 'Field \'template\' must be "current" or "previous".')
        with stack.lock:
            if stack.status not in ("CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE"):
                raise StackError(
                    "ValidationError",
                    f"Stack:{stack.stack_id} is in {stack.status} state and can not be updated.",
                )
            template = self.vendor.current_template()[0] if template_choice == "current" else stack.template
            given = dict(parameters or {})
            # Parameters set at launch keep their values (CloudFormation's UsePreviousValue); the
            # vendor's pre-filled ones take the new template's defaults, which is what delivers a release.
            merged = {
                k: v
                for k, v in stack.parameters.items()
                if k in stack.given and k in template.get("Parameters", {})
            }
            merged.update(given)
            try:
                values = validate_parameters(template, merged)
                check_rules(template, values)
            except TemplateError as exc:
                raise StackError("ValidationError", str(exc)) from None
            if template == stack.template and values == stack.parameters:
                raise StackError("ValidationError", "No updates are to be performed.")
            self._update(stack, template, values, stack.given | set(given))
        return stack

    def _update(self, stack: Stack, template: dict, values: dict[str, str], given: set[str]) -> None:
        stack.status = "UPDATE_IN_PROGRESS"
        stack.event(stack.name, "UPDATE_IN_PROGRESS", "User Initiated")
        evaluator = self._evaluator(stack, template, values)
        resources = self._active(template, evaluator)
        before = dict(stack.resources)
        replaced: list[Resource] = []
        touched: list[str] = []
        logical, props = stack.name, {}
        try:
            for logical in creation_order(resources):
                current = stack.resources.get(logical)
                props = self._resolve(stack, evaluator, logical, template)
                if current is None:
                    stack.event(logical, "CREATE_IN_PROGRESS")
                    made = self._create_resource(stack, logical, resources[logical], props)
                    stack.resources[logical] = made
                    stack.order.append(logical)
                    stack.event(logical, "CREATE_COMPLETE")
                    touched.append(logical)
                elif props != current.props:
                    stack.event(logical, "UPDATE_IN_PROGRESS")
                    updated = self._update_resource(stack, current, resources[logical], props)
                    if updated.physical != current.physical:
                        replaced.append(current)
                    stack.resources[logical] = updated
                    stack.event(logical, "UPDATE_COMPLETE")
                    touched.append(logical)
        except (ResourceFailed, TemplateError) as exc:
            self._fail_update(stack, before, touched, logical, props, exc)
            return
        stack.status = "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS"
        stack.event(stack.name, "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS")
        for old in replaced:  # a replacement: the old physical resource goes once the update is complete
            self._delete_quietly(stack, old)
        for gone in [k for k in stack.order if k not in resources]:  # removed from the template
            self._delete_quietly(stack, stack.resources.pop(gone))
            stack.order.remove(gone)
        stack.template, stack.parameters, stack.given = template, values, given
        stack.version = values.get("ReleaseVersion", stack.version)
        self._serve_api(stack)
        stack.outputs = self._outputs(stack, evaluator)
        self._finish(stack, "UPDATE_COMPLETE", "")

    def _fail_update(
        self,
        stack: Stack,
        before: dict[str, Resource],
        touched: list[str],
        failed: str,
        tried: dict,
        exc: Exception,
    ) -> None:
        """CloudFormation's update rollback: the resource that failed and every resource already
        changed go back to their previous properties (the failed one too: a custom resource gets an
        Update from the new properties back to the old), resources the update created are deleted."""
        stack.event(failed, "UPDATE_FAILED" if failed in before else "CREATE_FAILED", str(exc))
        stack.status, stack.reason = "UPDATE_ROLLBACK_IN_PROGRESS", str(exc)
        stack.event(stack.name, "UPDATE_ROLLBACK_IN_PROGRESS", str(exc))
        undo = list(touched)
        if failed in before:
            # As the failed resource stands now: its previous physical id, the properties just tried.
            stack.resources[failed] = Resource(
                failed, before[failed].type, before[failed].physical, before[failed].attributes, tried
            )
            undo.append(failed)
        elif getattr(exc, "resource", None) is not None:  # a failed custom resource Create: delete it
            stack.resources[failed] = exc.resource  # type: ignore[attr-defined]
            stack.order.append(failed)
            undo.append(failed)
        for logical in reversed(undo):
            current = stack.resources[logical]
            previous = before.get(logical)
            try:
                if previous is None:
                    self._delete_resource(stack, current)
                    stack.resources.pop(logical)
                    stack.order.remove(logical)
                    stack.event(logical, "DELETE_COMPLETE")
                else:
                    resource = stack.template["Resources"][logical]
                    stack.resources[logical] = self._update_resource(stack, current, resource, previous.props)
                    stack.event(logical, "UPDATE_COMPLETE")
            except (ResourceFailed, TemplateError, ClientError, BotoCoreError) as error:
                stack.resources[logical] = previous or current
                stack.event(logical, "UPDATE_FAILED", str(error))
        self._finish(stack, "UPDATE_ROLLBACK_COMPLETE", str(exc))

    def _delete_quietly(self, stack: Stack, resource: Resource) -> None:
        try:
            self._delete_resource(stack, resource)
            stack.event(resource.logical, "DELETE_COMPLETE")
        except (ResourceFailed, ClientError) as exc:
            stack.event(resource.logical, "DELETE_FAILED", str(exc))

    # -- delete ---------------------------------------------------------------------------------
    def delete(self, name: str) -> Stack:
        stack = self.get(name)
        with stack.lock:
            stack.status = "DELETE_IN_PROGRESS"
            stack.event(stack.name, "DELETE_IN_PROGRESS", "User Initiated")
            failures = self._delete_all(stack, rollback=False)
            if failures:
                self._finish(
                    stack,
                    "DELETE_FAILED",
                    "The following resource(s) failed to delete: [" + ", ".join(failures) + "]. ",
                )
                return stack
            self._finish(stack, "DELETE_COMPLETE", "")
            self._close(stack)
            with self._lock:
                self.stacks.pop(name, None)
        return stack

    def _delete_all(self, stack: Stack, *, rollback: bool) -> list[str]:
        failures = []
        if stack.api is not None:
            stack.api.stop()
            stack.api = None
        for logical in reversed(list(stack.order)):
            resource = stack.resources[logical]
            if resource.deletion_policy == "Retain":
                stack.event(logical, "DELETE_SKIPPED")
                continue
            stack.event(logical, "DELETE_IN_PROGRESS")
            try:
                self._delete_resource(stack, resource)
            except (ResourceFailed, ClientError, BotoCoreError) as exc:
                stack.event(logical, "DELETE_FAILED", str(exc))
                failures.append(logical)
                continue
            stack.event(logical, "DELETE_COMPLETE")
            del stack.resources[logical]
            stack.order.remove(logical)
        if rollback:
            self._close(stack)
        return failures

    def _close(self, stack: Stack) -> None:
        for worker in stack.workers.values():
            worker.stop()
        stack.workers.clear()
        shutil.rmtree(self.state_dir / "customer" / stack.name, ignore_errors=True)

    # -- reading, jobs ----------------------------------------------------------------------------
    def get(self, name: Any) -> Stack:
        stack = self.stacks.get(name) if isinstance(name, str) else None
        if stack is None:
            raise StackError("ValidationError", f"Stack with id {str(name)[:128]} does not exist")
        return stack

    def run_job(self, name: str, job: str, now: datetime) -> Any:
        stack = self.get(name)
        jobs = scheduled_jobs(stack)
        if job not in jobs:
            raise StackError("NotFound", f"The stack has no scheduled job {job[:64]!r}.", status=404)
        worker = stack.workers.get(jobs[job])
        if worker is None:
            raise StackError("ValidationError", f"Stack {name} is in {stack.status} state.")
        rule = next(r.physical for r in stack.resources.values() if r.type == "AWS::Events::Rule")
        event = scheduled_event(rule, now)
        event["account"] = stack.account_id
        event["resources"] = [f"arn:aws:events:{self.region}:{stack.account_id}:rule/{rule}"]
        return worker.invoke(event)

    def recycle(self, name: str) -> list[str]:
        """Ends every running execution environment of the stack's functions: the next call starts
        a fresh one (a cold start, with nothing cached in memory). Lambda does this on its own, so
        a function may not count on a warm environment; the sandbox does it on request. AWS docs:
        "Understanding the Lambda execution environment lifecycle"
        (https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html): Lambda
        "terminates execution environments every few hours to allow for runtime updates and
        maintenance", even for functions invoked continuously."""
        stack = self.get(name)
        with stack.lock:  # not while a create, update or delete changes the functions
            if not stack.workers or stack.status not in _RUNNING:
                raise StackError("ValidationError", f"Stack {name} is in {stack.status} state.")
            for worker in stack.workers.values():
                worker.stop()
            return sorted(stack.workers)

    def describe(self, stack: Stack, *, events: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "stack_name": stack.name,
            "stack_id": stack.stack_id,
            "aws_account_id": stack.account_id,
            "status": stack.status,
            "reason": stack.reason,
            "version": stack.version,
            "outputs": dict(stack.outputs),
            "credentials": dict(stack.credentials),
        }
        if events:
            out["events"] = [dict(e) for e in stack.events]
        return out

    def stop(self) -> None:
        """Every stack's API and workers at once, as `Sandbox.stop` stops the vendor's workers: one
        after another, a run that launched dozens of stacks spent seconds here."""
        apis = [stack.api for stack in self.stacks.values() if stack.api]
        workers = [worker for stack in self.stacks.values() for worker in stack.workers.values()]
        with ThreadPoolExecutor(max_workers=max(1, min(16, len(apis) + len(workers)))) as pool:
            list(pool.map(lambda api: api.stop(), apis))
            list(pool.map(lambda worker: worker.stop(), workers))

    def no_echo_values(self, stack: Stack) -> list[str]:
        return [stack.parameters[p] for p in no_echo_parameters(stack.template) if p in stack.parameters]


_RUNNING = ("CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE")


def scheduled_jobs(stack: Stack) -> dict[str, str]:
    """Job name → function logical id, for each function a schedule rule targets. The name is the
    artifact the function runs (`UsageReporterKey` → `usage-reporter`), or its handler's module."""
    jobs = {}
    for resource in stack.template["Resources"].values():
        if resource["Type"] != "AWS::Events::Rule" or "ScheduleExpression" not in resource.get(
            "Properties", {}
        ):
            continue
        for target in resource["Properties"].get("Targets", []):
            arn = target.get("Arn")
            if not (isinstance(arn, dict) and "Fn::GetAtt" in arn):
                continue
            function = arn["Fn::GetAtt"][0]
            key = stack.template["Resources"][function]["Properties"].get("Code", {}).get("S3Key")
            if isinstance(key, dict) and "Fn::GetAtt" in key:
                attribute = key["Fn::GetAtt"][1].removesuffix("Key")
                name = re.sub(r"(?<!^)(?=[A-Z])", "-", attribute).lower()
            else:
                name = stack.template["Resources"][function]["Properties"]["Handler"].split(".")[0]
            jobs[name] = function
    return jobs
