"""The route map (`license_tokens.routes`) finds a route's entitlement for routes with path
parameters: API Gateway's events carry the resource's path template (`resource`), so
`"GET /items/{id}"` applies to `/items/42`. Before, the map matched exact paths only, and a
parameterised route's entitlement was never required (any valid token passed)."""

from __future__ import annotations

import json

import pytest

from customer_stack.solution import entitlement
from tests.aws_fixtures import AWS_FIXTURES

ROUTES = {
    "GET /items/{id}": "premium",
    "POST /analyze": "analysis",
    "ANY /files/{path+}": "storage",
    "GET /items/special": "requests",
}


def _event(name: str) -> dict:
    return json.loads((AWS_FIXTURES / name).read_text())


@pytest.mark.parametrize(
    "fixture", ["apigw-authorizer-request-event.json", "apigw-rest-proxy-event-cognito.json"]
)
def test_the_documented_events_find_a_parameterised_route(fixture: str) -> None:
    event = _event(fixture)
    assert (event["resource"], event["path"].removeprefix("/prod")) == ("/items/{id}", "/items/42")
    assert entitlement.needed(ROUTES, {**event, "httpMethod": "GET"}) == "premium"
    assert entitlement.needed(ROUTES, {**event, "httpMethod": "DELETE"}) is None


@pytest.mark.parametrize(
    ("method", "resource", "path", "expected"),
    [
        ("GET", "/items/special", "/items/special", "requests"),  # its own resource wins
        ("POST", "/analyze", "/analyze/", "analysis"),
        ("POST", "/{proxy+}", "/analyze", "analysis"),  # a greedy proxy: the path decides
        ("PUT", "/files/{path+}", "/files/a/b.txt", "storage"),
        ("GET", "/other", "/other", None),
        ("GET", "/", "/", None),
    ],
)
def test_the_resource_template_then_the_path(method: str, resource: str, path: str, expected) -> None:
    assert entitlement.needed(ROUTES, {"httpMethod": method, "resource": resource, "path": path}) == expected


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("GET", "/items/42", "premium"),
        ("GET", "/items/42/", "premium"),
        ("GET", "/items/42/more", None),  # one segment only
        ("GET", "/items/", None),
        ("DELETE", "/files/x", "storage"),
        ("GET", "/files", None),
        ("GET", "/items/special", "requests"),  # an exact route beats a template
    ],
)
def test_without_resource_the_path_is_matched_against_templates(method: str, path: str, expected) -> None:
    assert entitlement.needed(ROUTES, {"httpMethod": method, "path": path}) == expected


def test_a_template_segment_is_not_a_regular_expression() -> None:
    routes = {"GET /a.b/{id}": "premium"}
    assert entitlement.needed(routes, {"httpMethod": "GET", "path": "/a.b/1"}) == "premium"
    assert entitlement.needed(routes, {"httpMethod": "GET", "path": "/axb/1"}) is None
