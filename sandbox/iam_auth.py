"""API Gateway's `AWS_IAM` authorization and the RestApi's resource policy, for the sandbox.

A method with `AuthorizationType: AWS_IAM` takes only requests signed with Signature Version 4
for service `execute-api` by known credentials; the sandbox verifies the signature as AWS
does (AWS docs: "Create a signed AWS API request" and "Elements of an AWS API request
signature", IAM User Guide: canonical request, string to sign, the derived signing key; requests
more than 15 minutes from the server's clock are refused). Then the RestApi's `Policy` is
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
import hashlib
import hmac
import re
import secrets
import string
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

ALGORITHM = "AWS4-HMAC-SHA256"
SERVICE = "execute-api"
MAX_SKEW = timedelta(minutes=15)
_AUTH_RE = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=(?P<akid>[A-Z0-9]{16,128})/(?P<date>\d{8})/(?P<region>[a-z0-9-]+)/"
    r"(?P<service>[a-z0-9-]+)/aws4_request, ?SignedHeaders=(?P<signed>[a-z0-9;-]+), ?"
    r"Signature=(?P<sig>[0-9a-f]{64})$"
)
_PRINCIPAL_RE = re.compile(r"^arn:aws:iam::(\d{12}):(user|role)/(.+)$")

# API Gateway's own answers (gateway response types) and their default bodies.
MISSING = ("MISSING_AUTHENTICATION_TOKEN", "Missing Authentication Token")
BAD_SIGNATURE = (
    "INVALID_SIGNATURE",
    "The request signature we calculated does not match the signature you provided. Check your AWS "
    "Secret Access Key and signing method. Consult the service documentation for details.",
)
EXPIRED = ("INVALID_SIGNATURE", "Signature expired: the request's X-Amz-Date is more than 15 minutes away.")
UNKNOWN_KEY = ("INVALID_SIGNATURE", "The security token included in the request is invalid.")
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


def _header(headers: dict[str, str], name: str) -> str | None:
    return next((v for k, v in headers.items() if k.lower() == name), None)


def canonical_query(pairs: list[tuple[str, str]]) -> str:
    encoded = sorted((quote(k, safe="-_.~"), quote(v, safe="-_.~")) for k, v in pairs)
    return "&".join(f"{k}={v}" for k, v in encoded)


def canonical_request(
    method: str,
    path: str,
    query: list[tuple[str, str]],
    headers: dict[str, str],
    signed: list[str],
    body: bytes,
) -> str:
    lines = []
    for name in signed:
        value = _header(headers, name)
        if value is None:
            raise AuthFailure(BAD_SIGNATURE)
        lines.append(f"{name}:{' '.join(value.strip().split())}\n")
    return "\n".join(
        [
            method,
            quote(path or "/", safe="/~"),
            canonical_query(query),
            "".join(lines),
            ";".join(signed),
            hashlib.sha256(body).hexdigest(),
        ]
    )


def signing_key(secret: str, day: str, region: str, service: str) -> bytes:
    key = ("AWS4" + secret).encode("utf-8")
    for part in (day, region, service, "aws4_request"):
        key = hmac.new(key, part.encode("utf-8"), hashlib.sha256).digest()
    return key


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
    header = _header(headers, "authorization")
    if not header:
        raise AuthFailure(MISSING)
    match = _AUTH_RE.match(header.strip())
    if match is None:
        raise AuthFailure(BAD_SIGNATURE)
    found = credentials.lookup(match["akid"])
    if found is None:
        raise AuthFailure(UNKNOWN_KEY)
    secret, principal = found
    amz_date = _header(headers, "x-amz-date") or ""
    try:
        when = datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        raise AuthFailure(BAD_SIGNATURE) from None
    if abs(now - when) > MAX_SKEW:
        raise AuthFailure(EXPIRED)
    if match["date"] != amz_date[:8] or match["region"] != region or match["service"] != SERVICE:
        raise AuthFailure(BAD_SIGNATURE)
    signed = match["signed"].split(";")
    if "host" not in signed or signed != sorted(signed):
        raise AuthFailure(BAD_SIGNATURE)
    request = canonical_request(method, path, query, headers, signed, body)
    scope = f"{match['date']}/{region}/{SERVICE}/aws4_request"
    to_sign = "\n".join([ALGORITHM, amz_date, scope, hashlib.sha256(request.encode("utf-8")).hexdigest()])
    expected = hmac.new(
        signing_key(secret, match["date"], region, SERVICE), to_sign.encode("utf-8"), hashlib.sha256
    ).hexdigest()
    if not hmac.compare_digest(expected, match["sig"]):
        raise AuthFailure(BAD_SIGNATURE)
    return principal


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
