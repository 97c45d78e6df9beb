"""Hostile request bodies answer 4xx with the contract's error shape, never 5xx, on every route of
the deployed template, through the sandbox (issue 9, item 6).

Property-based (hypothesis): each route of the synthesized vendor template (read from the template,
so a new route is covered without editing this file) gets generated hostile bodies: nesting past
any sane depth, integers of thousands of digits, bytes that are not UTF-8, NUL characters, lone
surrogates, duplicate keys, NaN. Developer routes carry a valid Cognito ID token and license
routes a correct VS1 signature, so the body really is parsed by the function. Routes that take
no body (GET, DELETE) refuse one with 400 (`shared.http.refuse_body_on_reads`).

Bytes that are not UTF-8 reach the function as API Gateway would pass them (replaced by U+FFFD,
see sandbox/gateway.py), so on a signed route they no longer match the signature: 401
SignatureDoesNotMatch, as on AWS.
"""

from __future__ import annotations

import json
import sys
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import quote, urlencode

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from hypothesis import given, settings
from hypothesis import strategies as st

from sandbox.gateway import routes_from_template
from tests.plugins import ROOT
from tests.plugins.hypothesis_profiles import examples

sys.path.insert(0, str(ROOT / "runtime"))
from shared.signing import sign_request  # noqa: E402 - the one signing module

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.xdist_group("sandbox"),
    pytest.mark.slow(reason="generated hostile bodies on every route of the vendor template"),
]
PASSWORD = "Hostile-e2e-Passw0rd!"
PATH_VALUES = {
    "access_key": "VSAKAAAAAAAAAAAAAAAA",
    "activation_id": "act-0000000000000000",
    "team_id": "team-0000",
    "invitation_id": "inv-aaaaaaaaaaaaaaaaaaaaaaaaaa",
    "sub": "00000000-0000-4000-8000-000000000000",
}
# The sandbox is shared by every e2e test: keep this modest (CI searches more than a local run).
EXAMPLES_PER_ROUTE = examples(ci=6, local=2)
QUERY_EXAMPLES_PER_ROUTE = examples(ci=3, local=1)

scalars = st.none() | st.booleans() | st.integers(-(10**6), 10**6) | st.text(max_size=12)
values = st.recursive(
    scalars,
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=6), c, max_size=3),
    max_leaves=8,
)


@st.composite
def hostile_bodies(draw: st.DrawFn) -> bytes:
    """A body a well-behaved client never sends, built around a random JSON value."""
    inner = json.dumps(draw(values))
    kind = draw(st.sampled_from(["deep", "digits", "utf8", "nul", "surrogate", "duplicate", "nan"]))
    if kind == "deep":
        depth = draw(st.integers(40, 5000))
        return ('{"records":' + "[" * depth + inner + "]" * depth + "}").encode()
    if kind == "digits":
        digits = draw(st.integers(40, 20_000))
        return ('{"records":[{"id":"r","quantity":' + "9" * digits + '}],"x":' + inner + "}").encode()
    if kind == "utf8":
        bad = draw(st.sampled_from([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80", b"\x80"]))
        return b'{"label":"' + bad + b'","x":' + inner.encode() + b"}"
    if kind == "nul":
        return ('{"label":"a\\u0000b","stack_id":"\\u0000","x":' + inner + "}").encode()
    if kind == "surrogate":
        return ('{"registration_token":"\\ud800","x":' + inner + "}").encode()
    if kind == "duplicate":
        key = draw(st.sampled_from(["records", "label", "expires_at", "registration_token", "stack_id"]))
        return ('{"' + key + '":' + inner + ',"' + key + '":' + inner + "}").encode()
    return ('{"records":[{"quantity":NaN}],"x":' + inner + "}").encode()


@pytest.fixture(scope="module")
def caller(api, sandbox) -> dict:
    email = f"hostile-{uuid.uuid4().hex[:8]}@example.com"
    assert api.call("POST", "/_sandbox/users", {"email": email, "password": PASSWORD})[0] == 201
    status, token, _ = api.call("POST", "/_sandbox/tokens", {"email": email, "password": PASSWORD})
    assert status == 200
    bearer = {"Authorization": f"Bearer {token['id_token']}"}
    expires = (datetime.now(UTC) + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    status, key, _ = api.call("POST", "/v1/keys", {"label": "hostile", "expires_at": expires}, headers=bearer)
    assert status == 201, key
    return {
        "bearer": bearer,
        "key": key,
        "operator": sandbox["admin_credentials"],
        "base": sandbox["api_url"],
    }


def _routes(vendor_template: dict) -> list:
    return list(routes_from_template(vendor_template))


def _send(api, caller: dict, route, body: bytes, query: tuple = ()):
    path = route.path
    for name, value in PATH_VALUES.items():
        path = path.replace("{" + name + "}", value)
    assert "{" not in path, f"add a value for the path parameter of {route.path}"
    url = path + (f"?{urlencode(query, quote_via=quote)}" if query else "")
    if route.iam:  # admin routes: SigV4 by the sandbox's operator, so the function parses the body
        operator = caller["operator"]
        request = AWSRequest(method=route.method, url=caller["base"] + url, data=body)
        credentials = Credentials(operator["aws_access_key_id"], operator["aws_secret_access_key"])
        SigV4Auth(credentials, "execute-api", "us-east-1").add_auth(request)
        headers = dict(request.headers.items())
    elif route.authorizer_pool:
        headers = dict(caller["bearer"])
    else:  # license routes verify it; public routes ignore it
        access_key, secret_key = caller["key"]["access_key"], caller["key"]["secret_key"]
        headers = sign_request(access_key, secret_key, route.method, path, query, body)
    return api.call(route.method, url, headers=headers, raw=body)


query_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)
hostile_queries = st.lists(
    st.tuples(
        st.sampled_from(["from", "to", "limit", "next", "x"]),
        query_text | st.integers(40, 6000).map(lambda n: "9" * n) | st.just("\x00") | st.just("2026-13-45"),
    ),
    min_size=1,
    max_size=3,
).map(tuple)


def test_every_route_of_the_template_is_covered(vendor_template):
    routes = {(r.method, r.path) for r in _routes(vendor_template)}
    assert {("POST", "/v1/usage"), ("POST", "/v1/activations"), ("POST", "/v1/keys")} <= routes
    assert ("POST", "/v1/marketplace/registrations") in routes


def _property_for(api, caller: dict, route):
    """The property for one route, as a hypothesis test (a fresh one per route)."""
    secrets = (
        caller["key"]["secret_key"],
        caller["bearer"]["Authorization"].split()[-1],
        caller["operator"]["aws_secret_access_key"],
    )

    @settings(max_examples=EXAMPLES_PER_ROUTE, database=None)
    @given(body=hostile_bodies())
    def check(body: bytes) -> None:
        status, answer, _ = _send(api, caller, route, body)
        where = f"{route.method} {route.path}: {status} {answer}"
        assert 400 <= status < 500, where
        assert isinstance(answer, dict) and set(answer) == {"error"}, where
        error = answer["error"]
        assert isinstance(error.get("code"), str) and isinstance(error.get("message"), str), where
        assert not any(s in error["message"] for s in secrets), where

    return check


def test_hostile_bodies_answer_4xx_with_the_error_shape_on_every_route(api, caller, vendor_template):
    for route in _routes(vendor_template):
        _property_for(api, caller, route)()


def _query_property_for(api, caller: dict, route):
    body = b"{}" if route.method in ("POST", "PUT", "PATCH") else b""

    @settings(max_examples=QUERY_EXAMPLES_PER_ROUTE, database=None)
    @given(query=hostile_queries)
    def check(query: tuple) -> None:
        status, answer, _ = _send(api, caller, route, body, query)
        where = f"{route.method} {route.path}?{query}: {status} {answer}"
        assert status < 500, where
        if status >= 400:
            assert isinstance(answer, dict) and set(answer) == {"error"}, where

    return check


def test_hostile_query_strings_never_answer_5xx(api, caller, vendor_template):
    """Query values (NUL, thousands of digits, any text) on every route: a 4xx with the error
    shape, or the route's normal answer where it ignores its query; never 5xx."""
    for route in _routes(vendor_template):
        _query_property_for(api, caller, route)()
