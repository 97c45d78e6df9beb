"""The key vault's moto world for the keys / license / audit tests: moto in-process, no network.

Fixtures: `aws_world` (one per test module), `vault` (emptied before each test), `log_output`.

Emptying a table between tests restores the copy of it taken right after it was created
(`TableSnapshot`), the way moto itself rolls back a cancelled transaction (it deep-copies the
`Table` objects and puts the copies back in its backend); scanning and deleting item by item cost
tens of milliseconds per table per test through the API.

The tables and the KMS HMAC key are created exactly as the vendor platform's CDK does:
keys table `pk`/`sk` + TTL `ttl` + GSI `by-owner` (`owner`/`created_at`, ALL); audit table
`pk`/`sk` + TTL `ttl`; a KMS key of spec HMAC_256 for GENERATE_VERIFY_MAC.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import logging
import os
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared import signing
from tests.aws_fixtures import AWS_FIXTURES
from tests.plugins.platform_tables import DATA_TABLE, create_data_table

for _name, _value in {
    "POWERTOOLS_SERVICE_NAME": "vendstack-test",
    "POWERTOOLS_METRICS_NAMESPACE": "VendstackTest",
    "POWERTOOLS_TRACE_DISABLED": "true",
}.items():
    os.environ.setdefault(_name, _value)

COGNITO_EVENT_FILE = AWS_FIXTURES / "apigw-rest-proxy-event-cognito.json"
BASE_EVENT: dict = json.loads(COGNITO_EVENT_FILE.read_text())
TOKEN = BASE_EVENT["headers"]["Authorization"]  # the ID token the authorizer already checked

SUB = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"
EMAIL = "user@example.com"
OTHER_SUB = "11111111-2222-4333-8444-555555555555"
OTHER_EMAIL = "other@example.com"
KEYS_TABLE = "vs-keys"
AUDIT_TABLE = "vs-audit"
PRODUCT = {
    "name": "textlens",
    "version": "1.0.0",
    "dimensions": [
        {"name": "requests", "unit": "request", "description": "Requests", "price_per_unit": "0.0002"},
    ],
    "grace_days": 10,
    "key_max_lifetime_days": 730,
    "max_active_keys": 20,
    "audit_retention_days": 400,
}


@dataclass
class FakeLambdaContext:
    function_name: str = "vendstack-test"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:vendstack-test"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))


@dataclass
class Answer:
    status: int
    body: Any
    headers: dict
    raw: dict

    @property
    def code(self) -> str | None:
        return self.body["error"]["code"] if isinstance(self.body, dict) and "error" in self.body else None


def iso(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def rest_event(
    method: str,
    path: str,
    *,
    resource: str | None = None,
    body: str | None = None,
    headers: dict[str, str] | None = None,
    query: Iterable[tuple[str, str]] = (),
    path_parameters: dict[str, str] | None = None,
    claims: dict[str, str] | None = None,
) -> dict:
    """An API Gateway REST proxy event shaped like the AWS fixture; `claims=None` → no authorizer."""
    event = copy.deepcopy(BASE_EVENT)
    base_headers = {k: v for k, v in event["headers"].items() if k != "Authorization"}
    all_headers = {**base_headers, **(headers or {})}
    pairs = list(query)
    multi: dict[str, list[str]] = {}
    for name, value in pairs:
        multi.setdefault(name, []).append(value)
    event.update(
        resource=resource or path,
        path=path,
        httpMethod=method,
        headers=all_headers,
        multiValueHeaders={k: [v] for k, v in all_headers.items()},
        queryStringParameters={k: v[-1] for k, v in multi.items()} or None,
        multiValueQueryStringParameters=multi or None,
        pathParameters=path_parameters,
        body=body,
        isBase64Encoded=False,
    )
    context = event["requestContext"]
    context.update(
        resourcePath=resource or path,
        httpMethod=method,
        path=f"/{context['stage']}{path}",
        requestId=str(uuid.uuid4()),
    )
    if claims is None:
        context.pop("authorizer", None)
    else:
        context["authorizer"] = {"claims": claims}
    return event


def cognito_claims(sub: str = SUB, email: str = EMAIL) -> dict[str, str]:
    claims = dict(BASE_EVENT["requestContext"]["authorizer"]["claims"])
    claims.update({"sub": sub, "cognito:username": sub, "email": email})
    return claims


def reset_caches(*, clients: bool) -> None:
    """Config, stores and cached secrets belong to one test; boto3 clients to one moto world."""
    import apis.developer_api
    import apis.signed_api
    import audit.log
    import keys.handlers.router
    import license.handlers.auth
    import license.handlers.token
    import shared.aws
    import teams.handlers.router
    from shared.config import get_config

    cached = [
        get_config,
        keys.handlers.router.key_store,
        keys.handlers.router.activation_store,
        keys.handlers.router.secret_deriver,
        apis.developer_api.audit_log,
        license.handlers.auth.verifier,
        license.handlers.token.signer,
        license.handlers.token.subscriptions,
        apis.signed_api.audit_log,
        teams.handlers.router.team_store,
        teams.handlers.router.invitation_mail,
    ]
    if clients:
        cached += [shared.aws.client, audit.log.dynamodb_client]
    for function in cached:
        function.cache_clear()


class Vault:
    """The emulated key vault plus helpers that call the two handlers like API Gateway would."""

    def __init__(self, kms_key_id: str) -> None:
        self.ddb = _client("dynamodb")
        self.kms = _client("kms")
        self.kms_key_id = kms_key_id

    def empty(self, *tables: str) -> None:
        """Empties the named tables of this world (keys, audit, data): back to as created."""
        _EMPTY[self.kms_key_id].restore(*tables)

    # --- storage views -------------------------------------------------------------------
    def scan(self, table: str) -> list[dict]:
        """Every item of the table, read from moto's backend in this process, as a consistent
        Scan would return them: the same items, each through the same DynamoDB JSON. A view for
        assertions: going through the API (botocore, moto's serializer) cost up to a second for
        a table of a few hundred items, and the functions' own reads still go through it."""
        from moto.dynamodb.models import Item

        items: list[Item] = _dynamodb_backend().get_table(table).all_items()
        stored = (item.to_json()["Attributes"] for item in items)
        return sorted(
            (_plain({name: _wire(typed) for name, typed in attributes.items()}) for attributes in stored),
            key=_by_key,
        )

    def scan_through_the_api(self, table: str) -> list[dict]:
        """The same view through a paginated, consistent Scan (to check `scan` against)."""
        items: list[dict] = []
        request: dict[str, Any] = {"TableName": table, "ConsistentRead": True}
        while True:
            answer = self.ddb.scan(**request)
            items.extend(_plain(i) for i in answer["Items"])
            if "LastEvaluatedKey" not in answer:
                break
            request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]
        return sorted(items, key=_by_key)

    def key_items(self) -> list[dict]:
        return [i for i in self.scan(KEYS_TABLE) if i["sk"] == "KEY"]

    def audit_items(self) -> list[dict]:
        """The audit records (not the daily roll-ups, `STATS#…`, which `audit_stats` returns)."""
        return [item for item in self.scan(AUDIT_TABLE) if not item["pk"].startswith("STATS#")]

    def audit_stats(self) -> list[dict]:
        return [item for item in self.scan(AUDIT_TABLE) if item["pk"].startswith("STATS#")]

    # --- developer API -------------------------------------------------------------------
    def keys_api(
        self,
        method: str,
        path: str = "/v1/keys",
        *,
        body: Any = None,
        sub: str = SUB,
        email: str = EMAIL,
        claims: dict[str, str] | None | bool = True,
        query: Iterable[tuple[str, str]] = (),
    ) -> Answer:
        import apis.developer_api

        if claims is True:
            claims = cognito_claims(sub, email)
        resource, params = path, None
        if path.startswith("/v1/keys/"):
            resource, params = "/v1/keys/{access_key}", {"access_key": path.rsplit("/", 1)[1]}
        text = body if isinstance(body, str) or body is None else json.dumps(body)
        event = rest_event(
            method,
            path,
            resource=resource,
            body=text,
            headers={"Authorization": TOKEN},
            query=query,
            path_parameters=params,
            claims=claims or None,
        )
        return _answer(apis.developer_api.handler(event, FakeLambdaContext()))

    def create_key(
        self, *, sub: str = SUB, email: str = EMAIL, days: int = 30, label: str | None = None
    ) -> dict:
        body: dict[str, Any] = {"expires_at": iso(datetime.now(UTC) + timedelta(days=days))}
        if label is not None:
            body["label"] = label
        answer = self.keys_api("POST", body=body, sub=sub, email=email)
        assert answer.status == 201, answer.body
        return answer.body

    # --- license API ---------------------------------------------------------------------
    def signed_event(
        self,
        access_key: str,
        secret: str,
        method: str = "GET",
        path: str = "/v1/whoami",
        *,
        query: Iterable[tuple[str, str]] = (),
        body: bytes = b"",
        now: datetime | None = None,
        nonce: str | None = None,
    ) -> dict:
        pairs = list(query)
        headers = signing.sign_request(access_key, secret, method, path, pairs, body, now=now, nonce=nonce)
        return rest_event(method, path, body=body.decode() if body else None, headers=headers, query=pairs)

    def license_api(self, event: dict) -> Answer:
        import apis.signed_api

        return _answer(apis.signed_api.handler(event, FakeLambdaContext()))

    def whoami(self, access_key: str, secret: str, **kwargs: Any) -> Answer:
        return self.license_api(self.signed_event(access_key, secret, **kwargs))


class TableSnapshot:
    """Copies of named tables of this process's moto DynamoDB (us-east-1, moto's default account),
    put back by `restore`: the items, indexes and settings all return to the copied state."""

    def __init__(self, *tables: str) -> None:
        backend = _dynamodb_backend()
        self.tables = {name: copy.deepcopy(backend.tables[name]) for name in tables}

    def restore(self, *tables: str) -> None:
        """Puts back the named tables (all of them when none is named), each as a fresh copy, so
        the snapshot can be restored again."""
        backend = _dynamodb_backend()
        for name in tables or tuple(self.tables):
            backend.tables[name] = copy.deepcopy(self.tables[name])


def _dynamodb_backend() -> Any:
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    return dynamodb_backends[DEFAULT_ACCOUNT_ID]["us-east-1"]


# The tables of each module's world as they were created (empty), by the world's KMS key ARN.
_EMPTY: dict[str, TableSnapshot] = {}


def _by_key(item: dict) -> tuple[str, str]:
    return (item["pk"], item["sk"])


def _wire(typed: dict[str, Any]) -> dict[str, Any]:
    """One attribute value of moto's stored DynamoDB JSON as the SDK receives it: binary values
    are base64 text in moto's JSON (as on the wire) or already bytes; botocore hands out bytes."""
    import base64

    [(kind, value)] = typed.items()
    if kind == "B":
        return {"B": value if isinstance(value, bytes) else base64.b64decode(value)}
    if kind == "BS":
        return {"BS": [m if isinstance(m, bytes) else base64.b64decode(m) for m in value]}
    if kind == "M":
        return {"M": {name: _wire(member) for name, member in value.items()}}
    if kind == "L":
        return {"L": [_wire(member) for member in value]}
    return typed


def _plain(item: dict) -> dict:
    """A DynamoDB item as Python values."""
    from boto3.dynamodb.types import TypeDeserializer

    deserializer = TypeDeserializer()
    return {k: deserializer.deserialize(v) for k, v in item.items()}


def _client(service: str) -> Any:
    import shared.aws

    return shared.aws.client(service)


def _answer(response: dict) -> Answer:
    text = response.get("body") or ""
    headers = dict(response.get("headers") or {})
    for name, values in (response.get("multiValueHeaders") or {}).items():
        headers[name] = values[-1]
    return Answer(response["statusCode"], json.loads(text) if text else None, headers, response)


def _create_tables(ddb: Any) -> None:
    ddb.create_table(
        TableName=KEYS_TABLE,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
            {"AttributeName": "owner", "AttributeType": "S"},
            {"AttributeName": "created_at", "AttributeType": "S"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by-owner",
                "KeySchema": [
                    {"AttributeName": "owner", "KeyType": "HASH"},
                    {"AttributeName": "created_at", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    ddb.create_table(
        TableName=AUDIT_TABLE,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    for table in (KEYS_TABLE, AUDIT_TABLE):
        ddb.update_time_to_live(
            TableName=table, TimeToLiveSpecification={"Enabled": True, "AttributeName": "ttl"}
        )


@pytest.fixture(name="aws_world", scope="module")
def aws_world_fixture() -> Iterator[str]:
    """One moto world per test module (fast); `vault` empties it before every test."""
    import boto3
    from moto import mock_aws

    from tests.plugins.moto_speed import install

    install()  # moto imported here, after collection: the same cheaper moto
    patch = pytest.MonkeyPatch()
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_KMS"):
        patch.delenv(name, raising=False)
    env = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "VS_PRODUCT": json.dumps(PRODUCT),
        "VS_TABLE_KEYS": KEYS_TABLE,
        "VS_TABLE_AUDIT": AUDIT_TABLE,
        "VS_TABLE_DATA": DATA_TABLE,
        "POWERTOOLS_SERVICE_NAME": "vendstack-test",
        "POWERTOOLS_METRICS_NAMESPACE": "VendstackTest",
        "POWERTOOLS_TRACE_DISABLED": "true",
    }
    for name, value in env.items():
        patch.setenv(name, value)
    try:
        with mock_aws():
            _create_tables(boto3.client("dynamodb", region_name="us-east-1"))
            # The developer function also reads activations (the stacks that use each key).
            create_data_table(boto3.client("dynamodb", region_name="us-east-1"))
            kms = boto3.client("kms", region_name="us-east-1")
            key_arn = kms.create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]["Arn"]
            patch.setenv("VS_KEY_SECRETS", key_arn)
            _EMPTY[key_arn] = TableSnapshot(KEYS_TABLE, AUDIT_TABLE, DATA_TABLE)
            reset_caches(clients=True)
            yield key_arn
    finally:
        _EMPTY.pop(os.environ.get("VS_KEY_SECRETS", ""), None)
        reset_caches(clients=True)
        patch.undo()


@pytest.fixture(name="vault")
def vault_fixture(aws_world: str) -> Iterator[Vault]:
    vault = Vault(aws_world)
    vault.empty(KEYS_TABLE, AUDIT_TABLE)
    reset_caches(clients=False)
    yield vault
    reset_caches(clients=False)


@pytest.fixture(name="log_output")
def log_output_fixture() -> Iterator[io.StringIO]:
    """What the functions' Powertools loggers write (through their own formatter), as text."""
    import apis.developer_api
    import apis.signed_api

    buffer = io.StringIO()
    with streams_swapped((apis.developer_api.logger, apis.signed_api.logger), buffer):
        yield buffer


@contextlib.contextmanager
def streams_swapped(loggers: Iterable[Any], stream: Any) -> Iterator[None]:
    """Points the loggers' stream handlers at `stream`, then puts back the streams they had.

    Each handler once: Powertools loggers of one service share a `logging.Logger`, hence its
    handlers, and `StreamHandler.setStream` returns None when the stream is already the new one,
    so swapping a shared handler twice and putting back both answers left it writing to None
    (every later log line was lost, with a "--- Logging error ---" traceback in its place)."""
    swapped: dict[int, tuple[logging.StreamHandler, Any]] = {}
    for logger in loggers:
        for handler in logger.handlers:
            if isinstance(handler, logging.StreamHandler) and id(handler) not in swapped:
                swapped[id(handler)] = (handler, handler.stream)
                handler.setStream(stream)
    try:
        yield
    finally:
        for handler, previous in swapped.values():
            handler.setStream(previous)


@pytest.fixture(name="atomic_dynamodb")
def atomic_dynamodb_fixture(monkeypatch: pytest.MonkeyPatch) -> None:
    """DynamoDB checks a condition and writes atomically; in-process moto does not lock, so
    threaded tests serialize its writes the way the real service does."""
    import threading

    from moto.dynamodb.models import DynamoDBBackend

    lock = threading.RLock()
    for name in ("put_item", "update_item", "delete_item", "transact_write_items"):
        original = getattr(DynamoDBBackend, name)

        def locked(self: Any, *args: Any, _original: Any = original, **kwargs: Any) -> Any:
            with lock:
                return _original(self, *args, **kwargs)

        monkeypatch.setattr(DynamoDBBackend, name, locked)
