"""API Gateway's `AWS_IAM` authorization and the RestApi's resource policy, for the sandbox.

A method with `AuthorizationType: AWS_IAM` takes only requests signed with Signature Version 4
for service `execute-api` by known credentials; the signature is verified by `sandbox/sigv4.py`
(as AWS verifies it, requests more than 5 minutes from the server's clock refused). Then the
RestApi's `Policy` is
evaluated for the caller (explicit Deny wins, an Allow is needed; AWS docs: "How API Gateway
resource policies affect authorization workflow"). The sandbox supports the policy forms the
template uses (Principal `*`, `execute-api:/stage/METHOD/path` resources with `*`, and
`StringEquals`/`StringNotEquals` on `aws:PrincipalArn`); any other form stops the sandbox at
start rather than being silently ignored.

Credentials are created by the sandbox: one vendor operator (published in `endpoints.json` as
`admin_credentials`) and, through `POST /_sandbox/iam/credentials`, any other IAM principal of
the vendor account, so tests can prove that a signed call by someone not named is refused.
"""

from __future__ import annotations

import fnmatch
import re
import secrets
import string
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sandbox import sigv4

_PRINCIPAL_RE = re.compile(r"^arn:aws:iam::(\d{12}):(user|role)/(.+)$")

DENIED = ("ACCESS_DENIED", "User is not authorized to access this resource with an explicit deny")


@dataclass(frozen=True)
class Principal:
    principal_arn: str  # what `aws:PrincipalArn` is (the role for a role session)
    caller_arn: str  # what API Gateway passes as `identity.userArn`
    account_id: str
    access_key_id: str


class AuthFailure(Exception):
    def __init__(self, kind: tuple[str, str]) -> None:
        super().__init__(kind[1])
        self.kind = kind


def _draw(prefix: str, length: int, alphabet: str) -> str:
    return prefix + "".join(secrets.choice(alphabet) for _ in range(length))


class IamCredentials:
    """The sandbox's IAM: access keys of principals of the vendor account."""

    def __init__(self) -> None:
        self._keys: dict[str, tuple[str, Principal]] = {}

    def create(self, principal_arn: str) -> dict[str, str]:
        match = _PRINCIPAL_RE.match(principal_arn)
        if match is None:
            raise ValueError("principal must be an IAM user or role ARN")
        account, kind, name = match.groups()
        caller = principal_arn
        if kind == "role":
            caller = f"arn:aws:sts::{account}:assumed-role/{name.rsplit('/', 1)[-1]}/vendstack-sandbox"
        akid = _draw("AKIA", 16, string.ascii_uppercase + "234567")
        secret = _draw("", 40, string.ascii_letters + string.digits)
        self._keys[akid] = (secret, Principal(principal_arn, caller, account, akid))
        return {"aws_access_key_id": akid, "aws_secret_access_key": secret}

    def lookup(self, akid: str) -> tuple[str, Principal] | None:
        return self._keys.get(akid)


def verify(
    credentials: IamCredentials,
    *,
    method: str,
    path: str,
    query: list[tuple[str, str]],
    headers: dict[str, str],
    body: bytes,
    region: str,
    now: datetime,
) -> Principal:
    """The verified caller, or `AuthFailure` with API Gateway's answer."""

    def secret_for(access_key: str) -> str | None:
        found = credentials.lookup(access_key)
        return found[0] if found else None

    try:
        access_key = sigv4.verify(
            method=method,
            path=path,
            query=query,
            headers=headers,
            body=body,
            secret_for=secret_for,
            region=region,
            now=now,
        )
    except sigv4.SignatureRefused as refused:
        raise AuthFailure(refused.kind) from None
    found = credentials.lookup(access_key)
    if found is None:  # the key was dropped meanwhile
        raise AuthFailure(sigv4.UNKNOWN_KEY)
    return found[1]


# ---------------------------------------------------------------------------------- policy

_SUPPORTED_CONDITIONS = {"StringEquals", "StringNotEquals"}


@dataclass(frozen=True)
class Statement:
    effect: str
    resources: tuple[str, ...]
    conditions: dict[str, dict[str, list[str]]]

    def matches(self, resource: str, principal_arn: str | None) -> bool:
        if not any(fnmatch.fnmatchcase(resource, pattern) for pattern in self.resources):
            return False
        for operator, keys in self.conditions.items():
            for values in keys.values():
                present = principal_arn is not None
                inside = present and principal_arn in values
                if operator == "StringEquals" and not inside:
                    return False
                # IAM: StringNotEquals on a key that is absent matches (AWS docs: "IAM JSON policy
                # elements: Condition operators"); an unsigned call has no aws:PrincipalArn.
                if operator == "StringNotEquals" and inside:
                    return False
        return True


def _listed(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value or [])


class ResourcePolicy:
    """The RestApi's `Policy`; absent means API Gateway allows every request through."""

    def __init__(self, statements: list[Statement] | None) -> None:
        self.statements = statements

    @classmethod
    def from_template(cls, template: dict) -> ResourcePolicy:
        for resource in template["Resources"].values():
            if resource["Type"] != "AWS::ApiGateway::RestApi":
                continue
            policy = resource.get("Properties", {}).get("Policy")
            if policy is None:
                return cls(None)
            statements = []
            for raw in policy["Statement"]:
                if raw.get("Principal") not in ("*", {"AWS": "*"}) or _listed(raw.get("Action")) != [
                    "execute-api:Invoke"
                ]:
                    raise ValueError(f"sandbox: unsupported resource-policy statement {raw}")
                conditions = raw.get("Condition", {})
                for operator, keys in conditions.items():
                    if operator not in _SUPPORTED_CONDITIONS or set(keys) != {"aws:PrincipalArn"}:
                        raise ValueError(f"sandbox: unsupported resource-policy condition {operator} {keys}")
                statements.append(
                    Statement(
                        raw["Effect"],
                        tuple(_listed(raw["Resource"])),
                        {op: {k: _listed(v) for k, v in keys.items()} for op, keys in conditions.items()},
                    )
                )
            return cls(statements)
        return cls(None)

    def allows(self, stage: str, method: str, path: str, principal_arn: str | None) -> bool:
        if self.statements is None:
            return True
        resource = f"execute-api:/{stage}/{method}{path}"
        matching = [s for s in self.statements if s.matches(resource, principal_arn)]
        if any(s.effect == "Deny" for s in matching):
            return False
        return any(s.effect == "Allow" for s in matching)

    def operator_principals(self) -> list[str]:
        """The principals a Deny exempts (`StringNotEquals aws:PrincipalArn`): the admin API's operators."""
        found: list[str] = []
        for statement in self.statements or []:
            if statement.effect == "Deny":
                found += statement.conditions.get("StringNotEquals", {}).get("aws:PrincipalArn", [])
        return found


@dataclass
class IamGate:
    """What the gateway asks before an `AWS_IAM` method (and, with a policy, before any method)."""

    credentials: IamCredentials
    policy: ResourcePolicy
    region: str

    def caller(self, method: str, path: str, query: list, headers: dict[str, str], body: bytes) -> Principal:
        return verify(
            self.credentials,
            method=method,
            path=path,
            query=query,
            headers=headers,
            body=body,
            region=self.region,
            now=datetime.now(UTC),
        )
