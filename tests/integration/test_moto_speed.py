"""The moto and botocore patches of `sandbox.cheaper_moto` (installed by `tests.plugins.moto_speed`)
answer exactly as the originals do."""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

from tests.plugins.moto_speed import install

REGION = "us-east-1"

# The values the update expressions below may name.
EXPRESSION_VALUES = {
    ":a": {"S": "x"},
    ":zero": {"N": "0"},
    ":one": {"N": "1"},
    ":empty": {"L": []},
    ":items": {"L": [{"S": "i"}]},
    ":set": {"SS": ["s"]},
}


@pytest.fixture(name="sqs", scope="module")
def sqs_fixture():
    install()
    with mock_aws():
        yield boto3.client("sqs", region_name=REGION)


def test_the_retention_check_agrees_with_moto_s_on_both_sides_of_the_period(sqs) -> None:
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.sqs.models import SQSBackend, sqs_backends

    patched = SQSBackend.is_message_valid_based_on_retention_period
    original = patched.original
    assert patched is not original
    url = sqs.create_queue(QueueName="retention", Attributes={"MessageRetentionPeriod": "60"})["QueueUrl"]
    for _ in range(3):
        sqs.send_message(QueueUrl=url, MessageBody="m")
    backend = sqs_backends[DEFAULT_ACCOUNT_ID][REGION]
    fresh, edge, old = backend.queues["retention"]._messages
    edge.sent_timestamp -= 50_000  # within the 60 s retention
    old.sent_timestamp -= 61_000  # past it
    answers = [
        (patched(backend, "retention", m), original(backend, "retention", m)) for m in (fresh, edge, old)
    ]
    assert answers == [(True, True), (True, True), (False, False)]
    received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0)["Messages"]
    assert len(received) == 2  # the expired message is not handed out


def test_the_memoised_functions_answer_as_the_originals(sqs) -> None:
    import botocore.useragent
    import moto.core.responses
    import moto.sqs.models
    from moto.dynamodb.responses import DynamoHandler
    from moto.sqs.responses import SQSResponse

    listing = moto.core.responses.method_names_from_class
    for handler in (DynamoHandler, SQSResponse):
        assert listing(handler) == listing.__wrapped__(handler) and "get_item" in listing(DynamoHandler)
    sanitize = botocore.useragent.sanitize_user_agent_string_component
    for text, allow_hash in (("Boto3/1.0 (x)", True), ("a#b c", False), ("a#b", True)):
        assert sanitize(text, allow_hash) == sanitize.__wrapped__(text, allow_hash)
    for module in (moto.core.responses, moto.sqs.models):
        snake = module.camelcase_to_underscores
        assert snake("MessageRetentionPeriod") == snake.__wrapped__("MessageRetentionPeriod")
        assert snake("MessageRetentionPeriod") == "message_retention_period"


def test_eventbridge_targets_get_the_same_input_with_the_parser_memoised(sqs, monkeypatch) -> None:
    """moto's EventBridge parses eight JSONPaths for every event it delivers; with the parse
    memoised, each input it builds is the one the original parser builds, event after event."""
    import jsonpath_ng.ext
    from moto.events.utils import EventTemplateParser

    memoised = jsonpath_ng.ext.parse
    assert hasattr(memoised, "cache_info")
    assert memoised("$.detail.team") is memoised("$.detail.team")  # one parse per text
    events = [
        {
            "id": f"id-{n}",
            "time": 1_764_331_200.0 + n,  # moto keeps epoch seconds until it delivers
            "version": "0",
            "detail-type": "key.revoked",
            "source": "vendstack",
            "region": REGION,
            "account": "123456789012",
            "resources": [f"arn:aws:x:::{n}"],
            "detail": {"team": f"t{n}", "nested": {"list": [n, n + 1]}},
            "ingestion-time": 1_700_000_000 + n,
        }
        for n in range(3)
    ]
    paths = {"team": "$.detail.team", "first": "$.detail.nested.list[0]"}
    template = '{"t": "<team>", "f": <first>}'

    def inputs() -> list[dict]:
        built = []
        for event in events:
            built.append(EventTemplateParser.parse(None, None, event))  # the default input
            built.append(EventTemplateParser.parse(template, paths, event))
        return built

    with_memo = inputs() + inputs()  # the second round reuses every parsed path
    monkeypatch.setattr(jsonpath_ng.ext, "parse", memoised.__wrapped__)
    assert with_memo == inputs() + inputs()
    assert with_memo[1] == {"t": "t0", "f": 0} and with_memo[2]["id"] == "id-1"


def test_the_vault_s_table_view_is_what_a_consistent_scan_returns(vault) -> None:
    """`Vault.scan` reads moto's backend directly: the same items, values and types as the API's
    paginated Scan, for every attribute type the functions store (shared/ddb_items)."""
    from tests.plugins.platform_tables import DATA_TABLE

    big = "x" * 350_000  # four items of 350 kB: the API's Scan takes two pages (1 MB each)
    items = [
        {
            "pk": {"S": f"P#{i}"},
            "sk": {"S": "A"},
            "n": {"N": "12.50"},
            "b": {"B": b"\x00\xffbytes"},
            "bs": {"BS": [b"\x01", b"\x02"]},
            "ss": {"SS": ["a", "b"]},
            "ns": {"NS": ["1", "2.5"]},
            "flag": {"BOOL": True},
            "none": {"NULL": True},
            "m": {"M": {"inner": {"B": b"\xfe"}, "list": {"L": [{"N": "3"}, {"S": big}, {"M": {}}]}}},
        }
        for i in range(4)
    ]
    for item in items:
        vault.ddb.put_item(TableName=DATA_TABLE, Item=item)
    vault.ddb.put_item(TableName=DATA_TABLE, Item={"pk": {"S": "P#0"}, "sk": {"S": "0"}})
    direct, through_the_api = vault.scan(DATA_TABLE), vault.scan_through_the_api(DATA_TABLE)
    assert len(direct) == 5 and direct[1]["m"]["inner"].value == b"\xfe"
    assert direct == through_the_api
    for mine, theirs in zip(direct, through_the_api, strict=True):
        assert [type(v) for v in mine.values()] == [type(v) for v in theirs.values()]


def test_the_quick_stopping_moto_server_serves_and_stops_at_once() -> None:
    import time

    from tests.plugins.moto_server import POLL_INTERVAL_S, MotoServer

    server = MotoServer()
    server.start()
    host, port = server.get_host_and_port()
    s3 = boto3.client(
        "s3",
        region_name=REGION,
        endpoint_url=f"http://{host}:{port}",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    s3.create_bucket(Bucket="served")
    assert "served" in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert server._server.serve_forever.keywords == {"poll_interval": POLL_INTERVAL_S}
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 0.25  # moto's default poll would wait up to 0.5 s


def test_every_botocore_session_of_the_process_shares_its_data_and_caches() -> None:
    """`sandbox.sdk_sessions`: a new session's data loader is the first one's (its cache already
    holds the parsed data files), a session with another data path gets its own, and what the
    shared loader answers is what a loader of its own answers. Event-name aliases and the
    `**kwargs` check answer as botocore's own."""
    import copy

    import botocore.session
    from botocore import hooks

    install()
    first, second = botocore.session.get_session(), botocore.session.get_session()
    loader = first.get_component("data_loader")
    assert second.get_component("data_loader") is loader
    assert second.get_component("data_loader").load_data("endpoints") is loader.load_data("endpoints")
    other = botocore.session.Session()
    other.set_config_variable("data_path", "/nonexistent/vendstack")
    assert other.get_component("data_loader") is not loader
    unshared = botocore.session.create_loader.original()
    for service in ("dynamodb", "sqs", "meteringmarketplace"):
        assert unshared.load_service_model(service, "service-2") == loader.load_service_model(
            service, "service-2"
        )

    names = [
        "before-call.apigateway",
        "before-parameter-build.s3.PutObject",
        "request-created.cloudsearchdomain.Search",
        "after-call.sagemaker-runtime.InvokeEndpoint",
        "before-call.runtime.sagemaker.InvokeEndpoint",
        "needs-retry.dynamodb.GetItem",
    ]
    for name in names:
        mine = hooks.EventAliaser(hooks.HierarchicalEmitter())
        theirs = hooks.EventAliaser.__new__(hooks.EventAliaser)
        hooks.EventAliaser.__init__.original(theirs, hooks.HierarchicalEmitter())
        assert mine._alias_event_name(name) == theirs._alias_event_name(name)
    copied = copy.copy(hooks.EventAliaser(hooks.HierarchicalEmitter()))  # a client's copy shares too
    assert copied._alias_name_cache is hooks.EventAliaser(hooks.HierarchicalEmitter())._alias_name_cache
    own = hooks.EventAliaser(hooks.HierarchicalEmitter(), {"before-call": "elsewhere"})
    assert own._alias_event_name("before-call.x") == "elsewhere.x"
    assert (
        hooks.EventAliaser(hooks.HierarchicalEmitter())._alias_event_name("before-call.x") == "before-call.x"
    )

    def with_kwargs(a, **kwargs):
        return a

    def without(a):
        return a

    class Handler:
        def __call__(self, **kwargs):
            return kwargs

    for handler in (with_kwargs, without, Handler(), Handler().__call__):
        assert hooks.accepts_kwargs(handler) == hooks.accepts_kwargs.original(handler)
    with pytest.raises(ValueError):  # botocore refuses a handler without **kwargs, as before
        hooks.HierarchicalEmitter().register("x", without)


def _shape(node):
    """A parsed expression as nested (node type, children), leaves as their repr."""
    from moto.dynamodb.parsing.ast_nodes import Node

    if isinstance(node, Node):
        return (type(node).__name__, tuple(_shape(child) for child in node.children or ()))
    return repr(node)


def test_update_expressions_parse_once_and_validate_as_moto_does(monkeypatch) -> None:
    """`sandbox.moto_expressions`: the memoised parse gives the tree moto's parser gives, and every
    validator's remembered handler map is the one `_processing_map` builds, for every validator
    class moto defines; updates (and their refusals) answer as with moto's own traversal."""
    import inspect

    from moto.dynamodb.parsing import ast_nodes, expressions, validators

    install()
    parser = expressions.UpdateExpressionParser
    text = "SET #a = :a, b = if_not_exists(b, :zero) + :one REMOVE c ADD n :one"
    tree = parser.make(text)
    assert parser.make(text) is tree and _shape(tree) == _shape(parser.make.__wrapped__(parser, text))
    with pytest.raises(Exception) as refused:
        parser.make("SET = nonsense")
    with pytest.raises(type(refused.value)):
        parser.make.__wrapped__(parser, "SET = nonsense")

    traverser = ast_nodes.DepthFirstTraverser
    kinds = [
        kind
        for _, kind in inspect.getmembers(validators, inspect.isclass)
        if issubclass(kind, traverser) and kind is not traverser
    ]
    assert len(kinds) >= 10
    node_classes = [
        c for _, c in inspect.getmembers(ast_nodes, inspect.isclass) if issubclass(c, ast_nodes.Node)
    ]
    assert len(node_classes) >= 25
    for kind in kinds:
        params = list(inspect.signature(kind.__init__).parameters)[1:]
        instance = kind(*[{} for _ in params]) if kind.__init__ is not object.__init__ else kind()
        built = instance._processing_map()
        assert traverser.nodes_to_be_processed(instance) == traverser.nodes_to_be_processed.original(instance)
        for node_class in node_classes:  # the handler the traversal remembers is the one moto picks
            taken = issubclass(node_class, traverser.nodes_to_be_processed.original(instance))
            picked = next((f.__func__ for c, f in built.items() if issubclass(node_class, c)), None)
            remembered = traverser.traverse_node_recursively.handler(instance, node_class)
            assert remembered is (picked if taken else None), (kind, node_class)
        assert [(c, f.__func__) for c, f in built.items()] == [
            (c, getattr(kind, f.__name__)) for c, f in built.items()
        ]

    def answers(table: str) -> list:
        with mock_aws():
            ddb = boto3.client("dynamodb", region_name=REGION)
            ddb.create_table(
                TableName=table,
                KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                BillingMode="PAY_PER_REQUEST",
            )
            got = []
            for expression, names, values in (
                ("SET #a = :a, b = if_not_exists(b, :zero) + :one ADD n :one", {"#a": "a"}, None),
                ("SET b = b + :one, l = list_append(if_not_exists(l, :empty), :items)", None, None),
                ("REMOVE #a ADD s :set", {"#a": "a"}, None),
                ("SET pk = :a", None, None),  # a key attribute: refused
                ("SET a = :a ADD a :one", None, None),  # overlapping paths: refused
                ("SET missing = nothere + :one", None, None),  # no such attribute: refused
            ):
                used = {k: v for k, v in EXPRESSION_VALUES.items() if k in expression}
                request = {"UpdateExpression": expression, "ExpressionAttributeValues": values or used}
                if names:
                    request["ExpressionAttributeNames"] = names
                try:
                    got.append(
                        ddb.update_item(
                            TableName=table, Key={"pk": {"S": "k"}}, ReturnValues="ALL_NEW", **request
                        )["Attributes"]
                    )
                except ddb.exceptions.ClientError as error:
                    got.append((error.response["Error"]["Code"], error.response["Error"]["Message"]))
            return got

    patched = answers("patched")
    monkeypatch.setattr(traverser, "process", traverser.process.original)
    monkeypatch.setattr(traverser, "nodes_to_be_processed", traverser.nodes_to_be_processed.original)
    monkeypatch.setattr(traverser, "traverse_node_recursively", traverser.traverse_node_recursively.original)
    monkeypatch.setattr(ast_nodes.Node, "find_clauses", ast_nodes.Node.find_clauses.original)
    monkeypatch.delattr(ast_nodes.Node, "__deepcopy__")
    monkeypatch.setattr(parser, "make", classmethod(parser.make.__wrapped__))
    assert patched == answers("original")
    assert [type(a) for a in patched] == [dict, dict, dict, tuple, tuple, tuple], patched


def _graph(root) -> list:
    """Every object reachable from a tree's root through attributes, lists and dicts, in visit
    order: its class and its contents, with objects met before given as their visit number (so
    the parent links and any sharing show), and atoms as their repr."""
    seen: dict[int, int] = {}
    out: list = []

    def visit(value):
        if isinstance(value, (type(None), bool, int, float, str, bytes)):
            return repr(value)
        if id(value) in seen:
            return ("seen", seen[id(value)])
        seen[id(value)] = len(seen)
        if isinstance(value, list):
            entry = ("list", [visit(v) for v in value])
        elif isinstance(value, dict):
            entry = ("dict", [(k, visit(v)) for k, v in value.items()])
        else:
            entry = (type(value).__name__, [(k, visit(v)) for k, v in vars(value).items()])
        out.append(entry)
        return ("at", seen[id(value)])

    visit(root)
    return out


def _objects(root) -> set[int]:
    found: set[int] = set()

    def visit(value):
        if isinstance(value, (type(None), bool, int, float, str, bytes)) or id(value) in found:
            return
        found.add(id(value))
        for child in value if isinstance(value, list) else getattr(value, "__dict__", {}).values():
            visit(child)

    visit(root)
    return found


def test_a_node_copies_itself_as_the_generic_deep_copy_does(monkeypatch) -> None:
    """`Node.__deepcopy__` (sandbox.moto_expressions) builds the graph the standard library's
    generic copy builds, from the root or from any node (which copies the whole tree through its
    parent link), for parsed trees and for validated ones that hold `DynamoType` values; and
    `find_clauses` answers as moto's own."""
    import copy

    from moto.dynamodb.models.dynamo_type import DynamoType, Item
    from moto.dynamodb.parsing import ast_nodes, expressions
    from moto.dynamodb.parsing.validators import UpdateExpressionValidator

    install()
    node = ast_nodes.Node
    assert "__deepcopy__" in vars(node)
    texts = [
        "SET #a = :a, b = if_not_exists(b, :zero) + :one REMOVE c ADD n :one",
        "SET l = list_append(if_not_exists(l, :empty), :items), m.x[2] = :a DELETE s :set",
        "REMOVE a[1], a[3], b.c ADD n :one SET z = :a",
    ]
    table = type("Table", (), {"table_key_attrs": ["pk"], "attr": [], "attribute_keys": ["pk"]})()
    item = Item(
        hash_key=DynamoType({"S": "k"}),
        range_key=None,
        attrs={
            "pk": {"S": "k"},
            "b": {"N": "1"},
            "a": {"L": [{"S": "0"}, {"S": "1"}, {"S": "2"}, {"S": "3"}]},
            "m": {"M": {"x": {"L": [{"S": "0"}, {"S": "1"}, {"S": "2"}]}}},
            "s": {"SS": ["s"]},
        },
    )
    trees = []
    for text in texts:
        parsed = expressions.UpdateExpressionParser.make(text)
        validated = UpdateExpressionValidator(
            parsed, {"#a": "a"}, EXPRESSION_VALUES, copy.deepcopy(item), table
        ).validate()
        trees += [parsed, validated, validated.children[-1]]
    assert any(entry[0] == DynamoType.__name__ for tree in trees for entry in _graph(tree))

    ours = [copy.deepcopy(tree) for tree in trees]
    clauses = [
        [ast_nodes.UpdateExpressionSetAction],
        [ast_nodes.UpdateExpressionAddClause, ast_nodes.UpdateExpressionRemoveAction],
        [
            ast_nodes.ExpressionAttributeValue,
            ast_nodes.ExpressionAttributeName,
            ast_nodes.ExpressionAttribute,
        ],
    ]

    def found(tree, types) -> list:
        return [_graph(clause) for clause in tree.find_clauses(types)]

    our_clauses = [found(tree, types) for tree in trees for types in clauses]
    monkeypatch.delattr(node, "__deepcopy__")
    monkeypatch.setattr(node, "find_clauses", node.find_clauses.original)
    theirs = [copy.deepcopy(tree) for tree in trees]
    assert [_graph(t) for t in ours] == [_graph(t) for t in theirs]
    assert our_clauses == [found(tree, types) for tree in trees for types in clauses]
    assert any(our_clauses)
    for tree, copied in zip(trees, ours, strict=True):
        assert not _objects(tree) & _objects(copied)  # nothing shared with the original


def test_moto_s_server_lists_its_modules_as_moto_does() -> None:
    from moto import backends

    install()
    listing = backends.list_of_moto_modules
    assert list(listing()) == list(listing.original()) and "dynamodb" in listing()


def test_a_kms_key_s_private_key_is_made_when_first_used_and_signs_as_moto_s() -> None:
    """`sandbox.moto_kms`: creating keys generates no private key; Sign and Verify answer as
    moto's do; an asymmetric key keeps one key pair across calls; a replica signs with its
    primary's key, as with moto's eager keys."""
    from unittest import mock

    from moto.kms import utils

    install()
    with mock_aws(), mock.patch.object(utils, "RSAPrivateKey", wraps=utils.RSAPrivateKey) as generated:
        kms = boto3.client("kms", region_name=REGION)
        kms.create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")
        kms.create_key()  # SYMMETRIC_DEFAULT
        signing = kms.create_key(KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY", MultiRegion=True)["KeyMetadata"]
        assert generated.call_count == 0
        public = kms.get_public_key(KeyId=signing["KeyId"])["PublicKey"]
        signed = kms.sign(KeyId=signing["KeyId"], Message=b"m", SigningAlgorithm="RSASSA_PKCS1_V1_5_SHA_256")[
            "Signature"
        ]
        assert generated.call_count == 1
        assert kms.get_public_key(KeyId=signing["KeyId"])["PublicKey"] == public
        verify = {"Message": b"m", "Signature": signed, "SigningAlgorithm": "RSASSA_PKCS1_V1_5_SHA_256"}
        assert kms.verify(KeyId=signing["KeyId"], **verify)["SignatureValid"]
        try:  # AWS answers KMSInvalidSignatureException; moto 5.2 answers SignatureValid false
            forged = kms.verify(KeyId=signing["KeyId"], **{**verify, "Message": b"other"})["SignatureValid"]
        except kms.exceptions.KMSInvalidSignatureException:
            forged = False
        assert forged is False
        fresh = kms.create_key(KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY", MultiRegion=True)["KeyMetadata"]
        replica = kms.replicate_key(KeyId=fresh["KeyId"], ReplicaRegion="eu-west-1")["ReplicaKeyMetadata"]
        there = boto3.client("kms", region_name="eu-west-1")
        assert (
            there.get_public_key(KeyId=replica["KeyId"])["PublicKey"]
            == kms.get_public_key(KeyId=fresh["KeyId"])["PublicKey"]
        )
        assert generated.call_count == 2


def test_responses_are_serialized_as_moto_s_own_serializer_does(monkeypatch) -> None:
    """`sandbox.moto_serializer`: the same reads of several services, answered with the remembered
    member names and then with moto's own look-up, give the same bytes. The reads cover plain-dict
    results (DynamoDB items with every attribute type), moto's model objects with their aliases
    (KMS keys, S3 objects, Cognito pools), XML, JSON and query protocols."""
    from moto.core import serialize

    install()
    patched = serialize.ResponseSerializer.get_value
    assert getattr(patched, "_vendstack", False) and patched.original is not patched
    with mock_aws():
        clients = {
            name: boto3.client(name, region_name=REGION)
            for name in ("dynamodb", "kms", "s3", "sqs", "cognito-idp", "iam")
        }
        ddb, kms, s3 = clients["dynamodb"], clients["kms"], clients["s3"]
        ddb.create_table(
            TableName="t",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        item = {
            "pk": {"S": "a"},
            "n": {"N": "1.5"},
            "b": {"B": b"\x00\xff"},
            "ss": {"SS": ["x", "y"]},
            "ns": {"NS": ["1", "2"]},
            "bs": {"BS": [b"\x01"]},
            "m": {"M": {"inner": {"L": [{"S": "z"}, {"BOOL": True}, {"NULL": True}]}}},
        }
        ddb.put_item(TableName="t", Item=item)
        key = kms.create_key(Description="k", Tags=[{"TagKey": "a", "TagValue": "b"}])["KeyMetadata"]["KeyId"]
        s3.create_bucket(Bucket="bucket-one")
        s3.put_object(Bucket="bucket-one", Key="k", Body=b"x", Metadata={"m": "v"})
        queue = clients["sqs"].create_queue(QueueName="q", Attributes={"DelaySeconds": "1"})["QueueUrl"]
        pool = clients["cognito-idp"].create_user_pool(PoolName="p")["UserPool"]["Id"]
        clients["iam"].create_role(
            RoleName="r", AssumeRolePolicyDocument="{}", Tags=[{"Key": "k", "Value": "v"}]
        )
        reads = [
            (ddb, "get_item", {"TableName": "t", "Key": {"pk": {"S": "a"}}}),
            (ddb, "scan", {"TableName": "t"}),
            (ddb, "describe_table", {"TableName": "t"}),
            (kms, "describe_key", {"KeyId": key}),
            (kms, "list_resource_tags", {"KeyId": key}),
            (s3, "list_objects_v2", {"Bucket": "bucket-one"}),
            (s3, "head_object", {"Bucket": "bucket-one", "Key": "k"}),
            (clients["sqs"], "get_queue_attributes", {"QueueUrl": queue, "AttributeNames": ["All"]}),
            (clients["cognito-idp"], "describe_user_pool", {"UserPoolId": pool}),
            (clients["iam"], "get_role", {"RoleName": "r"}),
        ]

        def answers() -> list[bytes]:
            bodies: list[bytes] = []

            def capture(response_dict, **_) -> None:
                bodies.append(_without_request_ids(response_dict["body"]))

            for client, operation, params in reads:
                client.meta.events.register("before-parse.*.*", capture)
                getattr(client, operation)(**params)
                client.meta.events.unregister("before-parse.*.*", capture)
            assert len(bodies) == len(reads)
            return bodies

        remembered = answers()
        again = answers()  # the second pass reads the remembered names
        monkeypatch.setattr(serialize.ResponseSerializer, "get_value", patched.original)
        assert remembered == again == answers()
        assert b'"B": "AP8="' in remembered[0] and b"<Key>k</Key>" in remembered[5]


def _without_request_ids(body: bytes) -> bytes:
    import re

    return re.sub(rb"<RequestId>[^<]*</RequestId>", b"", body)
