"""The AWS Marketplace Deployment Service, emulated: what Quick Launch hands a buyer's account.

moto has no `marketplace-deployment`, so the Marketplace emulator's endpoint also answers its four
operations (restJson1, as botocore's model says): `PutDeploymentParameter`
(`POST /catalogs/{catalog}/products/{productId}/deployment-parameters`), `ListTagsForResource`
(`GET /tags/{resourceArn}`), `TagResource` (`POST /tags/{resourceArn}`) and `UntagResource`
(`DELETE /tags/{resourceArn}?tagKeys=…`). Every request and every response is checked against
botocore's model (`sandbox.marketplace_model`), errors answer with the model's shapes and statuses
(`x-amzn-ErrorType` header and body).

AWS docs: "Using the AWS Marketplace Deployment API"
(https://docs.aws.amazon.com/marketplace/latest/APIReference/deployment-apis.html),
"PutDeploymentParameter" and "DeploymentParameterInput" (Deployment Service API reference), the
Buyer Guide's "Service-linked role to configure and launch products" and the managed policy
`AWSMarketplaceDeploymentServiceRolePolicy` (tests/fixtures/aws/SOURCES.md §9). What they say and
what this follows:

- a deployment parameter is keyed by buyer, product and `name`: the same name again updates it
  (a new secret version, the same `dp-…` id); tags apply on create only;
- it becomes a Secrets Manager secret in the buyer's account whose name starts with
  `marketplace-deployment` and contains `!` (the service role's policy allows only those names);
  here `marketplace-deployment!<productId>!<name>`, created in moto under the buyer's account id.
  The rest of the real name is not documented;
- quotas: 10 parameters per buyer and product, 100 updates of one parameter in 24 hours
  (`ServiceQuotaExceededException`, HTTP 402);
- `clientToken` makes a retry safe: the same token with the same request answers the first
  answer and writes nothing; with another request it is a `ConflictException` (an inference: AWS
  documents the token, not the answer to its reuse).

Also the emulator's choices, not documented by AWS: an unknown agreement, or one for another
product or seller, is `ResourceNotFoundException`; an agreement no longer active is a
`ValidationException` on `agreementId`; an `expirationDate` in the past is a
`ValidationException` on `expirationDate`.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import string
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from urllib.parse import parse_qs, unquote, urlsplit

from sandbox.marketplace_model import DEPLOYMENT, summary, validate_input, validate_output

CATALOG = "AWSMarketplace"
SECRET_PREFIX = "marketplace-deployment!"  # noqa: S105 - a name prefix, not a secret
MAX_PARAMETERS = 10  # per buyer and product
MAX_UPDATES_PER_DAY = 100  # per parameter
MAX_TAGS = 50
_ALNUM = string.ascii_lowercase + string.digits


class DeploymentError(Exception):
    """A restJson1 error: the model's error shape name, HTTP status and body members."""

    def __init__(self, code: str, status: int, message: str, **members: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.status = status
        self.body = {"message": message, **members}


def _validation(field_name: str, message: str) -> DeploymentError:
    return DeploymentError("ValidationException", 400, message, fieldName=field_name)


@dataclass(frozen=True)
class AgreementFacts:
    """What the emulator knows of an agreement: whose it is and for which product."""

    aws_account_id: str
    product_id: str
    active: bool


class BuyerSecrets(Protocol):
    """Writes a Secrets Manager secret in a buyer's emulated account; returns its ARN."""

    def put(self, aws_account_id: str, name: str, secret_string: str, expiration: str | None) -> str: ...


class MotoBuyerSecrets:
    """Buyer secrets in moto (server mode), addressed by account with moto's `x-moto-account-id`."""

    def __init__(self, endpoint_url: str, region: str = "us-east-1") -> None:
        self._endpoint_url = endpoint_url
        self._region = region

    def _client(self, aws_account_id: str) -> Any:
        import boto3

        client = boto3.client(
            "secretsmanager",
            endpoint_url=self._endpoint_url,
            region_name=self._region,
            aws_access_key_id="marketplace-deployment",
            aws_secret_access_key="marketplace-deployment",  # noqa: S106 - moto ignores credentials
        )

        def account(request: Any, **_: Any) -> None:
            request.headers["x-moto-account-id"] = aws_account_id

        client.meta.events.register("before-sign.secrets-manager.*", account)
        return client

    def put(self, aws_account_id: str, name: str, secret_string: str, expiration: str | None) -> str:
        client = self._client(aws_account_id)
        try:
            arn = client.describe_secret(SecretId=name)["ARN"]
        except client.exceptions.ResourceNotFoundException:
            tags = [{"Key": "expirationDate", "Value": expiration}] if expiration else []
            return client.create_secret(Name=name, SecretString=secret_string, Tags=tags)["ARN"]
        client.put_secret_value(SecretId=arn, SecretString=secret_string)
        if expiration:  # the service role may tag its secrets with this one key only
            client.tag_resource(SecretId=arn, Tags=[{"Key": "expirationDate", "Value": expiration}])
        return arn


@dataclass
class _Parameter:
    parameter_id: str
    resource_arn: str
    aws_account_id: str
    product_id: str
    agreement_id: str
    name: str
    secret_arn: str
    tags: dict[str, str] = field(default_factory=dict)
    updates: list[datetime] = field(default_factory=list)


class DeploymentService:
    """The Deployment Service of one seller: parameters by (buyer account, product, name)."""

    def __init__(
        self,
        *,
        seller_account_id: str,
        product_ids: Callable[[], set[str]],
        agreement: Callable[[str], AgreementFacts | None],
        clock: Callable[[], datetime],
        region: str = "us-east-1",
        buyer_secrets: BuyerSecrets | None = None,
    ) -> None:
        self.seller_account_id = seller_account_id
        self.region = region
        self.buyer_secrets = buyer_secrets
        self._product_ids = product_ids
        self._agreement = agreement
        self._clock = clock
        self._lock = threading.RLock()
        self._parameters: dict[tuple[str, str, str], _Parameter] = {}
        self._by_arn: dict[str, _Parameter] = {}
        self._tokens: dict[str, tuple[str, dict]] = {}
        self.response_problems: list[str] = []  # answers that broke the output model (should stay empty)
        self.calls: list[dict] = []  # operation, agreement, name: what was asked (never the secret)

    # ---------------------------------------------------------------- control API (sandbox, tests)

    def quick_launch_parameters(self, aws_account_id: str, product_id: str) -> dict[str, str]:
        """What Quick Launch fills into the template for this buyer: parameter name → the
        secret's ARN in the buyer's account (a reference, never the value)."""
        with self._lock:
            return {
                p.name: p.secret_arn
                for (account, product, _), p in self._parameters.items()
                if account == aws_account_id and product == product_id
            }

    def parameters(self) -> list[dict]:
        with self._lock:
            return [
                {
                    "deployment_parameter_id": p.parameter_id,
                    "aws_account_id": p.aws_account_id,
                    "product_id": p.product_id,
                    "agreement_id": p.agreement_id,
                    "name": p.name,
                    "secret_arn": p.secret_arn,
                    "versions": len(p.updates),
                }
                for p in self._parameters.values()
            ]

    # ---------------------------------------------------------------- wire

    @staticmethod
    def handles(path: str) -> bool:
        return path.startswith("/catalogs/") or path.startswith("/tags/")

    def handle(self, method: str, raw_path: str, body: bytes) -> tuple[int, dict | None, str | None]:
        """One restJson1 call: (HTTP status, JSON body or None for 204, error type or None)."""
        try:
            operation, params = self._route(method, raw_path, body)
            problems = validate_input(DEPLOYMENT, operation, params)
            if problems:
                first = problems[0]
                raise _validation(first.path.split(".")[0], summary(problems))
            result = getattr(self, f"_op_{operation}")(params)
            if result is not None:
                problems = validate_output(DEPLOYMENT, operation, result)
                if problems:
                    self.response_problems.append(f"{operation}: {summary(problems)}")
                    raise DeploymentError("InternalServerException", 500, "emulator response broke the model")
            return (200, result, None) if result is not None else (204, None, None)
        except DeploymentError as error:
            return error.status, error.body, error.code

    def _route(self, method: str, raw_path: str, body: bytes) -> tuple[str, dict]:
        parts = urlsplit(raw_path)
        segments = parts.path.split("/")
        if parts.path.startswith("/tags/") and len(segments) == 3 and segments[2]:
            arn = unquote(segments[2])
            if method == "GET":
                return "ListTagsForResource", {"resourceArn": arn}
            if method == "DELETE":
                query = parse_qs(parts.query, keep_blank_values=True)
                params: dict[str, Any] = {"resourceArn": arn}
                if "tagKeys" in query:
                    params["tagKeys"] = query["tagKeys"]
                return "UntagResource", params
            if method == "POST":
                return "TagResource", {**self._json(body), "resourceArn": arn}
        if (
            method == "POST"
            and len(segments) == 6
            and segments[1] == "catalogs"
            and segments[3] == "products"
            and segments[5] == "deployment-parameters"
        ):
            document = self._json(body)
            return "PutDeploymentParameter", {
                **document,
                "catalog": unquote(segments[2]),
                "productId": unquote(segments[4]),
            }
        raise DeploymentError("ResourceNotFoundException", 404, f"No operation at {method} {parts.path[:80]}")

    @staticmethod
    def _json(body: bytes) -> dict:
        try:
            document = json.loads(body or b"{}")
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise _validation("body", "The request body is not JSON.") from None
        if not isinstance(document, dict):
            raise _validation("body", "The request body must be a JSON object.")
        return document

    # ---------------------------------------------------------------- operations

    def _put_target(self, params: dict) -> AgreementFacts:
        """The active agreement a PutDeploymentParameter names, after the checks AWS makes first
        (catalog, product, agreement, its state, the expiration date)."""
        if params["catalog"] != CATALOG:
            raise _validation("catalog", f"catalog must be {CATALOG}.")
        product_id, agreement_id = params["productId"], params["agreementId"]
        if product_id not in self._product_ids():
            raise DeploymentError("ResourceNotFoundException", 404, f"Product {product_id} not found.")
        facts = self._agreement(agreement_id)
        if facts is None or facts.product_id != product_id:
            raise DeploymentError("ResourceNotFoundException", 404, f"Agreement {agreement_id} not found.")
        if not facts.active:
            raise _validation("agreementId", f"Agreement {agreement_id} is not active.")
        expiration = params.get("expirationDate")
        now = self._clock().astimezone(UTC)
        if expiration and datetime.fromisoformat(expiration.replace("Z", "+00:00")) <= now:
            raise _validation("expirationDate", "expirationDate must be in the future.")
        return facts

    def _op_PutDeploymentParameter(self, params: dict) -> dict:  # noqa: N802 - named after the operation
        name = params["deploymentParameter"]["name"]
        self.calls.append(
            {"operation": "PutDeploymentParameter", "agreement_id": params["agreementId"], "name": name}
        )
        product_id, agreement_id, expiration = (
            params["productId"],
            params["agreementId"],
            params.get("expirationDate"),
        )
        facts = self._put_target(params)
        now = self._clock().astimezone(UTC)
        token = params.get("clientToken")
        fingerprint = hashlib.sha256(
            json.dumps({k: v for k, v in params.items() if k != "clientToken"}, sort_keys=True).encode()
        ).hexdigest()
        with self._lock:
            if token and token in self._tokens:
                seen, answer = self._tokens[token]
                if seen != fingerprint:
                    raise DeploymentError(
                        "ConflictException",
                        409,
                        "The clientToken was used with another request.",
                        resourceId=answer["deploymentParameterId"],
                    )
                return dict(answer)
            key = (facts.aws_account_id, product_id, name)
            parameter = self._parameters.get(key)
            if parameter is None:
                if sum(1 for k in self._parameters if k[:2] == key[:2]) >= MAX_PARAMETERS:
                    quota = f"At most {MAX_PARAMETERS} parameters per buyer and product."
                    raise DeploymentError("ServiceQuotaExceededException", 402, quota)
                parameter_id = "dp-" + "".join(secrets.choice(_ALNUM) for _ in range(17))
                parameter = _Parameter(
                    parameter_id=parameter_id,
                    resource_arn=(
                        f"arn:aws:aws-marketplace:{self.region}:{self.seller_account_id}:DeploymentParameter:"
                        f"catalogs/{CATALOG}/products/{product_id}/{parameter_id}"
                    ),
                    aws_account_id=facts.aws_account_id,
                    product_id=product_id,
                    agreement_id=agreement_id,
                    name=name,
                    secret_arn="",
                    tags=dict(params.get("tags") or {}),  # applied on create only
                )
            recent = [t for t in parameter.updates if t > now - timedelta(hours=24)]
            if len(recent) >= MAX_UPDATES_PER_DAY:
                raise DeploymentError(
                    "ServiceQuotaExceededException", 402, f"At most {MAX_UPDATES_PER_DAY} updates a day."
                )
            if self.buyer_secrets is None:
                raise DeploymentError("InternalServerException", 500, "no buyer accounts are emulated")
            parameter.secret_arn = self.buyer_secrets.put(
                facts.aws_account_id,
                f"{SECRET_PREFIX}{product_id}!{name}",
                params["deploymentParameter"]["secretString"],
                expiration,
            )
            parameter.agreement_id = agreement_id
            parameter.updates = [*recent, now]
            self._parameters[key] = parameter
            self._by_arn[parameter.resource_arn] = parameter
            answer = {
                "agreementId": agreement_id,
                "deploymentParameterId": parameter.parameter_id,
                "resourceArn": parameter.resource_arn,
                "tags": dict(parameter.tags),
            }
            if token:
                self._tokens[token] = (fingerprint, answer)
            return dict(answer)

    def _resource(self, arn: str) -> _Parameter:
        parameter = self._by_arn.get(arn)
        if parameter is None:
            raise DeploymentError("ResourceNotFoundException", 404, "Resource not found.")
        return parameter

    def _op_ListTagsForResource(self, params: dict) -> dict:  # noqa: N802
        with self._lock:
            return {"tags": dict(self._resource(params["resourceArn"]).tags)}

    def _op_TagResource(self, params: dict) -> None:  # noqa: N802
        with self._lock:
            parameter = self._resource(params["resourceArn"])
            tags = {**parameter.tags, **(params.get("tags") or {})}
            if len(tags) > MAX_TAGS:
                raise _validation("tags", f"A resource has at most {MAX_TAGS} tags.")
            parameter.tags = tags

    def _op_UntagResource(self, params: dict) -> None:  # noqa: N802
        with self._lock:
            parameter = self._resource(params["resourceArn"])
            parameter.tags = {k: v for k, v in parameter.tags.items() if k not in set(params["tagKeys"])}
